package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SMTP and POP3 run as several verticle instances (one per event loop) on one set of ports, and
 * the connection limits still hold for the process: 3 instances with a limit of 4 admit 4
 * connections in all, not 12. With TLS on there is one instance of each (in Vert.x 5.0.8 STARTTLS
 * and STLS fail on a shared port's further servers; see {@code MailServer.instancesFor}).
 */
class ProtocolInstancesTest {

  static final int INSTANCES = 3;
  static final int LIMIT = 4;

  @TempDir
  static Path dataDir;
  static MailServer server;

  @BeforeAll
  static void start() throws Exception {
    JsonObject c = EmbeddedEndToEndTest.testConfig(dataDir);
    c.getJsonObject("smtp").put("maxConnections", LIMIT);
    c.getJsonObject("pop3").put("maxConnections", LIMIT);
    c.getJsonObject("tls").put("enabled", false);
    server = MailServer.start(c, List.of(Main.Role.values()), INSTANCES);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void everyInstanceListensOnTheFirstOnesPortsAndAllAreReady() throws Exception {
    assertThat(server.smtpInstanceCount()).isEqualTo(INSTANCES);
    assertThat(server.pop3InstanceCount()).isEqualTo(INSTANCES);
    assertThat(server.smtpPort()).isPositive();
    assertThat(server.pop3Port()).isPositive();
    assertThat(server.describe()).contains(":" + server.smtpPort()).contains(":" + server.pop3Port());
    HttpResponse<String> ready = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.managementPort() + ManagementServer.READYZ)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
  }

  @Test
  void withTlsOnThereIsOneInstanceOfEachSoThatStartTlsWorks(@TempDir Path other) throws Exception {
    try (MailServer tlsOn = MailServer.start(EmbeddedEndToEndTest.testConfig(other), List.of(Main.Role.values()), INSTANCES)) {
      assertThat(tlsOn.smtpInstanceCount()).isEqualTo(1);
      assertThat(tlsOn.pop3InstanceCount()).isEqualTo(1);
      // Several STLS sessions in a row: with a second instance every other one would hang.
      for (int i = 0; i < 4; i++) {
        org.apache.commons.net.pop3.POP3SClient pop = new org.apache.commons.net.pop3.POP3SClient(false);
        pop.setTrustManager(org.apache.commons.net.util.TrustManagerUtils.getAcceptAllTrustManager());
        pop.setDefaultTimeout(10_000);
        pop.connect("127.0.0.1", tlsOn.pop3Port());
        try {
          pop.setSoTimeout(10_000);
          assertThat(pop.execTLS()).as("STLS " + i).isTrue();
          assertThat(pop.login("alice@example.test", "alice-pw")).isTrue();
          assertThat(pop.logout()).isTrue();
        } finally {
          pop.disconnect();
        }
      }
    }
  }

  @Test
  void smtpConnectionLimitIsForTheProcessNotPerInstance() throws Exception {
    assertLimit(server.smtpPort(), "220 ", "421 ");
  }

  @Test
  void pop3ConnectionLimitIsForTheProcessNotPerInstance() throws Exception {
    assertLimit(server.pop3Port(), "+OK", "-ERR [SYS/TEMP]");
  }

  /** 2 x LIMIT connections: exactly LIMIT greeted, the rest refused; once closed, slots are free again. */
  static void assertLimit(int port, String greeting, String refusal) throws Exception {
    List<Socket> sockets = new ArrayList<>();
    List<String> firstLines = new ArrayList<>();
    try {
      for (int i = 0; i < 2 * LIMIT; i++) {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(10_000);
        sockets.add(s);
        // One at a time: the greeting shows the connection was counted before the next one comes.
        firstLines.add(firstLine(s));
      }
      assertThat(firstLines).filteredOn(l -> l.startsWith(greeting)).hasSize(LIMIT);
      assertThat(firstLines).filteredOn(l -> l.startsWith(refusal)).hasSize(LIMIT);
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
    }
    // The slots are given back on whichever instance held them.
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      List<String> again = new ArrayList<>();
      List<Socket> more = new ArrayList<>();
      try {
        for (int i = 0; i < LIMIT; i++) {
          Socket s = new Socket("127.0.0.1", port);
          s.setSoTimeout(10_000);
          more.add(s);
          again.add(firstLine(s));
        }
      } finally {
        for (Socket s : more) {
          s.close();
        }
      }
      assertThat(again).allMatch(l -> l.startsWith(greeting));
    });
  }

  static String firstLine(Socket s) throws IOException {
    String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
    return line == null ? "" : line;
  }
}
