package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MailEvent;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /api/v1/events} end to end: the deployed verticle, its real router and authentication
 * (admin bearer token from {@code http.adminToken}, owners with HTTP Basic), deliveries through the
 * bus, and an SSE client reading the stream line by line over real HTTP.
 */
class EventStreamEndToEndTest {

  static final String TOKEN = "test-admin-token-0123456789";
  static final String MSG = "From: carol@example.org\r\nSubject: Lunch\r\n\r\nSee you.\r\n";
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  Path dataDir;
  Vertx vertx;
  MailstoreVerticle verticle;
  String deploymentId;
  MailstoreClient client;
  final List<Sse> streams = new ArrayList<>();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    client = new MailstoreClient(vertx, 10_000);
    deploy();
  }

  void deploy() {
    JsonObject config = new JsonObject()
        .put("dataDir", dataDir.toString())
        .put("domains", new JsonArray().add("example.test"))
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0).put("adminToken", TOKEN))
        .put("accounts", new JsonArray()
            .add(new JsonObject().put("address", "alice@example.test").put("password", "alice-pw"))
            .add(new JsonObject().put("address", "bob@example.test").put("password", "bob-pw")));
    verticle = new MailstoreVerticle(4);
    deploymentId = vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)).await();
  }

  @AfterEach
  void tearDown() {
    streams.forEach(Sse::close);
    vertx.close().await();
  }

  static String admin() {
    return "Bearer " + TOKEN;
  }

  static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  DeliverResult deliver(String... rcpts) {
    return client.deliver(new DeliverRequest("Q" + System.nanoTime(), "carol@example.org", List.of(rcpts), Buffer.buffer(MSG))).await();
  }

  URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + verticle.actualHttpPort() + pathAndQuery);
  }

  /** An SSE connection: events as {id, event, data} in arrival order. */
  final class Sse implements AutoCloseable {
    final HttpResponse<Stream<String>> response;
    final BlockingQueue<Map<String, String>> events = new LinkedBlockingQueue<>();

    Sse(Map<String, String> headers, String query) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(uri("/api/v1/events" + query)).header("Accept", "text/event-stream");
      headers.forEach(b::header);
      response = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofLines());
      Thread t = new Thread(() -> {
        Map<String, String> current = new LinkedHashMap<>();
        try {
          Iterator<String> it = response.body().iterator();
          while (it.hasNext()) {
            String line = it.next();
            if (line.isEmpty()) {
              if (current.containsKey("data")) {
                events.add(current);
              }
              current = new LinkedHashMap<>();
            } else if (!line.startsWith(":")) {
              int colon = line.indexOf(':');
              current.put(line.substring(0, colon), line.substring(colon + 1).stripLeading());
            }
          }
        } catch (RuntimeException closed) {
          // the test closed it
        }
      });
      t.setDaemon(true);
      t.start();
      streams.add(this);
    }

    Map<String, String> next() throws InterruptedException {
      Map<String, String> e = events.poll(5, TimeUnit.SECONDS);
      assertThat(e).as("an event within 5 s").isNotNull();
      return e;
    }

    @Override
    public void close() {
      response.body().close();
    }
  }

  Sse connect(String authorization, String lastEventId, String query) throws Exception {
    Map<String, String> h = new LinkedHashMap<>();
    if (authorization != null) {
      h.put("Authorization", authorization);
    }
    if (lastEventId != null) {
      h.put("Last-Event-ID", lastEventId);
    }
    return new Sse(h, query);
  }

  @Test
  void aClientThatReconnectsWithLastEventIdGetsExactlyTheEventsItMissedThenLiveOnes() throws Exception {
    Sse first = connect(admin(), null, "");
    assertThat(first.response.statusCode()).isEqualTo(200);
    assertThat(first.response.headers().firstValue("Content-Type")).get().asString().startsWith("text/event-stream");
    DeliverResult r0 = deliver("alice@example.test");
    Map<String, String> seen = first.next();
    assertThat(seen.get("event")).isEqualTo("message.new");
    assertThat(new JsonObject(seen.get("data")).getString("messageId")).isEqualTo(r0.stored().get(0).messageId());
    String lastSeen = seen.get("id");
    assertThat(new JsonObject(seen.get("data")).getString("eventId")).isEqualTo(lastSeen);

    first.close();
    await().atMost(Duration.ofSeconds(5)).until(() -> verticle.eventStream().openStreams() == 0);

    // While disconnected: three deliveries it must get on reconnecting, no more, no less.
    List<String> missedMessages = new ArrayList<>();
    missedMessages.add(deliver("alice@example.test").stored().get(0).messageId());
    missedMessages.add(deliver("bob@example.test").stored().get(0).messageId());
    missedMessages.add(deliver("alice@example.test").stored().get(0).messageId());

    Sse again = connect(admin(), lastSeen, "");
    List<String> gotMessages = new ArrayList<>();
    List<Long> gotIds = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Map<String, String> e = again.next();
      gotMessages.add(new JsonObject(e.get("data")).getString("messageId"));
      gotIds.add(Long.parseLong(e.get("id")));
    }
    assertThat(gotMessages).containsExactlyElementsOf(missedMessages);
    assertThat(gotIds).containsExactly(Long.parseLong(lastSeen) + 1, Long.parseLong(lastSeen) + 2, Long.parseLong(lastSeen) + 3);

    // The very next event is a new live one: nothing replayed twice, nothing extra.
    DeliverResult live = deliver("bob@example.test");
    Map<String, String> e = again.next();
    assertThat(new JsonObject(e.get("data")).getString("messageId")).isEqualTo(live.stored().get(0).messageId());
    assertThat(Long.parseLong(e.get("id"))).isEqualTo(Long.parseLong(lastSeen) + 4);
  }

  @Test
  void anOwnerSeesOnlyTheirOwnMailboxIncludingDeletionsMadeOverHttp() throws Exception {
    Sse alice = connect(basic("alice@example.test", "alice-pw"), null, "");
    assertThat(alice.response.statusCode()).isEqualTo(200);
    Sse admin = connect(admin(), null, "");

    deliver("bob@example.test");
    String aliceMsg = deliver("alice@example.test").stored().get(0).messageId();

    Map<String, String> first = alice.next();
    assertThat(new JsonObject(first.get("data")).getString("mailbox")).as("bob's delivery is not alice's business")
        .isEqualTo("alice@example.test");
    assertThat(new JsonObject(admin.next().get("data")).getString("mailbox")).isEqualTo("bob@example.test");
    assertThat(new JsonObject(admin.next().get("data")).getString("mailbox")).isEqualTo("alice@example.test");

    // Deleting through the HTTP API records and publishes the deletion too.
    HttpResponse<String> del = HTTP.send(HttpRequest.newBuilder(uri("/api/v1/mailboxes/alice@example.test/messages/"
            + URLEncoder.encode(aliceMsg, StandardCharsets.UTF_8)))
        .header("Authorization", basic("alice@example.test", "alice-pw")).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(del.statusCode()).as(del.body()).isEqualTo(204);
    Map<String, String> deletion = alice.next();
    assertThat(deletion.get("event")).isEqualTo("message.deleted");
    assertThat(new JsonObject(deletion.get("data")).getString("messageId")).isEqualTo(aliceMsg);
    assertThat(admin.next().get("event")).isEqualTo("message.deleted");
  }

  @Test
  void streamsNeedCredentialsAndOwnersCannotFollowOtherMailboxes() throws Exception {
    Sse anonymous = connect(null, null, "");
    assertThat(anonymous.response.statusCode()).isEqualTo(401);
    Sse wrong = connect(basic("alice@example.test", "nope"), null, "");
    assertThat(wrong.response.statusCode()).isEqualTo(401);
    Sse other = connect(basic("alice@example.test", "alice-pw"), null, "?mailbox=bob@example.test");
    assertThat(other.response.statusCode()).isEqualTo(403);
    Sse adminForBob = connect(admin(), null, "?mailbox=bob@example.test");
    assertThat(adminForBob.response.statusCode()).isEqualTo(200);
    deliver("alice@example.test");
    String bobMsg = deliver("bob@example.test").stored().get(0).messageId();
    assertThat(new JsonObject(adminForBob.next().get("data")).getString("messageId")).isEqualTo(bobMsg);
  }

  @Test
  void theJournalSurvivesARestartIdsContinueAndReplayWorksAfterIt() throws Exception {
    deliver("alice@example.test");
    String second = deliver("alice@example.test").stored().get(0).messageId();
    vertx.undeploy(deploymentId).await();
    deploy(); // same data directory, new process state, new port

    Sse s = connect(admin(), "1", "");
    Map<String, String> replayed = s.next();
    assertThat(replayed.get("id")).isEqualTo("2");
    assertThat(new JsonObject(replayed.get("data")).getString("messageId")).isEqualTo(second);
    BlockingQueue<MailEvent> bus = new LinkedBlockingQueue<>();
    vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS_NEW, m -> bus.add(MailEvent.fromJson(m.body()))).completion().await();
    deliver("bob@example.test");
    assertThat(s.next().get("id")).as("the sequence continues after the restart").isEqualTo("3");
    assertThat(bus.poll(5, TimeUnit.SECONDS).eventId()).isEqualTo("3");
  }
}
