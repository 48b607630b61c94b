package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.mailstore.accounts.AccountSeed;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.accounts.Passwords;
import dev.mailserver.mailstore.journal.EventJournal;
import dev.mailserver.mailstore.journal.FileEventJournal;
import dev.mailserver.mailstore.journal.InMemoryEventJournal;
import dev.mailserver.mailstore.store.ForwardingStore;
import dev.mailserver.mailstore.store.InMemoryStore;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service's side of the journal: what it appends, when it publishes, and what happens when the journal fails. */
class MailstoreServiceEventsTest {

  static final String MSG = "Subject: Hello\r\n\r\nbody\r\n";

  @TempDir
  Path tmp;
  Vertx vertx;
  WorkerExecutor io;
  InMemoryStore store;
  Accounts accounts;

  @BeforeEach
  void setUp() throws IOException {
    vertx = Vertx.vertx();
    io = vertx.createSharedWorkerExecutor("test-io", 4);
    store = new InMemoryStore();
    accounts = new Accounts(tmp.resolve("accounts.json"), store, new Passwords(4), Duration.ofHours(1));
    accounts.load();
    accounts.seed(List.of(new AccountSeed("alice@example.test", "pw-alice"), new AccountSeed("bob@example.test", "pw-bob")));
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  MailstoreService service(EventJournal journal) {
    return new MailstoreService(vertx, store, accounts, journal, io, io, io);
  }

  static DeliverRequest request(String... rcpts) {
    return new DeliverRequest("Q" + System.nanoTime(), "carol@example.org", List.of(rcpts), Buffer.buffer(MSG));
  }

  BlockingQueue<MailEvent> listen(String address) {
    BlockingQueue<MailEvent> q = new LinkedBlockingQueue<>();
    vertx.eventBus().<JsonObject>consumer(address, m -> q.add(MailEvent.fromJson(m.body()))).completion().await();
    return q;
  }

  @Test
  void everyPublishedEventIsAlreadyInTheJournal() throws Exception {
    // Checked inside the consumer, at the moment the event arrives: the guarantee a consumer
    // relies on is "an id I have seen can be asked for again".
    FileEventJournal journal = new FileEventJournal(tmp.resolve("events"), 3_600_000L, 1000, 100, Clock.systemUTC());
    MailstoreService service = service(journal);
    BlockingQueue<Boolean> inJournal = new LinkedBlockingQueue<>();
    vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS_NEW, m -> {
      MailEvent e = MailEvent.fromJson(m.body());
      long id = Long.parseLong(e.eventId());
      // a small blocking read on the event loop is acceptable in a test
      inJournal.add(journal.since(Long.toString(id - 1), null, 1).events().equals(List.of(e)));
    }).completion().await();

    for (int i = 0; i < 5; i++) {
      service.deliver(request("alice@example.test", "bob@example.test")).await();
    }
    for (int i = 0; i < 10; i++) {
      assertThat(inJournal.poll(5, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void aDeliveryThatFailsAfterItsEventsWereJournaledRetractsThemAndPublishesNothing() throws Exception {
    // A store whose flush fails after it named the copies: what a failed log write looks like.
    MailStore failing = new ForwardingStore(store) {
      @Override
      public List<DeliverResult.Stored> deliver(String sender, List<MailboxName> rcpts, Buffer content,
                                                java.util.function.Consumer<List<DeliverResult.Stored>> named) {
        named.accept(List.of(new DeliverResult.Stored("alice@example.test", "1.M1P1Q1R1.h,S=9", 9)));
        throw new MailstoreException(MailstoreError.STORAGE_FAILURE, "flush failed");
      }
    };
    InMemoryEventJournal journal = new InMemoryEventJournal();
    MailstoreService service = new MailstoreService(vertx, failing, accounts, journal, io, io, io);
    BlockingQueue<MailEvent> published = listen(Addresses.EVENTS_NEW);

    Future<DeliverResult> r = service.deliver(request("alice@example.test"));
    assertThat(r.transform(ar -> Future.succeededFuture(ar.cause())).await())
        .isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(MailstoreError.STORAGE_FAILURE));
    assertThat(journal.since("", null, 10).events()).extracting(MailEvent::type, MailEvent::messageId)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(MailEvent.TYPE_NEW, "1.M1P1Q1R1.h,S=9"),
            org.assertj.core.groups.Tuple.tuple(MailEvent.TYPE_DELETED, "1.M1P1Q1R1.h,S=9"));
    assertThat(published.poll(300, TimeUnit.MILLISECONDS)).as("a failed delivery is never announced").isNull();
  }

  @Test
  void aDeliveryAppendsOneEventPerCopyAndPublishesThemWithTheJournalIds() throws Exception {
    InMemoryEventJournal journal = new InMemoryEventJournal();
    MailstoreService service = service(journal);
    BlockingQueue<MailEvent> published = listen(Addresses.EVENTS_NEW);

    DeliverRequest req = request("alice@example.test", "bob@example.test");
    DeliverResult r = service.deliver(req).await();

    List<MailEvent> got = List.of(published.poll(5, TimeUnit.SECONDS), published.poll(5, TimeUnit.SECONDS));
    assertThat(got).extracting(MailEvent::eventId).containsExactly("1", "2");
    assertThat(journal.since("", null, 10).events()).containsExactlyElementsOf(got);
    assertThat(got).extracting(MailEvent::messageId)
        .containsExactlyElementsOf(r.stored().stream().map(DeliverResult.Stored::messageId).toList());
    assertThat(got.get(0).subject()).isEqualTo("Hello");
    assertThat(got.get(0).deliveryId()).isEqualTo(req.deliveryId());
    assertThat(got.get(0).type()).isEqualTo(MailEvent.TYPE_NEW);
  }

  @Test
  void aDeletionAppendsAndPublishesOneEventPerRemovedMessageOnly() throws Exception {
    InMemoryEventJournal journal = new InMemoryEventJournal();
    MailstoreService service = service(journal);
    DeliverResult r = service.deliver(request("alice@example.test")).await();
    String id = r.stored().get(0).messageId();
    BlockingQueue<MailEvent> deleted = listen(Addresses.EVENTS_DELETED);

    service.delete("Alice@Example.Test", List.of(id, "1.M1P1Q1R1.gone,S=9")).await();

    MailEvent e = deleted.poll(5, TimeUnit.SECONDS);
    assertThat(e).isNotNull();
    assertThat(e.type()).isEqualTo(MailEvent.TYPE_DELETED);
    assertThat(e.mailbox()).isEqualTo("alice@example.test");
    assertThat(e.messageId()).isEqualTo(id);
    assertThat(e.eventId()).isEqualTo("2");
    assertThat(e.from()).isEmpty();
    assertThat(deleted.poll(300, TimeUnit.MILLISECONDS)).as("nothing for the id that was already gone").isNull();
    assertThat(journal.since("1", null, 10).events()).containsExactly(e);
  }

  @Test
  void theSizeOfADeletedMessageComesFromItsMaildirName() {
    assertThat(MailstoreService.sizeFromId("1700000000.M1P2Q3R4.host,S=1234")).isEqualTo(1234);
    assertThat(MailstoreService.sizeFromId("1700000000.M1P2Q3R4.host,S=77,W=80")).isEqualTo(77);
    assertThat(MailstoreService.sizeFromId("1700000000.000000000001")).isZero();
  }

  @Test
  void aDeliveryStoredOnDiskSucceedsEvenIfTheJournalFails() throws Exception {
    EventJournal broken = new EventJournal() {
      @Override
      public MailEvent append(MailEvent event) {
        throw new UncheckedIOException(new IOException("No space left on device"));
      }

      @Override
      public Scan scan(long afterId, String mailbox, int limit) {
        throw new UncheckedIOException(new IOException("I/O error"));
      }

      @Override
      public String lastId() {
        return "";
      }

      @Override
      public void close() {
      }
    };
    MailstoreService service = service(broken);
    BlockingQueue<MailEvent> published = listen(Addresses.EVENTS_NEW);
    BlockingQueue<MailEvent> deleted = listen(Addresses.EVENTS_DELETED);

    // Failing here would make SMTP retry a message that is already in the mailbox: a duplicate.
    DeliverResult r = service.deliver(request("alice@example.test")).await();
    assertThat(store.list(MailboxName.of("alice@example.test"))).hasSize(1);
    MailEvent e = published.poll(5, TimeUnit.SECONDS);
    assertThat(e).as("live consumers still hear of it").isNotNull();
    assertThat(e.eventId()).as("but with no id that could be asked for again").isEmpty();
    assertThat(e.messageId()).isEqualTo(r.stored().get(0).messageId());

    assertThat(service.delete("alice@example.test", List.of(e.messageId())).await().deleted()).isEqualTo(1);
    assertThat(deleted.poll(5, TimeUnit.SECONDS).eventId()).isEmpty();
  }

  @Test
  void eventsSinceValidatesCapsAndFilters() {
    InMemoryEventJournal journal = new InMemoryEventJournal();
    List<MailEvent> batch = new ArrayList<>();
    for (int i = 0; i < MailstoreService.MAX_EVENTS_LIMIT + 5; i++) {
      batch.add(new MailEvent("", MailEvent.TYPE_NEW, i % 2 == 0 ? "alice@example.test" : "bob@example.test", "m" + i, "", "", 1, 1, ""));
    }
    journal.appendAll(batch);
    MailstoreService service = service(journal);

    assertThat(service.eventsSince("", null, 50_000).await().events()).hasSize(MailstoreService.MAX_EVENTS_LIMIT);
    EventPage bob = service.eventsSince("10", "BOB@example.test", 3).await();
    assertThat(bob.events()).extracting(MailEvent::eventId).containsExactly("12", "14", "16");
    assertThat(errorOf(service.eventsSince("abc", null, 10))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(service.eventsSince("-5", null, 10))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(service.eventsSince("", "not-an-address", 10))).isEqualTo(MailstoreError.INVALID_REQUEST);
    assertThat(errorOf(service.eventsSince("", null, 0))).isEqualTo(MailstoreError.INVALID_REQUEST);
  }

  static MailstoreError errorOf(Future<?> f) {
    try {
      f.await();
    } catch (Throwable t) {
      return MailstoreException.from(t).error();
    }
    throw new AssertionError("expected a failure, got " + f.result());
  }
}
