package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.testing.LineClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Connection limits (total and per client IP, over all listeners) and timeouts. */
class SmtpLimitsTest extends TestSupport {

  SimpleMeterRegistry registry;

  @BeforeEach
  void freshRegistry() {
    registry = new SimpleMeterRegistry();
    Meters.bind(vertx, registry);
  }

  double refused(String reason) {
    var c = registry.find(SmtpMetrics.CONNECTIONS_REFUSED).tag("reason", reason).counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void perIpLimitTurnsAwayTheNextConnectionWith421() throws Exception {
    Deployed d = deployAll(new JsonObject().put("maxConnectionsPerIp", 3));
    List<LineClient> open = new ArrayList<>();
    open.add(connect(d.port()));
    open.add(connect(d.port()));
    open.add(connect(d.verticle().actualSubmissionPort())); // the limit spans all listeners
    try (LineClient fourth = new LineClient("127.0.0.1", d.port())) {
      assertThat(fourth.smtp()).isEqualTo("421 4.7.0 Too many connections from your address, try again later");
      assertThat(fourth.isClosedByServer()).isTrue();
    }
    assertThat(refused("per_ip")).isEqualTo(1);
    // The open sessions are unaffected, and a closed one frees its slot.
    assertThat(cmd(open.get(0), "NOOP")).startsWith("250");
    open.get(1).close();
    await().atMost(Duration.ofSeconds(5)).until(() -> {
      try (LineClient again = new LineClient("127.0.0.1", d.port())) {
        return again.smtp().startsWith("220 ");
      }
    });
  }

  @Test
  void totalLimitTurnsAwayTheNextConnectionWith421() throws Exception {
    Deployed d = deployAll(new JsonObject().put("maxConnections", 2));
    connect(d.port());
    SmtpClient tls = tlsClient(d.verticle().actualSmtpsPort());
    try (LineClient third = new LineClient("127.0.0.1", d.verticle().actualSubmissionPort())) {
      assertThat(third.smtp()).isEqualTo("421 4.7.0 Too many connections, try again later");
      assertThat(third.isClosedByServer()).isTrue();
    }
    assertThat(refused("total")).isEqualTo(1);
    assertThat(tls.cmd("NOOP")).startsWith("250");
  }

  @Test
  void idleTimeoutAppliesOverTlsToo() throws Exception {
    Deployed d = deployAll(new JsonObject().put("idleTimeoutSeconds", 1));
    SmtpClient c = client(d.verticle().actualSubmissionPort());
    c.cmd("EHLO c");
    c.startTls();
    long t0 = System.nanoTime();
    assertThat(c.smtp()).startsWith("421 4.4.2");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThan(Duration.ofMillis(800));
    assertThat(c.isClosedByServer()).isTrue();
  }

  @Test
  void tlsSessionsAreCounted() throws Exception {
    Deployed d = deployAll(new JsonObject());
    SmtpClient a = client(d.port());
    a.cmd("EHLO c");
    a.startTls();
    assertThat(a.cmd("EHLO c")).startsWith("250");
    SmtpClient b = tlsClient(d.verticle().actualSmtpsPort());
    assertThat(b.cmd("EHLO c")).startsWith("250");
    assertThat(registry.get(SmtpMetrics.TLS).tag("mode", "starttls").counter().count()).isEqualTo(1);
    assertThat(registry.get(SmtpMetrics.TLS).tag("mode", "implicit").counter().count()).isEqualTo(1);
  }
}
