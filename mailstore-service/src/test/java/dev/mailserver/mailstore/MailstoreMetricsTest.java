package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The meters of the real verticle, driven through the bus with the typed client, read from the
 * registry of its Vert.x ({@link Meters#registry}: a fresh in-memory one per Vert.x here).
 */
class MailstoreMetricsTest {

  static final String ALICE = "alice@example.test";
  static final String BOB = "bob@example.test";
  static final String CAROL = "carol@example.test";
  static final String ALICE_PW = "alice-password";
  static final String ADMIN_TOKEN = "metrics-test-admin-token";
  static final String RETURN_PATH = "Return-Path: <sender@example.org>\r\n";
  static final String MSG1 = "From: sender@example.org\r\nSubject: one\r\n\r\nFirst.\r\n";
  static final String MSG2 = "From: sender@example.org\r\nSubject: two\r\n\r\nSecond, a little longer.\r\n";

  @TempDir
  Path dataDir;
  Vertx vertx;
  MeterRegistry registry;
  MailstoreClient client;
  MailstoreVerticle verticle;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    registry = Meters.registry(vertx);
    client = new MailstoreClient(vertx, 10_000);
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  /** "fsync" by default here: the exact per-copy fsync accounting below is that mode's. */
  String durability = "fsync";

  JsonObject config() {
    return new JsonObject()
        .put("store", new JsonObject().put("durability", durability))
        .put("hostname", "mail.example.test")
        .put("domains", new JsonArray().add("example.test"))
        .put("dataDir", dataDir.toString())
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0).put("adminToken", ADMIN_TOKEN))
        .put("accounts", new JsonArray()
            .add(new JsonObject().put("address", ALICE).put("password", ALICE_PW))
            .add(new JsonObject().put("address", BOB).put("password", "bob-password"))
            .add(new JsonObject().put("address", CAROL).put("password", "carol-password")));
  }

  /** Deploys with bcrypt cost 4 (the package-private constructor) and returns the deployment id. */
  String deploy() {
    verticle = new MailstoreVerticle(4);
    return vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config())).await();
  }

  static DeliverRequest request(String msg, String... rcpts) {
    return new DeliverRequest("Q" + System.nanoTime(), "sender@example.org", List.of(rcpts), Buffer.buffer(msg));
  }

  static MailstoreError errorOf(Future<?> f) {
    try {
      f.await();
    } catch (Throwable t) {
      return MailstoreException.from(t).error();
    }
    throw new AssertionError("expected a failure, got " + f.result());
  }

  /** A counter's count; a missing counter fails the test (registry.get throws) rather than reading 0. */
  double count(String name, String... tags) {
    return registry.get(name).tags(tags).counter().count();
  }

  Timer timer(String name, String... tags) {
    return registry.get(name).tags(tags).timer();
  }

  double gauge(String name) {
    return registry.get(name).gauge().value();
  }

  /** What is on disk, independently of the journal's own bookkeeping. */
  long journalSegmentBytes() throws IOException {
    try (Stream<Path> files = Files.list(dataDir.resolve("events"))) {
      long total = 0;
      for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".jsonl")).toList()) {
        total += Files.size(p);
      }
      return total;
    }
  }

  /** Accounts in {@code accounts.json} ({"accounts": [...]}), read independently of the service. */
  int accountsInFile() throws IOException {
    return new JsonObject(Files.readString(dataDir.resolve("accounts.json"))).getJsonArray("accounts").size();
  }

  @Test
  void withTheDeliveryLogADeliveryCostsOneLogFlushAndNoFsyncOfItsCopies() throws Exception {
    durability = "log";
    deploy();
    double filesAtStart = count(MailstoreMetrics.FSYNCS, "kind", "file");
    double journalAtStart = count(MailstoreMetrics.FSYNCS, "kind", "journal");
    // Two copies each, one after the other: nothing to share a flush with.
    client.deliver(request(MSG1, ALICE, BOB)).await();
    client.deliver(request(MSG2, ALICE, BOB)).await();
    assertThat(count(MailstoreMetrics.DELIVERED_COPIES)).isEqualTo(4);
    assertThat(count(MailstoreMetrics.FSYNCS, "kind", "file") - filesAtStart).as("one log fdatasync per delivery").isEqualTo(2);
    // Each group commit of events: its segment's fdatasync, plus the directory when it opened a new segment.
    assertThat(count(MailstoreMetrics.FSYNCS, "kind", "journal") - journalAtStart).as("the events' group commits")
        .isBetween(1.0, 4.0);
    assertThat(Files.list(dataDir.resolve("deliverylog")).count()).isPositive();
  }

  @Test
  void deliveriesFsyncsDeletionsFetchesJournalAndAuthAreMeasured() throws Exception {
    deploy();
    // Creating the three mailboxes at start synced their directories, but wrote no message file.
    assertThat(count(MailstoreMetrics.FSYNCS, "kind", "file")).isZero();
    double dirFsyncsAtStart = count(MailstoreMetrics.FSYNCS, "kind", "directory");
    assertThat(dirFsyncsAtStart).isPositive();
    assertThat(count(MailstoreMetrics.DELIVERIES, "result", "stored")).isZero();

    DeliverResult r1 = client.deliver(request(MSG1, ALICE, BOB)).await();
    DeliverResult r2 = client.deliver(request(MSG2, ALICE, BOB)).await();
    assertThat(errorOf(client.deliver(request(MSG1, "nobody@example.test")))).isEqualTo(MailstoreError.MAILBOX_NOT_FOUND);

    String id1 = r1.stored().get(0).messageId();
    assertThat(client.fetch(ALICE, id1).await().toString()).isEqualTo(RETURN_PATH + MSG1);
    assertThat(client.fetchTop(BOB, r2.stored().get(1).messageId(), 0).await().length()).isPositive();
    assertThat(errorOf(client.fetch(ALICE, "no-such-message"))).isEqualTo(MailstoreError.MESSAGE_NOT_FOUND);

    assertThat(client.delete(ALICE, List.of(id1, "already-gone")).await()).isEqualTo(1);

    assertThat(client.authenticate(ALICE, ALICE_PW).await()).isEqualTo(ALICE);
    assertThat(errorOf(client.authenticate(ALICE, "wrong-password"))).isEqualTo(MailstoreError.AUTH_FAILED);
    // Verified credentials are answered from the cache (no second bcrypt); a wrong password never is.
    assertThat(client.authenticate(ALICE.toUpperCase(java.util.Locale.ROOT), ALICE_PW).await()).isEqualTo(ALICE);
    assertThat(errorOf(client.authenticate(ALICE, "wrong-password"))).isEqualTo(MailstoreError.AUTH_FAILED);

    // Deliveries: two stored (four copies), one refused before anything was written.
    assertThat(count(MailstoreMetrics.DELIVERIES, "result", "stored")).isEqualTo(2);
    assertThat(count(MailstoreMetrics.DELIVERIES, "result", "failed")).isEqualTo(1);
    assertThat(count(MailstoreMetrics.DELIVERED_COPIES)).isEqualTo(4);
    long expectedBytes = 2L * (RETURN_PATH + MSG1).length() + 2L * (RETURN_PATH + MSG2).length();
    assertThat(count(MailstoreMetrics.DELIVERED_BYTES)).isPositive().isEqualTo(expectedBytes);
    Timer delivery = timer(MailstoreMetrics.DELIVERY_LATENCY);
    assertThat(delivery.count()).isEqualTo(2);
    assertThat(delivery.totalTime(TimeUnit.NANOSECONDS)).isPositive();

    // fsyncs: one per copy written, one per new/ directory per delivery (2 x 2) and one for the deletion.
    double fileFsyncs = count(MailstoreMetrics.FSYNCS, "kind", "file");
    double dirFsyncs = count(MailstoreMetrics.FSYNCS, "kind", "directory");
    assertThat(fileFsyncs).isEqualTo(4);
    assertThat(dirFsyncs - dirFsyncsAtStart).isEqualTo(5);
    Timer fileFsyncTimer = timer(MailstoreMetrics.FSYNC_LATENCY, "kind", "file");
    Timer dirFsyncTimer = timer(MailstoreMetrics.FSYNC_LATENCY, "kind", "directory");
    assertThat((double) fileFsyncTimer.count()).isEqualTo(fileFsyncs);
    assertThat((double) dirFsyncTimer.count()).isEqualTo(dirFsyncs);
    assertThat(fileFsyncTimer.totalTime(TimeUnit.NANOSECONDS)).isPositive();
    double allFsyncs = registry.find(MailstoreMetrics.FSYNCS).counters().stream().mapToDouble(Counter::count).sum();
    long allFsyncTimings = registry.find(MailstoreMetrics.FSYNC_LATENCY).timers().stream().mapToLong(Timer::count).sum();
    assertThat(allFsyncs).isPositive().isEqualTo((double) allFsyncTimings);

    assertThat(count(MailstoreMetrics.DELETIONS)).isEqualTo(1);
    assertThat(count(MailstoreMetrics.FETCHES)).isEqualTo(2);

    // Journal: four message.new and one message.deleted, all retained.
    assertThat(count(MailstoreMetrics.JOURNAL_APPENDS)).isEqualTo(5);
    assertThat(gauge(MailstoreMetrics.JOURNAL_EVENTS)).isEqualTo(5);
    assertThat(client.eventsSince("", null, 100).await().events()).hasSize(5);
    assertThat(gauge(MailstoreMetrics.JOURNAL_BYTES)).isPositive().isEqualTo((double) journalSegmentBytes());

    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isEqualTo(3).isEqualTo(accountsInFile());

    assertThat(count(MailstoreMetrics.AUTH, "result", "success")).isEqualTo(1);
    assertThat(count(MailstoreMetrics.AUTH, "result", "failure")).isEqualTo(2);
  }

  @Test
  void theMailboxesGaugeFollowsTheAccountTable() throws Exception {
    deploy();
    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isEqualTo(3);
    HttpResponse<String> created = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + verticle.actualHttpPort() + "/api/v1/accounts"))
            .header("Authorization", "Bearer " + ADMIN_TOKEN)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(
                new JsonObject().put("address", "dave@example.test").put("password", "dave-password").encode()))
            .build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isEqualTo(4).isEqualTo(accountsInFile());
  }

  @Test
  void gaugesLetGoOfAnUndeployedVerticleAndFollowTheNextOne() throws Exception {
    String first = deploy();
    client.deliver(request(MSG1, ALICE)).await();
    assertThat(gauge(MailstoreMetrics.JOURNAL_EVENTS)).isEqualTo(1);
    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isEqualTo(3);

    vertx.undeploy(first).await();
    // Unbound in stop(): the registry (which outlives the verticle) no longer reads its objects.
    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isNaN();
    assertThat(gauge(MailstoreMetrics.JOURNAL_EVENTS)).isNaN();
    assertThat(gauge(MailstoreMetrics.JOURNAL_BYTES)).isNaN();

    deploy();
    // The new instance took the journal's statistics from the files at start (no append yet).
    assertThat(gauge(MailstoreMetrics.MAILBOXES)).isEqualTo(3);
    assertThat(gauge(MailstoreMetrics.JOURNAL_EVENTS)).isEqualTo(1);
    assertThat(gauge(MailstoreMetrics.JOURNAL_BYTES)).isPositive().isEqualTo((double) journalSegmentBytes());
    // Still one gauge of each name, and the counters continued rather than starting over.
    assertThat(registry.find(MailstoreMetrics.MAILBOXES).gauges()).hasSize(1);
    assertThat(count(MailstoreMetrics.DELIVERIES, "result", "stored")).isEqualTo(1);
  }

  /** Binds gauges to an object only this binding references, drops the metrics without unbinding. */
  static WeakReference<Object> bindAndForget(MeterRegistry r) {
    Object owner = new Object();
    MailstoreMetrics m = new MailstoreMetrics(r);
    m.bindGauges(() -> owner.hashCode() == 0 ? 8 : 7, () -> null);
    assertThat(r.get(MailstoreMetrics.MAILBOXES).gauge().value()).isEqualTo(7);
    assertThat(r.get(MailstoreMetrics.JOURNAL_EVENTS).gauge().value()).isNaN(); // statistics not known yet
    return new WeakReference<>(owner);
  }

  @Test
  void theRegistryHoldsWhatTheGaugesReadOnlyWeakly() {
    MeterRegistry r = new SimpleMeterRegistry();
    WeakReference<Object> owner = bindAndForget(r);
    // Even without unbindGauges() (a verticle that was never stopped), the registry does not keep it.
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      System.gc();
      return owner.get() == null;
    });
    assertThat(r.get(MailstoreMetrics.MAILBOXES).gauge().value()).isNaN();
  }

  @Test
  void everyMeterIsNamedUnderMailStore() {
    deploy();
    // SimpleMeterRegistry shows a timer's buckets as extra "<name>.histogram" gauges; Prometheus as _bucket series.
    List<String> names = registry.getMeters().stream().map(Meter::getId).map(Meter.Id::getName)
        .filter(n -> !n.endsWith(".histogram")).distinct().toList();
    assertThat(registry.find(MailstoreMetrics.DELIVERY_LATENCY + ".histogram").gauges()).isNotEmpty(); // buckets exist
    assertThat(names).allMatch(n -> n.startsWith("mail.store."))
        .containsExactlyInAnyOrder(MailstoreMetrics.DELIVERIES, MailstoreMetrics.DELIVERED_COPIES,
            MailstoreMetrics.DELIVERED_BYTES, MailstoreMetrics.DELIVERY_LATENCY, MailstoreMetrics.FSYNCS,
            MailstoreMetrics.FSYNC_LATENCY, MailstoreMetrics.DELETIONS, MailstoreMetrics.FETCHES,
            MailstoreMetrics.MAILBOXES, MailstoreMetrics.JOURNAL_EVENTS, MailstoreMetrics.JOURNAL_BYTES,
            MailstoreMetrics.JOURNAL_APPENDS, MailstoreMetrics.AUTH);
    // Tag values come from fixed sets.
    assertThat(registry.find(MailstoreMetrics.DELIVERIES).counters()).extracting(c -> c.getId().getTag("result"))
        .containsExactlyInAnyOrder("stored", "failed");
    assertThat(registry.find(MailstoreMetrics.AUTH).counters()).extracting(c -> c.getId().getTag("result"))
        .containsExactlyInAnyOrder("success", "failure");
    assertThat(registry.find(MailstoreMetrics.FSYNC_LATENCY).timers()).extracting(c -> c.getId().getTag("kind"))
        .containsExactlyInAnyOrder("file", "directory", "journal");
    Gauge bytes = registry.get(MailstoreMetrics.JOURNAL_BYTES).gauge();
    assertThat(bytes.getId().getBaseUnit()).isEqualTo("bytes");
  }
}
