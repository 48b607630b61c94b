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
