package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.accounts.Passwords;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service as the launcher deploys it, driven through the real bus with the typed client. */
class MailstoreVerticleTest {

  static final String MSG = "From: carol@example.org\r\nSubject: Lunch\r\n  at noon?\r\n\r\nSee you.\r\nBye\r\n";

  @TempDir
  static Path dataDir;
  static Vertx vertx;
  static MailstoreVerticle verticle;
  static MailstoreClient client;

  @BeforeAll
  static void deploy() {
    vertx = Vertx.vertx();
    // alice: a configured bcrypt hash (cheap cost 4); bob: a clear password hashed at cost 10.
    String aliceHash = new Passwords(4).hash("alice-pw");
    JsonObject config = new JsonObject()
        .put("hostname", "mail.example.test")
        .put("domains", new JsonArray().add("example.test"))
        .put("dataDir", dataDir.toString())
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0))
        .put("accounts", new JsonArray()
            .add(new JsonObject().put("address", "alice@example.test").put("password", aliceHash))
            .add(new JsonObject().put("address", "bob@example.test").put("password", "bob-pw")))
        .put("smtp", new JsonObject().put("port", 2525));
    verticle = new MailstoreVerticle();
    vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)).await();
    client = new MailstoreClient(vertx, 10_000);
  }

  @AfterAll
  static void close() {
    vertx.close().await();
  }

  static DeliverRequest request(String... rcpts) {
    return new DeliverRequest("Q" + System.nanoTime(), "carol@example.org", List.of(rcpts), Buffer.buffer(MSG));
  }

  static MailstoreError errorOf(Future<?> f) {
    try {
      f.await();
    } catch (Throwable t) {
      return MailstoreException.from(t).error();
    }
    throw new AssertionError("expected a failure, got " + f.result());
  }

  @Test
  void pingAndExists() {
    assertThat(client.ping().await().getString("status")).isEqualTo("ok");
    assertThat(client.mailboxExists("Alice@Example.Test").await()).isTrue();
    assertThat(client.mailboxExists("nobody@example.test").await()).isFalse();
    assertThat(errorOf(client.mailboxExists("../etc@example.test"))).isEqualTo(MailstoreError.INVALID_REQUEST);
  }

  @Test
  void existsRepliesWithTheCanonicalAddress() {
    JsonObject reply = vertx.eventBus().<JsonObject>request(Addresses.MAILBOX_EXISTS, new JsonObject().put("address", "BOB@example.test"))
        .await().body();
    assertThat(reply).isEqualTo(new JsonObject().put("address", "bob@example.test").put("exists", true));
  }

  @Test
  void deliverListFetchTopAndDeleteThroughTheBus() {
    DeliverResult r = client.deliver(request("alice@example.test", "bob@example.test")).await();

    String stored = "Return-Path: <carol@example.org>\r\n" + MSG;
    assertThat(r.stored()).extracting(DeliverResult.Stored::mailbox).containsExactly("alice@example.test", "bob@example.test");
    String id = r.stored().get(0).messageId();
    List<MessageInfo> list = client.list("alice@example.test").await();
    assertThat(list).filteredOn(m -> m.id().equals(id)).singleElement()
        .satisfies(m -> assertThat(m.size()).isEqualTo(stored.length()));
    assertThat(client.fetch("alice@example.test", id).await().toString()).isEqualTo(stored);
    assertThat(client.fetchTop("alice@example.test", id, 1).await().toString())
        .isEqualTo("Return-Path: <carol@example.org>\r\nFrom: carol@example.org\r\nSubject: Lunch\r\n  at noon?\r\n\r\nSee you.\r\n");
    assertThat(dataDir.resolve("mail/example.test/bob/new").resolve(r.stored().get(1).messageId())).isRegularFile();

    JsonObject del = vertx.eventBus().<JsonObject>request(Addresses.DELETE,
        new JsonObject().put("mailbox", "alice@example.test").put("ids", new JsonArray().add(id).add("gone"))).await().body();
    assertThat(del).isEqualTo(new JsonObject().put("deleted", 1).put("missing", new JsonArray().add("gone")));
    assertThat(errorOf(client.fetch("alice@example.test", id))).isEqualTo(MailstoreError.MESSAGE_NOT_FOUND);
  }

  @Test
  void fetchRangeThroughTheBusReturnsRawRangesAndTypedFailures() {
    byte[] body = new byte[300_000];
    for (int i = 0; i < body.length; i++) {
      body[i] = (byte) (i * 7 + i / 1000); // 8-bit, position-dependent
    }
    DeliverResult r = client.deliver(new DeliverRequest("Q" + System.nanoTime(), "carol@example.org",
        List.of("alice@example.test"), Buffer.buffer(body))).await();
    String id = r.stored().get(0).messageId();
    byte[] all = client.fetch("alice@example.test", id).await().getBytes();
    int size = all.length;
    assertThat((long) size).isEqualTo(r.stored().get(0).size());

    // first, middle, last (across the end), past the end
    assertThat(client.fetchRange("alice@example.test", id, 0, 65_536).await().getBytes())
        .isEqualTo(java.util.Arrays.copyOfRange(all, 0, 65_536));
    assertThat(client.fetchRange("alice@example.test", id, 100_001, 50_000).await().getBytes())
        .isEqualTo(java.util.Arrays.copyOfRange(all, 100_001, 150_001));
    assertThat(client.fetchRange("alice@example.test", id, size - 5, 65_536).await().getBytes())
        .isEqualTo(java.util.Arrays.copyOfRange(all, size - 5, size));
    assertThat(client.fetchRange("alice@example.test", id, size, 10).await().length()).isZero();
    assertThat(client.fetchRange("alice@example.test", id, 1L << 40, 10).await().length()).isZero();
    // reassembled from 64 KiB ranges
    Buffer joined = Buffer.buffer();
    for (long off = 0; off < size; off += 65_536) {
      joined.appendBuffer(client.fetchRange("alice@example.test", id, off, 65_536).await());
    }
    assertThat(joined.getBytes()).isEqualTo(all);

    assertThat(errorOf(client.fetchRange("alice@example.test", id, -1, 10))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(client.fetchRange("alice@example.test", id, 0, -1))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(client.fetchRange("alice@example.test", id, 0, MailstoreClient.MAX_RANGE_LENGTH + 1)))
        .isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(client.fetchRange("alice@example.test", id, 0, MailstoreClient.MAX_RANGE_LENGTH).await().getBytes())
        .isEqualTo(all);
    assertThat(errorOf(client.fetchRange("alice@example.test", "1234.nothing", 0, 10))).isEqualTo(MailstoreError.MESSAGE_NOT_FOUND);
    assertThat(errorOf(client.fetchRange("nobody@example.test", id, 0, 10))).isEqualTo(MailstoreError.MAILBOX_NOT_FOUND);

    // malformed ranges on the raw bus: with bodyLines, only one of the two, not whole numbers, beyond int
    JsonObject base = new JsonObject().put("mailbox", "alice@example.test").put("id", id);
    for (JsonObject bad : List.of(
        base.copy().put("offset", 0).put("length", 10).put("bodyLines", 1),
        base.copy().put("offset", 0),
        base.copy().put("length", 10),
        base.copy().put("offset", "0").put("length", 10),
        base.copy().put("offset", 0).put("length", 1.5),
        base.copy().put("offset", 0).put("length", -4_294_967_295L),
        base.copy().put("offset", 0).put("length", 4_294_967_296L))) {
      assertThat(errorOf(vertx.eventBus().request(Addresses.FETCH, bad))).as(bad.encode()).isEqualTo(MailstoreError.INVALID_REQUEST);
    }

    client.delete("alice@example.test", List.of(id)).await();
    assertThat(errorOf(client.fetchRange("alice@example.test", id, 0, 10))).isEqualTo(MailstoreError.MESSAGE_NOT_FOUND);
  }

  @Test
  void typedFailuresArriveAsMailstoreExceptions() {
    assertThatThrownBy(() -> client.deliver(request("alice@example.test", "nobody@example.test")).await())
        .isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(MailstoreError.MAILBOX_NOT_FOUND));
    assertThat(errorOf(client.list("nobody@example.test"))).isEqualTo(MailstoreError.MAILBOX_NOT_FOUND);
    assertThat(errorOf(client.fetch("alice@example.test", "../../accounts.json"))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(client.fetchTop("alice@example.test", "x", -1))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(client.list("a/b@example.test"))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(client.deliver(new DeliverRequest("Q1", "x@y.test", List.of(), Buffer.buffer(MSG)))))
        .isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(vertx.eventBus().request(Addresses.LIST, "not json"))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(vertx.eventBus().request(Addresses.FETCH,
        new JsonObject().put("mailbox", "alice@example.test").put("id", "x").put("bodyLines", "ten"))))
        .isEqualTo(MailstoreError.INVALID_REQUEST);
  }

  @Test
  void aNewMailEventIsPublishedPerCopyAfterDelivery() throws InterruptedException {
    BlockingQueue<MailEvent> events = new LinkedBlockingQueue<>();
    MessageConsumer<JsonObject> c = vertx.eventBus().consumer(Addresses.EVENTS_NEW, m -> events.add(MailEvent.fromJson(m.body())));
    c.completion().await();
    try {
      DeliverRequest req = request("alice@example.test", "bob@example.test");
      DeliverResult r = client.deliver(req).await();

      MailEvent e1 = events.poll(5, TimeUnit.SECONDS);
      MailEvent e2 = events.poll(5, TimeUnit.SECONDS);
      assertThat(e1).isNotNull();
      assertThat(e2).isNotNull();
      assertThat(List.of(e1, e2)).extracting(MailEvent::mailbox).containsExactlyInAnyOrder("alice@example.test", "bob@example.test");
      assertThat(List.of(e1, e2)).extracting(MailEvent::messageId)
          .containsExactlyInAnyOrderElementsOf(r.stored().stream().map(DeliverResult.Stored::messageId).toList());
      assertThat(e1.eventId()).isNotEqualTo(e2.eventId());
      assertThat(e1.type()).isEqualTo("message.new");
      assertThat(e1.subject()).isEqualTo("Lunch  at noon?");
      assertThat(e1.from()).isEqualTo("carol@example.org");
      assertThat(e1.deliveryId()).isEqualTo(req.deliveryId());
      assertThat(e1.size()).isEqualTo(r.stored().get(0).size());
      assertThat(e1.time()).isPositive();
    } finally {
      c.unregister().await();
    }
  }

  @Test
  void authenticationAcceptsRightPasswordsOnly() {
    assertThat(client.authenticate("ALICE@example.test", "alice-pw").await()).isEqualTo("alice@example.test");
    assertThat(errorOf(client.authenticate("alice@example.test", "wrong"))).isEqualTo(MailstoreError.AUTH_FAILED);
    assertThat(client.authenticate("bob@example.test", "bob-pw").await()).isEqualTo("bob@example.test");
  }

  @Test
  void unknownAccountsFailLikeWrongPasswordsAndTakeBcryptTime() {
    long start = System.nanoTime();
    assertThat(errorOf(client.authenticate("nobody@example.test", "x"))).isEqualTo(MailstoreError.AUTH_FAILED);
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    // A cost-10 comparison takes far more than this on any machine; a short-circuit takes ~1 ms.
    assertThat(ms).isGreaterThanOrEqualTo(15);
    assertThat(errorOf(client.authenticate("not an address", "x"))).isEqualTo(MailstoreError.AUTH_FAILED);
    assertThat(errorOf(vertx.eventBus().request(Addresses.AUTHENTICATE, new JsonObject()))).isEqualTo(MailstoreError.AUTH_FAILED);
  }

  @Test
  void configuredPasswordsArePersistedAsCost10HashesAndHashesAsGiven() throws Exception {
    String json = Files.readString(dataDir.resolve("accounts.json"));
    JsonArray accounts = new JsonObject(json).getJsonArray("accounts");
    assertThat(json).doesNotContain("bob-pw").doesNotContain("alice-pw");
    assertThat(accounts.stream().map(o -> ((JsonObject) o).getString("passwordHash")))
        .anySatisfy(h -> assertThat(h).startsWith("$2a$10$"))
        .anySatisfy(h -> assertThat(h).startsWith("$2a$04$"));
    assertThat(dataDir.resolve("mail/example.test/alice/tmp")).isDirectory();
    assertThat(dataDir.resolve("mail/example.test/alice/cur")).isDirectory();
  }

  @Test
  void probesAnswer200() throws Exception {
    assertThat(verticle.actualHttpPort()).isPositive();
    HttpClient http = HttpClient.newHttpClient();
    for (String path : List.of("/livez", "/readyz")) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + verticle.actualHttpPort() + path)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(new JsonObject(r.body()).getString("status")).isEqualTo("UP");
    }
  }

  /**
   * Java 17's HttpClient at its defaults asks for an h2c upgrade on http://, and against an h2c-enabled
   * server about one such request in nine hung for good. The API answers in HTTP/1.1, so every one of
   * these completes; the bounded wait turns a hang into a failure instead of a stuck build.
   */
  @Test
  void theJdkClientAtItsDefaultsIsAnsweredInHttp11() throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + verticle.actualHttpPort() + "/api/v1/openapi.json");
    for (int i = 0; i < 60; i++) {
      HttpResponse<String> r = HttpClient.newHttpClient().sendAsync(HttpRequest.newBuilder(uri).build(),
          HttpResponse.BodyHandlers.ofString()).get(10, TimeUnit.SECONDS);
      assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
      assertThat(r.statusCode()).isEqualTo(200);
    }
  }
}
