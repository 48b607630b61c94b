package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class Pop3VerticleTest {

  @Test
  void listensOnEphemeralPortAndLogsIt() throws IOException {
    Logger logger = (Logger) LoggerFactory.getLogger(Pop3Verticle.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try (TestServer server = TestServer.start()) {
      assertThat(server.port).isPositive();
      // TestServer turns POP3S off (pop3sPort -1).
      assertThat(server.verticle.actualPop3sPort()).isEqualTo(-1);
      assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
          .contains("POP3 listening on 127.0.0.1:" + server.port);
      try (LineClient c = new LineClient("127.0.0.1", server.port)) {
        assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server ready");
      }
    } finally {
      logger.detachAppender(appender);
    }
  }

  @Test
  void badConfigFailsTheDeployment() {
    Vertx vertx = Vertx.vertx();
    try {
      JsonObject cfg = new JsonObject().put("pop3", new JsonObject().put("port", 70000));
      assertThatThrownBy(() -> vertx.deployVerticle(new Pop3Verticle(), new DeploymentOptions().setConfig(cfg)).await())
          .hasMessageContaining("pop3.port");
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void isListeningBetweenListenAndStop() {
    Pop3Verticle fresh = new Pop3Verticle();
    assertThat(fresh.isListening()).isFalse();
    try (TestServer server = TestServer.start()) {
      assertThat(server.verticle.isListening()).isTrue();
      server.undeploy();
      assertThat(server.verticle.isListening()).isFalse();
    }
  }

  @Test
  void failedListenIsNotListening() {
    try (TestServer first = TestServer.start()) {
      Pop3Verticle second = new Pop3Verticle();
      JsonObject cfg = new JsonObject().put("pop3", new JsonObject().put("host", "127.0.0.1").put("port", first.port)
          .put("pop3sPort", -1));
      // Vert.x shares a port between servers of one Vert.x instance, so bind from another one.
      Vertx other = Vertx.vertx();
      try {
        assertThatThrownBy(() -> other.deployVerticle(second, new DeploymentOptions().setConfig(cfg)).await());
        assertThat(second.isListening()).isFalse();
      } finally {
        other.close().await();
      }
    }
  }

  /**
   * Graceful stop: an idle logged-in session with DELE marks is told -ERR [SYS/TEMP] and closed
   * without UPDATE (RFC 1939 section 6: deletions only follow the client's QUIT); its lease is
   * released; an idle session still in AUTHORIZATION gets the same; no new connections.
   */
  @Test
  void stopTellsOpenSessionsClosesThemWithoutUpdateAndReleasesTheirLeases() throws IOException {
    try (TestServer server = TestServer.start()) {
      server.put(ALICE, "Subject: keep me\r\n\r\nbody\r\n");
      try (LineClient c = server.loginAlice(); LineClient anonymous = server.connect()) {
        c.send("DELE 1");
        assertThat(c.readLine()).startsWith("+OK");
        assertThat(server.leaseHolder(ALICE)).isNotNull();
        Duration took = server.undeploy();
        assertThat(took).isLessThan(Duration.ofMillis(Pop3Verticle.SHUTDOWN_GRACE_MS));
        assertThat(c.readLine()).isEqualTo("-ERR [SYS/TEMP] server shutting down");
        assertThat(c.isClosedByServer()).isTrue();
        assertThat(anonymous.readLine()).isEqualTo("-ERR [SYS/TEMP] server shutting down");
        assertThat(anonymous.isClosedByServer()).isTrue();
      }
      assertThat(server.store.messages(ALICE)).hasSize(1);
      // Released by the time undeploy completed, not left to expire.
      assertThat(server.leaseHolder(ALICE)).isNull();
      assertThatThrownBy(() -> new LineClient("127.0.0.1", server.port).close()).isInstanceOf(ConnectException.class);
    }
  }

  /**
   * A command in flight when stop begins is answered first; commands pipelined behind it are not
   * run, so a QUIT queued behind it does not enter UPDATE.
   */
  @Test
  void stopLetsTheCommandInFlightFinishButRunsNothingAfterIt() throws Exception {
    try (TestServer server = TestServer.start()) {
      String m1 = "Subject: one\r\n\r\nfirst\r\n";
      server.put(ALICE, m1);
      server.put(ALICE, "Subject: two\r\n\r\nsecond\r\n");
      try (LineClient c = server.loginAlice()) {
        c.send("DELE 2");
        assertThat(c.readLine()).startsWith("+OK");
        server.store.delayMs = 600;
        c.sendRaw("RETR 1\r\nQUIT\r\n");
        Thread.sleep(150); // RETR is waiting for the store
        var undeployed = server.vertx.undeploy(server.deploymentId);
        assertThat(c.readLine()).isEqualTo("+OK " + m1.length() + " octets");
        assertThat(new String(c.readPop3MultiLineRaw(), StandardCharsets.US_ASCII)).isEqualTo(m1);
        assertThat(c.readLine()).isEqualTo("-ERR [SYS/TEMP] server shutting down");
        assertThat(c.isClosedByServer()).isTrue();
        undeployed.await();
      }
      server.store.delayMs = 0;
      assertThat(server.store.messages(ALICE)).hasSize(2);
      assertThat(server.leaseHolder(ALICE)).isNull();
    }
  }

  /** A command that outlives the grace period does not hold up the stop: the connection is cut. */
  @Test
  void stopIsBoundedByTheGracePeriod() throws Exception {
    try (TestServer server = TestServer.start(new JsonObject(), true, new Pop3Verticle(300))) {
      server.put(ALICE, "Subject: one\r\n\r\nfirst\r\n");
      server.put(ALICE, "Subject: two\r\n\r\nsecond\r\n");
      try (LineClient c = server.loginAlice()) {
        c.send("DELE 2");
        assertThat(c.readLine()).startsWith("+OK");
        server.store.delayMs = 5_000;
        c.send("RETR 1");
        Thread.sleep(100);
        Duration took = server.undeploy();
        assertThat(took).isBetween(Duration.ofMillis(250), Duration.ofMillis(2_500));
        assertThat(c.readLine()).isNull(); // cut off: no reply, and no UPDATE
      }
      assertThat(server.leaseHolder(ALICE)).isNull();
      server.store.delayMs = 0;
      assertThat(server.store.messages(ALICE)).hasSize(2);
    }
  }

  /** No mailstore on the bus: a temporary failure, not a credentials failure (RFC 3206 section 5). */
  @Test
  void unreachableStoreIsSysTemp() throws IOException {
    try (TestServer server = TestServer.start(new JsonObject().put("storeTimeoutMs", 300), false);
         LineClient c = server.connect()) {
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS " + ALICE_PASSWORD);
      assertThat(c.readLine()).startsWith("-ERR [SYS/TEMP] ");
      c.send("STAT");
      assertThat(c.readLine()).isEqualTo("-ERR Command not valid in this state");
    }
  }

  /** A store that answers too late (storeTimeoutMs) is treated as unreachable. */
  @Test
  void slowStoreTimesOutAsSysTemp() throws IOException {
    try (TestServer server = TestServer.start(new JsonObject().put("storeTimeoutMs", 200), true)) {
      server.put(ALICE, "Subject: x\r\n\r\ny\r\n");
      try (LineClient c = server.loginAlice()) {
        server.store.delayMs = 1_000;
        c.send("RETR 1");
        assertThat(c.readLine()).isEqualTo("-ERR [SYS/TEMP] Mailstore unavailable, try again later");
        server.store.delayMs = 0;
        c.send("RETR 1");
        assertThat(c.readLine()).startsWith("+OK");
      }
    }
  }
}
