package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's session: curl's smtp:// sends, curl's pop3:// reads back the same bytes. */
class CurlInteropTest {

  @TempDir
  static Path dir;
  static MailServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(curlAvailable(), "curl is not installed");
    // As the README runs it: POP3 logins only under TLS (STLS), a self-signed certificate.
    var config = EmbeddedEndToEndTest.testConfig(dir.resolve("data"));
    config.getJsonObject("pop3").put("allowPlaintextAuth", false);
    server = MailServer.start(config, List.of(Main.Role.values()));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  static boolean curlAvailable() {
    try {
      return new ProcessBuilder("curl", "--version").redirectErrorStream(true).start().waitFor() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  static byte[] curl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "--silent", "--show-error", "--max-time", "20"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    p.getInputStream().transferTo(out);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("curl " + String.join(" ", args) + ": " + err).isZero();
    return out.toByteArray();
  }

  @Test
  void plaintextPop3LoginIsRefusedWithoutTls() throws Exception {
    Process p = new ProcessBuilder("curl", "--silent", "--max-time", "20", "pop3://127.0.0.1:" + server.pop3Port() + "/1",
        "--user", "alice@example.test:alice-pw").start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("curl must fail to log in without TLS").isNotZero();
  }

  @Test
  void curlSendsAndReadsBackTheSameBytes() throws Exception {
    String body = "From: curl@elsewhere.test\r\nTo: alice@example.test\r\nSubject: via curl\r\n\r\n"
        + "Hello over smtp://\r\n.a line with a leading dot\r\nbye\r\n";
    Path msg = dir.resolve("msg.eml");
    Files.writeString(msg, body, StandardCharsets.UTF_8);
    curl("smtp://127.0.0.1:" + server.smtpPort() + "/client.example.test",
        "--mail-from", "curl@elsewhere.test", "--mail-rcpt", "alice@example.test", "--upload-file", msg.toString());

    byte[] got = curl("--ssl-reqd", "--insecure", "pop3://127.0.0.1:" + server.pop3Port() + "/1", "--user", "alice@example.test:alice-pw");
    assertThat(new String(EmbeddedEndToEndTest.belowTraceHeaders(got), StandardCharsets.UTF_8)).isEqualTo(body);

    byte[] list = curl("--ssl-reqd", "--insecure", "pop3://127.0.0.1:" + server.pop3Port() + "/", "--user", "alice@example.test:alice-pw");
    assertThat(new String(list, StandardCharsets.US_ASCII)).startsWith("1 " + got.length);
  }
}
