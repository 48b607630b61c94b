package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.testing.LineClient;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /metrics} on the management port of an embedded process: the Prometheus text format
 * with the services' meters, the JVM's and Vert.x's own.
 */
class MetricsTest {

  @TempDir
  static Path dataDir;
  static MailServer server;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() throws Exception {
    server = MailServer.start(EmbeddedEndToEndTest.testConfig(dataDir), List.of(Main.Role.values()));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  static HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.managementPort() + path))
        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The value of one sample line ({@code name{labels} value}), or NaN when there is none. */
  static double sample(String scrape, String nameAndLabels) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(nameAndLabels) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  static void sendOne() throws IOException {
    try (LineClient c = new LineClient("127.0.0.1", server.smtpPort())) {
      assertThat(c.smtp()).startsWith("220 ");
      assertThat(c.send("EHLO metrics.example.test").smtp()).startsWith("250 ");
      assertThat(c.send("MAIL FROM:<sender@elsewhere.test>").smtp()).startsWith("250 ");
      assertThat(c.send("RCPT TO:<nobody@example.test>").smtp()).startsWith("550 ");
      assertThat(c.send("RCPT TO:<alice@example.test>").smtp()).startsWith("250 ");
      assertThat(c.send("DATA").smtp()).startsWith("354 ");
      c.sendRaw("Subject: metrics\r\n\r\nhello\r\n.\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(c.send("QUIT").smtp()).startsWith("221 ");
    }
  }

  @Test
  void prometheusTextWithServiceJvmAndVertxMeters() throws Exception {
    sendOne();
    await().atMost(Duration.ofSeconds(10)).until(() ->
        sample(get(ManagementServer.METRICS).body(), "mail_smtp_sessions_ended_total{outcome=\"quit\"}") == 1.0);

    HttpResponse<String> r = get(ManagementServer.METRICS);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
    String body = r.body();
    // The services' meters, through Meters.registry(vertx).
    assertThat(sample(body, "mail_smtp_sessions_total")).isEqualTo(1.0);
    assertThat(sample(body, "mail_smtp_messages_accepted_total")).isEqualTo(1.0);
    assertThat(sample(body, "mail_smtp_rejections_total{code=\"550\"}")).isEqualTo(1.0);
    assertThat(sample(body, "mail_smtp_ack_latency_seconds_count{result=\"stored\"}")).isEqualTo(1.0);
    assertThat(body).contains("# TYPE mail_smtp_ack_latency_seconds histogram")
        .contains("mail_smtp_ack_latency_seconds_bucket{result=\"stored\",le=\"0.1\"}")
        .contains("mail_smtp_message_size_bytes_count 1");
    assertThat(sample(body, "mail_smtp_sessions_active")).isZero();
    assertThat(sample(body, "mail_pop3_sessions_active")).isZero();
    assertThat(body).contains("mail_pop3_logins_total{result=\"success\"}");
    // The JVM binders.
    assertThat(body).contains("jvm_memory_used_bytes{", "jvm_gc_", "jvm_threads_live_threads", "jvm_classes_loaded_classes",
        "system_cpu_count", "process_uptime_seconds");
    // Vert.x's own metrics: the SMTP/POP3 net servers (labelled with the listen address as passed to
    // Vert.x: for an ephemeral port that is the negative key its instances share, see ListenPorts),
    // the event bus, the HTTP servers.
    Matcher read = Pattern.compile("(?m)^vertx_net_server_bytes_read_total\\{local=\"127\\.0\\.0\\.1:-?\\d+\"} (\\S+)$").matcher(body);
    assertThat(read.find()).as("vertx_net_server_bytes_read_total in %s", body).isTrue();
    assertThat(Double.parseDouble(read.group(1))).isGreaterThan(0);
    assertThat(body).contains("vertx_net_server_active_connections{");
    assertThat(body).contains("vertx_eventbus_", "vertx_http_server_");
    // The services found the process registry through the Vert.x it is bound to.
    assertThat(Meters.bound(server.vertx())).containsSame(server.meterRegistry());
  }

  /** Cluster.start() builds the clustered Vert.x with the same metrics, in a registry of its own. */
  @Test
  void clusteredVertxRecordsItsOwnAndTheJvmMetrics() throws Exception {
    Vertx clustered = Cluster.loopback("metrics-" + UUID.randomUUID(), List.of()).start();
    try {
      assertThat(Meters.bound(clustered)).get().isInstanceOf(PrometheusMeterRegistry.class)
          .isNotSameAs(server.meterRegistry());
      PrometheusMeterRegistry registry = (PrometheusMeterRegistry) Meters.registry(clustered);
      clustered.eventBus().consumer("metrics.test", m -> m.reply("pong")).completion().await(10, TimeUnit.SECONDS);
      assertThat(clustered.eventBus().request("metrics.test", "ping").await(10, TimeUnit.SECONDS).body()).isEqualTo("pong");
      String scrape = registry.scrape(ManagementServer.METRICS_CONTENT_TYPE);
      assertThat(sample(scrape, "vertx_eventbus_handlers")).isPositive();
      assertThat(scrape).contains("vertx_eventbus_processed_total", "jvm_memory_used_bytes{", "process_uptime_seconds");
    } finally {
      clustered.close().await(30, TimeUnit.SECONDS);
      Meters.unbind(clustered);
    }
  }

  @Test
  void otherPathsStillAnswerAndTheIndexNamesMetrics() throws Exception {
    HttpResponse<String> livez = get(ManagementServer.LIVEZ);
    assertThat(livez.statusCode()).isEqualTo(200);
    // The client asks for h2c by default; the probes answer in HTTP/1.1 (see HttpServers).
    assertThat(livez.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    HttpResponse<String> missing = get("/nope");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).contains(ManagementServer.METRICS);
    assertThat(server.describe()).contains("(" + ManagementServer.LIVEZ + ", " + ManagementServer.READYZ + ", "
        + ManagementServer.METRICS + ")");
  }
}
