package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.testing.LineClient;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable jar as an operator starts it: {@code java -jar mailserver.jar} in an empty
 * directory, with ports moved to ephemeral ones through environment variables.
 */
class LauncherIT {

  static final Pattern DEMO_PASSWORD = Pattern.compile("(?i)password\\W+(\\S+)\\s*$");

  @TempDir
  Path workDir;
  final List<JarProcess> processes = new ArrayList<>();

  @AfterEach
  void kill() throws Exception {
    for (JarProcess p : processes) {
      p.close();
    }
  }

  private JarProcess start(Map<String, String> env) throws Exception {
    JarProcess p = JarProcess.start("launcher", workDir, env);
    processes.add(p);
    return p;
  }

  private static String demoPassword(JarProcess run) {
    for (String l : run.out) {
      Matcher m = DEMO_PASSWORD.matcher(l);
      if (m.find() && !l.contains("demo@")) {
        return m.group(1);
      }
    }
    throw new AssertionError("no demo password in output:\n" + run.text());
  }

  static int httpStatus(int port, String path) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }

  @Test
  void startsOnDefaultsCreatesDemoAccountOnceAndServesMail() throws Exception {
    JarProcess first = start(JarProcess.ephemeralEnv());
    assertThat(first.text()).contains("demo@example.test");
    // The jar must carry Netty's epoll library and load it where it exists (Linux x86-64); else
    // the NIO fallback would go unnoticed and only the benchmarks would get slower.
    boolean epollHost = System.getProperty("os.name").equals("Linux")
        && List.of("amd64", "x86_64").contains(System.getProperty("os.arch"));
    assertThat(first.text()).contains(epollHost ? "I/O transport: native (epoll)" : "I/O transport: NIO");
    String password = demoPassword(first);
    assertThat(Files.isDirectory(workDir.resolve("data"))).isTrue();
    assertThat(Files.readString(workDir.resolve("data/accounts.json"))).doesNotContain(password);
    assertThat(httpStatus(first.port("management"), ManagementServer.LIVEZ)).isEqualTo(200);
    assertThat(httpStatus(first.port("management"), ManagementServer.READYZ)).isEqualTo(200);

    try (LineClient c = new LineClient("127.0.0.1", first.port("SMTP"))) {
      assertThat(c.smtp()).startsWith("220 mail.example.test");
      c.send("EHLO it.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<it@elsewhere.test>");
      c.smtp();
      c.send("RCPT TO:<demo@example.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("DATA");
      c.smtp();
      c.send("Subject: launcher\r\n\r\nhello from the jar\r\n.");
      assertThat(c.smtp()).startsWith("250 2.0.0");
      c.send("QUIT");
    }

    // A clean stop (SIGTERM runs the shutdown hook), then a second start in the same directory:
    // the account exists, so no new password is printed, and the mail is still there.
    first.terminate();
    assertThat(first.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    JarProcess second = start(JarProcess.ephemeralEnv());
    assertThat(second.text()).doesNotContain("created a demo account").doesNotContain(password);
    assertThat(second.out).noneMatch(l -> l.matches("(?i)\\s*password:.*"));
    try (LineClient p = new LineClient("127.0.0.1", second.port("POP3"))) {
      assertThat(p.readLine()).startsWith("+OK");
      p.send("USER demo@example.test");
      p.readLine();
      p.send("PASS " + password);
      assertThat(p.readLine()).startsWith("+OK");
      p.send("STAT");
      assertThat(p.readLine()).startsWith("+OK 1 ");
      p.send("QUIT");
    }
  }

  @Test
  void smtpAloneAnswers451AndIsNotReadyUntilAMailstoreAppears() throws Exception {
    JarProcess smtp = JarProcess.start("smtp-alone", workDir, Map.of("MAIL_SMTP_HOST", "127.0.0.1", "MAIL_SMTP_PORT", "0",
        "MAIL_MANAGEMENT_HOST", "127.0.0.1", "MAIL_MANAGEMENT_PORT", "0", "MAIL_SMTP_STORE_TIMEOUT_MS", "2000"),
        "--roles", "smtp");
    processes.add(smtp);
    assertThat(httpStatus(smtp.port("management"), ManagementServer.LIVEZ)).isEqualTo(200);
    assertThat(httpStatus(smtp.port("management"), ManagementServer.READYZ)).isEqualTo(503);
    try (LineClient c = new LineClient("127.0.0.1", smtp.port("SMTP"))) {
      assertThat(c.smtp()).startsWith("220");
      c.send("EHLO it.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<it@elsewhere.test>");
      c.smtp();
      c.send("RCPT TO:<demo@example.test>");
      assertThat(c.smtp()).startsWith("451 4.3.0");
    }
  }

  private record Result(int exit, String stdout, String stderr) {}

  private Result runToEnd(Map<String, String> env, String... args) throws Exception {
    Process p = JarProcess.builder(workDir, env, List.of(args)).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @Test
  void missingConfigFileIsOneClearLine() throws Exception {
    Result r = runToEnd(JarProcess.ephemeralEnv(), "--config", "nope.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).isEqualTo("mailserver: config file not found: nope.json");
  }

  @Test
  void unknownKeyAndBadPortAreOneClearLine() throws Exception {
    Files.writeString(workDir.resolve("c.json"), "{\"smtp\": {\"port\": 99999}}");
    // No MAIL_* overrides here: the environment would win over the file's bad port.
    Result r = runToEnd(Map.of(), "--config", "c.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).startsWith("mailserver: config key 'smtp.port' must be a port").doesNotContain("\n");

    Files.writeString(workDir.resolve("d.json"), "{\"smtpp\": {}}");
    r = runToEnd(Map.of(), "--config", "d.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).startsWith("mailserver: unknown config key 'smtpp'").doesNotContain("\n");

    r = runToEnd(Map.of(), "--roles", "imap");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).startsWith("mailserver: unknown role 'imap'");
  }

  @Test
  void portInUseStopsStartupWithOneLine() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Map<String, String> env = new HashMap<>(JarProcess.ephemeralEnv());
      env.put("MAIL_SMTP_PORT", String.valueOf(busy.getLocalPort()));
      Result r = runToEnd(env);
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.stderr().strip()).startsWith("mailserver: cannot start: smtp: cannot listen").doesNotContain("\n");
    }
  }
}
