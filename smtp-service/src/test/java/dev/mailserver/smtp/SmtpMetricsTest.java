package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.metrics.LogCapture;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.testing.LineClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The meters and the session-end log line after real dialogues against the fake store. */
class SmtpMetricsTest extends TestSupport {

  SimpleMeterRegistry registry;

  /** The class shares one Vert.x: each test gets a fresh registry before it deploys. */
  @BeforeEach
  void freshRegistry() {
    registry = new SimpleMeterRegistry();
    Meters.bind(vertx, registry);
  }

  double count(String name, String... tags) {
    Counter c = registry.find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  /** Every series of a counter, as tag value -> count. */
  Map<String, Double> byTag(String name, String tag) {
    Map<String, Double> out = new TreeMap<>();
    for (Counter c : registry.find(name).counters()) {
      if (c.count() > 0) {
        out.put(c.getId().getTag(tag), c.count());
      }
    }
    return out;
  }

  void awaitEnded(String outcome) {
    await().atMost(Duration.ofSeconds(5)).until(() -> count(SmtpMetrics.SESSIONS_ENDED, "outcome", outcome) == 1);
  }

  @Test
  void acceptedMessageRejectedRecipientAndAckLatencyAreCounted() throws Exception {
    String body = "Subject: metrics\r\n\r\nHello\r\n";
    try (LogCapture logs = LogCapture.mailserver()) {
      LineClient c = connect(deploy());
      assertThat(registry.get(SmtpMetrics.SESSIONS_ACTIVE).gauge().value()).isEqualTo(1.0);
      assertThat(cmd(c, "EHLO client.example")).isEqualTo(EHLO_LAST);
      assertThat(cmd(c, "MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
      assertThat(cmd(c, "RCPT TO:<nobody@example.test>")).startsWith("550 5.1.1");
      assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("250 2.1.5");
      assertThat(cmd(c, "DATA")).startsWith("354 ");
      c.sendRaw(body + ".\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(cmd(c, "QUIT")).startsWith("221 ");
      assertThat(c.isClosedByServer()).isTrue();
      awaitEnded("quit");

      assertThat(count(SmtpMetrics.SESSIONS)).isEqualTo(1);
      assertThat(registry.get(SmtpMetrics.SESSIONS_ACTIVE).gauge().value()).isZero();
      assertThat(byTag(SmtpMetrics.SESSIONS_ENDED, "outcome")).containsExactly(Map.entry("quit", 1.0));
      assertThat(count(SmtpMetrics.MESSAGES_ACCEPTED)).isEqualTo(1);
      assertThat(registry.get(SmtpMetrics.MESSAGE_SIZE).summary().count()).isEqualTo(1);
      assertThat(registry.get(SmtpMetrics.MESSAGE_SIZE).summary().totalAmount()).isEqualTo(body.length());
      assertThat(byTag(SmtpMetrics.REJECTIONS, "code")).containsExactly(Map.entry("550", 1.0));
      // 220 greeting, EHLO, MAIL, RCPT, queued, 221 | 354 | 550
      assertThat(byTag(SmtpMetrics.REPLIES, "class")).containsExactly(
          Map.entry("2xx", 6.0), Map.entry("3xx", 1.0), Map.entry("5xx", 1.0));
      Timer stored = registry.get(SmtpMetrics.ACK_LATENCY).tag("result", "stored").timer();
      assertThat(stored.count()).isEqualTo(1);
      assertThat(stored.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS)).isPositive();
      assertThat(registry.get(SmtpMetrics.ACK_LATENCY).tag("result", "failed").timer().count()).isZero();

      await().atMost(Duration.ofSeconds(5)).until(() -> !logs.messagesStartingWith("smtp session end").isEmpty());
      assertThat(logs.messagesStartingWith("smtp session end")).singleElement().asString()
          .matches("smtp session end client=127\\.0\\.0\\.1 helo=client\\.example duration_ms=\\d+ messages=1 rcpts=1 bytes="
              + body.length() + " rejects=1 errors=0 outcome=quit");
      assertThat(logs.messagesStartingWith("smtp queued")).singleElement().asString()
          .matches("smtp queued id=[0-9A-Z]{8,20} from=<sender@remote\\.example> rcpts=1 size=" + body.length());
    }
  }

  @Test
  void storeFailureIsAFailedAckAnd451() throws Exception {
    LineClient c = connect(deploy());
    assertThat(cmd(c, "EHLO c")).startsWith("250");
    assertThat(cmd(c, "MAIL FROM:<>")).startsWith("250");
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("250");
    assertThat(cmd(c, "DATA")).startsWith("354");
    store.failNext(MailstoreError.STORAGE_FAILURE);
    c.sendRaw("x\r\n.\r\n");
    assertThat(c.smtp()).startsWith("451 4.3.0");
    c.close();
    awaitEnded("disconnect");
    assertThat(registry.get(SmtpMetrics.ACK_LATENCY).tag("result", "failed").timer().count()).isEqualTo(1);
    assertThat(registry.get(SmtpMetrics.ACK_LATENCY).tag("result", "stored").timer().count()).isZero();
    assertThat(count(SmtpMetrics.MESSAGES_ACCEPTED)).isZero();
    assertThat(byTag(SmtpMetrics.REJECTIONS, "code")).containsExactly(Map.entry("451", 1.0));
  }

  @Test
  void sessionsEndedByErrorsTimeoutAndShutdownAreTold() throws Exception {
    try (LogCapture logs = LogCapture.mailserver()) {
      Deployed d = deployVerticle(new JsonObject().put("idleTimeoutSeconds", 1));
      LineClient noisy = connect(d.port());
      for (int i = 0; i < SmtpHandler.HARD_ERROR_LIMIT - 1; i++) {
        assertThat(cmd(noisy, "WHAT")).startsWith("500");
      }
      assertThat(cmd(noisy, "WHAT")).startsWith("421 4.7.0");
      awaitEnded("too_many_errors");

      LineClient idle = connect(d.port());
      assertThat(idle.smtp()).startsWith("421 4.4.2");
      awaitEnded("timeout");

      LineClient open = connect(d.port());
      assertThat(cmd(open, "HELO h")).startsWith("250");
      undeploy(d).await(10, java.util.concurrent.TimeUnit.SECONDS);
      awaitEnded("shutdown");

      assertThat(count(SmtpMetrics.SESSIONS)).isEqualTo(3);
      assertThat(registry.get(SmtpMetrics.SESSIONS_ACTIVE).gauge().value()).isZero();
      assertThat(byTag(SmtpMetrics.REJECTIONS, "code")).containsExactly(
          Map.entry("421", 3.0), Map.entry("500", (double) SmtpHandler.HARD_ERROR_LIMIT - 1));
      await().atMost(Duration.ofSeconds(5)).until(() -> logs.messagesStartingWith("smtp session end").size() == 3);
      List<String> ends = logs.messagesStartingWith("smtp session end");
      assertThat(ends.get(0)).contains(" helo=- ").contains(" rejects=0 errors=" + SmtpHandler.HARD_ERROR_LIMIT + " ")
          .endsWith(" outcome=too_many_errors");
      assertThat(ends.get(1)).endsWith(" outcome=timeout");
      assertThat(ends.get(2)).contains(" helo=h ").endsWith(" outcome=shutdown");
    }
  }

  /**
   * AUTH command lines and the lines of an AUTH exchange carry credentials (RFC 4954 section 4:
   * base64, trivially decoded). With every level enabled, no captured line may contain them,
   * whether the attempt succeeds, fails, is cancelled or is refused; the auth meters count them.
   */
  @Test
  void credentialsNeverReachTheLogsAndAuthIsCounted() throws Exception {
    String secret = "s3cret-Pa55word";
    java.util.function.Function<String, String> b64 =
        v -> java.util.Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8));
    String plainWrong = b64.apply("\0alice@example.test\0" + secret);
    String plainRight = b64.apply("\0bob@example.test\0" + PASSWORD);
    String loginPw = b64.apply(secret);
    try (LogCapture logs = LogCapture.mailserverAllLevels()) {
      LineClient c = connect(deploy(new JsonObject().put("allowPlaintextAuth", true)));
      assertThat(cmd(c, "EHLO client.example")).startsWith("250");
      assertThat(cmd(c, "AUTH PLAIN " + plainWrong)).startsWith("535 5.7.8");
      assertThat(cmd(c, "AUTH LOGIN")).startsWith("334 ");
      assertThat(cmd(c, b64.apply("alice@example.test"))).startsWith("334 ");
      assertThat(cmd(c, loginPw)).startsWith("535 5.7.8");
      assertThat(cmd(c, "AUTH PLAIN")).isEqualTo("334 ");
      assertThat(cmd(c, "*")).startsWith("501 5.0.0");
      assertThat(cmd(c, "AUTH LOGIN " + b64.apply("alice@example.test"))).startsWith("334 ");
      assertThat(cmd(c, secret)).startsWith("501 5.5.2"); // not base64: refused, not echoed anywhere
      assertThat(cmd(c, "AUTH PLAIN")).isEqualTo("334 ");
      assertThat(cmd(c, plainRight)).startsWith("235 2.7.0");
      assertThat(cmd(c, "MAIL FROM:<bob@example.test> AUTH=<" + secret + ">")).startsWith("250");
      assertThat(cmd(c, "RCPT TO:<alice@example.test> X-PW=" + secret)).startsWith("555");
      assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("250");
      assertThat(cmd(c, "DATA")).startsWith("354");
      c.sendRaw("Subject: x\r\n\r\npassword: " + secret + "\r\n.\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
      assertThat(cmd(c, "QUIT")).startsWith("221");
      awaitEnded("quit");
      await().atMost(Duration.ofSeconds(5)).until(() -> !logs.messagesStartingWith("smtp session end").isEmpty());

      List<String> lines = logs.lines();
      // The capture works at every level: the session line, the auth verdicts and the DEBUG recipient line are there.
      assertThat(lines).anyMatch(l -> l.startsWith("INFO smtp session end"));
      assertThat(lines).anyMatch(l -> l.startsWith("INFO smtp auth") && l.contains("result=failure"));
      assertThat(lines).anyMatch(l -> l.startsWith("INFO smtp auth") && l.contains("result=success"));
      assertThat(lines).anyMatch(l -> l.startsWith("DEBUG smtp queued to"));
      assertThat(lines).noneMatch(l -> l.contains(secret) || l.contains(plainWrong) || l.contains(plainRight)
          || l.contains(loginPw) || l.contains(PASSWORD));
    }
    assertThat(count(SmtpMetrics.AUTH, "result", "failure")).isEqualTo(2);
    assertThat(count(SmtpMetrics.AUTH, "result", "success")).isEqualTo(1);
    assertThat(count(SmtpMetrics.AUTH, "result", "locked")).isZero();
  }

  @Test
  void metersAreNamedForPrometheus() throws Exception {
    deploy();
    List<String> names = registry.getMeters().stream().map(Meter::getId).map(Meter.Id::getName).distinct().sorted().toList();
    assertThat(names).allMatch(n -> n.startsWith("mail.smtp."))
        .contains(SmtpMetrics.SESSIONS, SmtpMetrics.SESSIONS_ACTIVE, SmtpMetrics.SESSIONS_ENDED,
            SmtpMetrics.MESSAGES_ACCEPTED, SmtpMetrics.MESSAGE_SIZE, SmtpMetrics.REPLIES, SmtpMetrics.ACK_LATENCY,
            SmtpMetrics.AUTH, SmtpMetrics.TLS, SmtpMetrics.CONNECTIONS_REFUSED);
  }
}
