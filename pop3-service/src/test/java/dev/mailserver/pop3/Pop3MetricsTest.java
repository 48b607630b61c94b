package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static dev.mailserver.pop3.TestServer.BOB;
import static dev.mailserver.pop3.TestServer.BOB_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.metrics.LogCapture;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.testing.LineClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The meters and the session-end log line after real dialogues against the fake store. */
class Pop3MetricsTest {

  static final String M1 = "From: bob@example.test\r\nSubject: first\r\n\r\nHello Alice\r\n";
  static final String M2 = "From: carol@example.test\r\nSubject: second\r\n\r\nline one\r\nline two\r\n";
  static final String M2_HEADERS = "From: carol@example.test\r\nSubject: second\r\n\r\n";

  TestServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Each TestServer has its own Vert.x, hence its own registry. */
  MeterRegistry registry() {
    return Meters.registry(server.vertx);
  }

  double count(String name, String... tags) {
    Counter c = registry().find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  Map<String, Double> byTag(String name, String tag) {
    Map<String, Double> out = new TreeMap<>();
    for (Counter c : registry().find(name).counters()) {
      if (c.count() > 0) {
        out.put(c.getId().getTag(tag), c.count());
      }
    }
    return out;
  }

  void awaitEnded(String outcome, int n) {
    await().atMost(Duration.ofSeconds(5)).until(() -> count(Pop3Metrics.SESSIONS_ENDED, "outcome", outcome) == n);
  }

  static String reply(LineClient c, String command) throws Exception {
    c.send(command);
    return c.readLine();
  }

  @Test
  void loginsRetrievalsAndDeletionsAreCountedAndThePasswordNeverLogged() throws Exception {
    String wrong = "Wr0ng-Pa55word";
    try (LogCapture logs = LogCapture.mailserverAllLevels()) {
      server = TestServer.start();
      server.put(ALICE, M1);
      server.put(ALICE, M2);
      try (LineClient c = server.connect()) {
        assertThat(registry().get(Pop3Metrics.SESSIONS_ACTIVE).gauge().value()).isEqualTo(1.0);
        assertThat(reply(c, "USER " + ALICE)).startsWith("+OK");
        assertThat(reply(c, "PASS " + wrong)).startsWith("-ERR [AUTH]");
        assertThat(reply(c, "USER " + ALICE)).startsWith("+OK");
        assertThat(reply(c, "PASS " + ALICE_PASSWORD)).startsWith("+OK maildrop has 2 messages");
        assertThat(reply(c, "RETR 1")).startsWith("+OK");
        assertThat(LineClient.unstuff(c.readPop3MultiLineRaw())).hasSize(M1.length());
        assertThat(reply(c, "TOP 2 0")).startsWith("+OK");
        assertThat(LineClient.unstuff(c.readPop3MultiLineRaw())).hasSize(M2_HEADERS.length());
        assertThat(reply(c, "DELE 1")).startsWith("+OK");
        assertThat(reply(c, "QUIT")).startsWith("+OK");
        assertThat(c.isClosedByServer()).isTrue();
      }
      awaitEnded("quit", 1);

      assertThat(count(Pop3Metrics.SESSIONS)).isEqualTo(1);
      assertThat(registry().get(Pop3Metrics.SESSIONS_ACTIVE).gauge().value()).isZero();
      assertThat(byTag(Pop3Metrics.LOGINS, "result")).containsExactly(Map.entry("auth", 1.0), Map.entry("success", 1.0));
      assertThat(count(Pop3Metrics.LOCK_CONFLICTS)).isZero();
      assertThat(byTag(Pop3Metrics.RETRIEVALS, "command")).containsExactly(Map.entry("retr", 1.0), Map.entry("top", 1.0));
      assertThat(count(Pop3Metrics.RETRIEVED, "command", "retr")).isEqualTo(M1.length());
      assertThat(count(Pop3Metrics.RETRIEVED, "command", "top")).isEqualTo(M2_HEADERS.length());
      assertThat(count(Pop3Metrics.DELETIONS)).isEqualTo(1);
      assertThat(server.store.messages(ALICE)).hasSize(1);

      await().atMost(Duration.ofSeconds(5)).until(() -> !logs.messagesStartingWith("pop3 session end").isEmpty());
      assertThat(logs.messagesStartingWith("pop3 session end")).singleElement().asString()
          .matches("pop3 session end client=127\\.0\\.0\\.1 user=alice@example\\.test outcome=quit duration_ms=\\d+"
              + " auth_failures=1 retr=1 top=1 dele=1 bytes=" + (M1.length() + M2_HEADERS.length()));
      List<String> lines = logs.lines();
      // DEBUG lines were captured too (the login line), so the check below saw every level.
      assertThat(lines).anyMatch(l -> l.startsWith("DEBUG POP3 login alice@example.test"));
      assertThat(lines).noneMatch(l -> l.contains(wrong) || l.contains(ALICE_PASSWORD));
    }
  }

  @Test
  void lockConflictsAndTemporaryFailuresAreCounted() throws Exception {
    try (LogCapture logs = LogCapture.mailserver()) {
      server = TestServer.start();
      LineClient holder = server.loginAlice();
      try (LineClient second = server.connect()) {
        assertThat(reply(second, "USER " + ALICE)).startsWith("+OK");
        assertThat(reply(second, "PASS " + ALICE_PASSWORD)).startsWith("-ERR [IN-USE]");
        server.store.failNext(MailstoreError.STORAGE_FAILURE);
        assertThat(reply(second, "USER " + BOB)).startsWith("+OK");
        assertThat(reply(second, "PASS " + BOB_PASSWORD)).startsWith("-ERR [SYS/TEMP]");
        assertThat(reply(second, "QUIT")).startsWith("+OK");
      }
      awaitEnded("quit", 1);
      holder.close();
      awaitEnded("disconnect", 1);

      assertThat(count(Pop3Metrics.LOCK_CONFLICTS)).isEqualTo(1);
      assertThat(byTag(Pop3Metrics.LOGINS, "result"))
          .containsExactly(Map.entry("in_use", 1.0), Map.entry("success", 1.0), Map.entry("temp", 1.0));
      assertThat(registry().get(Pop3Metrics.SESSIONS_ACTIVE).gauge().value()).isZero();
      await().atMost(Duration.ofSeconds(5)).until(() -> logs.messagesStartingWith("pop3 session end").size() == 2);
      List<String> ends = logs.messagesStartingWith("pop3 session end");
      // Not logged in: no user, whatever USER said.
      assertThat(ends.get(0)).contains(" user=- outcome=quit ").contains(" auth_failures=0 ");
      assertThat(ends.get(1)).contains(" user=alice@example.test outcome=disconnect ");
    }
  }

  @Test
  void idleTimeoutAndShutdownAreTheirOwnOutcomes() throws Exception {
    try (LogCapture logs = LogCapture.mailserver()) {
      server = TestServer.start(new JsonObject().put("idleTimeoutSeconds", 1), true);
      try (LineClient idle = server.loginAlice()) {
        assertThat(idle.isClosedByServer()).isTrue();
      }
      awaitEnded("timeout", 1);
      LineClient open = server.connect();
      server.undeploy();
      assertThat(open.readLine()).startsWith("-ERR [SYS/TEMP] server shutting down");
      open.close();
      awaitEnded("shutdown", 1);
      assertThat(byTag(Pop3Metrics.SESSIONS_ENDED, "outcome")).containsExactly(
          Map.entry("shutdown", 1.0), Map.entry("timeout", 1.0));
      await().atMost(Duration.ofSeconds(5)).until(() -> logs.messagesStartingWith("pop3 session end").size() == 2);
      assertThat(logs.messagesStartingWith("pop3 session end").get(0)).contains(" user=alice@example.test outcome=timeout ");
    }
  }
}
