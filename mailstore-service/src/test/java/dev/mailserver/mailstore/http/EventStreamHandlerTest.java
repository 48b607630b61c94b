package dev.mailserver.mailstore.http;

import dev.mailserver.common.http.HttpServers;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.mailstore.journal.EventJournal;
import dev.mailserver.mailstore.journal.FileEventJournal;
import dev.mailserver.mailstore.journal.InMemoryEventJournal;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SSE handler on a real HTTP server, with the journal and the bus driven directly so that
 * ordering, gaps and failures can be staged exactly. A stub in front of it plays the
 * authentication handler ({@code X-Test-Principal: admin | <mailbox>}); the real router and
 * authentication are exercised by {@code EventStreamEndToEndTest}.
 */
class EventStreamHandlerTest {

  static final String ALICE = "alice@example.test";
  static final String BOB = "bob@example.test";

  @TempDir
  Path tmp;
  Vertx vertx;
  WorkerExecutor pool;
  EventJournal journal;
  EventStreamHandler handler;
  HttpServer server;
  final List<SseClient> clients = new ArrayList<>();

  void start(EventJournal j, EventStreamHandler.Settings settings) {
    vertx = Vertx.vertx();
    pool = vertx.createSharedWorkerExecutor("test-events", 2);
    journal = j;
    handler = new EventStreamHandler(vertx, journal, pool, settings);
    Router router = Router.router(vertx);
    router.get("/api/v1/events").handler(ctx -> {
      String who = ctx.request().getHeader("X-Test-Principal");
      ctx.put(Principal.CONTEXT_KEY, "admin".equals(who) ? Principal.administrator() : Principal.owner(who));
      ctx.next();
    }).handler(handler);
    router.route().failureHandler(HttpErrors::handle);
    server = vertx.createHttpServer(HttpServers.options()).requestHandler(router).listen(0, "127.0.0.1").await();
  }

  static EventStreamHandler.Settings settings() {
    return new EventStreamHandler.Settings(15_000, 500, 1000, 100, 60_000, 3_000);
  }

  @AfterEach
  void tearDown() {
    clients.forEach(SseClient::close);
    if (vertx != null) {
      vertx.close().await();
    }
  }

  SseClient connect(String principal, String query, String lastEventId) throws Exception {
    Map<String, String> headers = lastEventId == null
        ? Map.of("X-Test-Principal", principal)
        : Map.of("X-Test-Principal", principal, "Last-Event-ID", lastEventId);
    SseClient c = SseClient.connect(URI.create("http://127.0.0.1:" + server.actualPort() + "/api/v1/events" + query), headers);
    clients.add(c);
    return c;
  }

  static MailEvent event(String mailbox, String messageId) {
    return new MailEvent("", MailEvent.TYPE_NEW, mailbox, messageId, "carol@example.org", "Hi", 10, System.currentTimeMillis(), "Q1");
  }

  /** What the service does: journal first, then publish. */
  MailEvent deliver(String mailbox, String messageId) {
    MailEvent e = journal.append(event(mailbox, messageId));
    publish(e);
    return e;
  }

  void publish(MailEvent e) {
    vertx.eventBus().publish(MailEvent.TYPE_DELETED.equals(e.type()) ? Addresses.EVENTS_DELETED : Addresses.EVENTS_NEW, e.toJson());
  }

  @Test
  void liveEventsAreStreamedWithIdTypeAndTheEventAsData() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient c = connect("admin", "", null);
    assertThat(c.status()).isEqualTo(200);
    assertThat(c.response.headers().firstValue("Content-Type")).get().asString().startsWith("text/event-stream");

    MailEvent e = deliver(ALICE, "m1");
    MailEvent d = journal.append(new MailEvent("", MailEvent.TYPE_DELETED, ALICE, "m1", "", "", 10, 1, ""));
    publish(d);

    SseClient.Event got = c.next(5000);
    assertThat(got.id()).isEqualTo(e.eventId());
    assertThat(got.type()).isEqualTo("message.new");
    assertThat(MailEvent.fromJson(got.json())).isEqualTo(e);
    SseClient.Event del = c.next(5000);
    assertThat(del.id()).isEqualTo(d.eventId());
    assertThat(del.type()).isEqualTo("message.deleted");
  }

  @Test
  void aStreamWithoutLastEventIdStartsAfterTheNewestEventAtConnectTime() throws Exception {
    start(new InMemoryEventJournal(), settings());
    deliver(ALICE, "before1");
    deliver(ALICE, "before2");
    SseClient c = connect("admin", "", null);
    MailEvent after = deliver(ALICE, "after");
    assertThat(c.next(5000).id()).as("history is only replayed when asked for").isEqualTo(after.eventId());
  }

  @Test
  void lastEventIdReplaysExactlyWhatCameAfterItThenGoesLive() throws Exception {
    start(new InMemoryEventJournal(), settings());
    MailEvent seen = deliver(ALICE, "m1");
    List<String> missed = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      missed.add(deliver(BOB, "missed" + i).eventId());
    }
    SseClient c = connect("admin", "", seen.eventId());
    for (String id : missed) {
      assertThat(c.next(5000).id()).isEqualTo(id);
    }
    MailEvent live = deliver(ALICE, "live");
    assertThat(c.next(5000).id()).as("nothing duplicated or skipped between replay and live").isEqualTo(live.eventId());
  }

  @Test
  void theQueryParameterStandsInForTheHeaderAndTheHeaderWins() throws Exception {
    start(new InMemoryEventJournal(), settings());
    deliver(ALICE, "m1");
    deliver(ALICE, "m2");
    deliver(ALICE, "m3");
    SseClient byQuery = connect("admin", "?lastEventId=1", null);
    assertThat(byQuery.next(5000).id()).isEqualTo("2");
    // A browser reconnecting keeps the URL (with its old lastEventId) but sends the newer header.
    SseClient both = connect("admin", "?lastEventId=1", "2");
    assertThat(both.next(5000).id()).isEqualTo("3");
  }

  @Test
  void eventsPublishedOutOfOrderAreSentInIdOrder() throws Exception {
    start(new InMemoryEventJournal(), new EventStreamHandler.Settings(15_000, 500, 1000, 5_000, 60_000, 3_000));
    SseClient c = connect("admin", "", null);
    MailEvent e1 = journal.append(event(ALICE, "m1"));
    MailEvent e2 = journal.append(event(ALICE, "m2"));
    MailEvent e3 = journal.append(event(ALICE, "m3"));
    // Concurrent deliveries publish in whatever order their threads finish.
    publish(e3);
    publish(e1);
    publish(e2);
    assertThat(List.of(c.next(5000).id(), c.next(5000).id(), c.next(5000).id()))
        .containsExactly(e1.eventId(), e2.eventId(), e3.eventId());
  }

  @Test
  void aGapTheBusDoesNotFillIsFilledFromTheJournal() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient c = connect("admin", "", null);
    // Event 1 is journaled but its publish never happens (its process died in between).
    MailEvent lost = journal.append(event(ALICE, "never-published"));
    MailEvent next = deliver(ALICE, "next");
    assertThat(c.next(5000).id()).isEqualTo(lost.eventId());
    assertThat(c.next(5000).id()).isEqualTo(next.eventId());
  }

  @Test
  void anUnpublishedLastEventArrivesWithTheHeartbeatsTailCheck() throws Exception {
    start(new InMemoryEventJournal(), new EventStreamHandler.Settings(200, 500, 1000, 100, 60_000, 3_000));
    SseClient c = connect("admin", "", null);
    MailEvent lost = journal.append(event(ALICE, "never-published")); // and nothing after it
    assertThat(c.next(5000).id()).isEqualTo(lost.eventId());
    assertThat(c.comments).as("heartbeats").contains(": keepalive");
  }

  @Test
  void anOwnerSeesOnlyTheirMailboxAndMayNotAskForAnother() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient alice = connect(ALICE, "", null);
    SseClient admin = connect("admin", "", null);
    SseClient adminBob = connect("admin", "?mailbox=BOB@example.test", null);
    MailEvent toBob = deliver(BOB, "b1");
    MailEvent toAlice = deliver(ALICE, "a1");

    assertThat(alice.next(5000).id()).as("bob's event is skipped").isEqualTo(toAlice.eventId());
    assertThat(admin.next(5000).id()).isEqualTo(toBob.eventId());
    assertThat(admin.next(5000).id()).isEqualTo(toAlice.eventId());
    assertThat(adminBob.next(5000).id()).isEqualTo(toBob.eventId());
    assertThat(adminBob.poll(300)).as("admin asked for bob only").isNull();

    SseClient forbidden = connect(ALICE, "?mailbox=bob@example.test", null);
    assertThat(forbidden.status()).isEqualTo(403);
    SseClient ownOk = connect(ALICE, "?mailbox=alice@example.test", null);
    assertThat(ownOk.status()).isEqualTo(200);
  }

  @Test
  void anOwnersReplaySkipsOtherMailboxesAndContinuesLive() throws Exception {
    start(new InMemoryEventJournal(), new EventStreamHandler.Settings(15_000, 2, 1000, 100, 60_000, 3_000));
    deliver(ALICE, "a0");
    List<String> aliceIds = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      deliver(BOB, "b" + i);
      aliceIds.add(deliver(ALICE, "a" + (i + 1)).eventId());
    }
    SseClient c = connect(ALICE, "", "1"); // pages of 2 alice events among bob's
    for (String id : aliceIds) {
      assertThat(c.next(5000).id()).isEqualTo(id);
    }
    deliver(BOB, "b-live");
    MailEvent live = deliver(ALICE, "a-live");
    assertThat(c.next(5000).id()).isEqualTo(live.eventId());
  }

  @Test
  void badRequestsAreJsonErrors() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient badId = connect("admin", "", "abc");
    assertThat(badId.status()).isEqualTo(400);
    SseClient badMailbox = connect("admin", "?mailbox=../x", null);
    assertThat(badMailbox.status()).isEqualTo(400);
    assertThat(new JsonObject(badMailbox.body()).getString("error")).isEqualTo("INVALID_REQUEST");
    assertThat(new JsonObject(badId.body()).getString("error")).isEqualTo("INVALID_REQUEST");
  }

  @Test
  void anIdOlderThanRetentionGetsATruncatedNoticeThenTheOldestRetained() throws Exception {
    FileEventJournal j = new FileEventJournal(tmp.resolve("events"), 3_600_000L * 1000, 4, 2, Clock.systemUTC());
    start(j, settings());
    for (int i = 1; i <= 10; i++) {
      j.append(event(ALICE, "m" + i));
    }
    j.compact(); // keeps 7..10 (segments 7-8, 9-10)
    SseClient c = connect("admin", "", "3");
    SseClient.Event notice = c.next(5000);
    assertThat(notice.type()).isEqualTo("truncated");
    assertThat(notice.id()).as("no id: the client's Last-Event-ID is not moved by it").isNull();
    assertThat(notice.json().getString("oldestEventId")).isEqualTo("7");
    assertThat(List.of(c.next(5000).id(), c.next(5000).id(), c.next(5000).id(), c.next(5000).id()))
        .containsExactly("7", "8", "9", "10");
    assertThat(deliver(ALICE, "live").eventId()).isEqualTo(c.next(5000).id());
  }

  @Test
  void eventsThatCouldNotBeJournaledArePassedOnWithoutAnId() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient c = connect("admin", "", null);
    publish(event(ALICE, "unjournaled")); // eventId "": the journal append failed
    SseClient.Event got = c.next(5000);
    assertThat(got.id()).isNull();
    assertThat(got.json().getString("messageId")).isEqualTo("unjournaled");
    MailEvent next = deliver(ALICE, "journaled");
    assertThat(c.next(5000).id()).isEqualTo(next.eventId());
  }

  @Test
  void aBufferOverflowFallsBackToTheJournalAndLosesNothing() throws Exception {
    // maxPending 5 and a gap that the bus never fills: without the fallback the stream would hold
    // its buffer until the (here very long) gap wait.
    start(new InMemoryEventJournal(), new EventStreamHandler.Settings(60_000, 500, 5, 60_000, 60_000, 3_000));
    SseClient c = connect("admin", "", null);
    List<String> expected = new ArrayList<>();
    expected.add(journal.append(event(ALICE, "never-published")).eventId());
    for (int i = 0; i < 10; i++) {
      expected.add(deliver(ALICE, "m" + i).eventId());
    }
    List<String> got = new ArrayList<>();
    for (int i = 0; i < expected.size(); i++) {
      got.add(c.next(5000).id());
    }
    assertThat(got).containsExactlyElementsOf(expected);
  }

  @Test
  void theBusConsumersAreRemovedWhenTheClientGoesAway() throws Exception {
    start(new InMemoryEventJournal(), settings());
    SseClient c = connect("admin", "", null);
    await().atMost(Duration.ofSeconds(5)).until(() -> handler.openStreams() == 1);
    c.close();
    await().atMost(Duration.ofSeconds(5)).until(() -> handler.openStreams() == 0);
  }

  @Test
  void aClientThatStopsReadingIsDisconnected() throws Exception {
    start(new InMemoryEventJournal(), new EventStreamHandler.Settings(100, 500, 1000, 100, 500, 3_000));
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(4096);
      s.connect(new InetSocketAddress("127.0.0.1", server.actualPort()), 5000);
      OutputStream out = s.getOutputStream();
      out.write(("GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nX-Test-Principal: admin\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] head = new byte[64];
      assertThat(in.read(head)).isPositive(); // subscribed; from now on we read nothing
      await().atMost(Duration.ofSeconds(5)).until(() -> handler.openStreams() == 1);
      String big = "x".repeat(60_000);
      for (int i = 0; i < 400 && handler.openStreams() == 1; i++) {
        MailEvent e = journal.append(new MailEvent("", MailEvent.TYPE_NEW, ALICE, "m" + i, "", big, 1, 1, ""));
        publish(e);
        Thread.sleep(5);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> handler.openStreams() == 0);
    }
  }
}
