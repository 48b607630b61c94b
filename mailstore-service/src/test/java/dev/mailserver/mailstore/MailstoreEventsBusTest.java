package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal through the event bus, as SMTP, POP3 and third-party consumers use it, on the deployed verticle. */
class MailstoreEventsBusTest {

  static final String MSG = "From: carol@example.org\r\nSubject: Lunch\r\n\r\nSee you.\r\n";

  @TempDir
  Path dataDir;
  Vertx vertx;
  MailstoreClient client;
  String deploymentId;

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
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0))
        .put("accounts", new JsonArray()
            .add(new JsonObject().put("address", "alice@example.test").put("password", "alice-pw"))
            .add(new JsonObject().put("address", "bob@example.test").put("password", "bob-pw")));
    deploymentId = vertx.deployVerticle(new MailstoreVerticle(4), new DeploymentOptions().setConfig(config)).await();
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
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
  void eventsSinceReturnsDeliveriesAndDeletionsWithThePublishedIds() throws Exception {
    BlockingQueue<MailEvent> news = listen(Addresses.EVENTS_NEW);
    BlockingQueue<MailEvent> deletions = listen(Addresses.EVENTS_DELETED);

    DeliverResult r = client.deliver(request("alice@example.test", "bob@example.test")).await();
    client.deliver(request("bob@example.test")).await();
    // POP3 UPDATE deletes through mailstore.delete
    String aliceMsg = r.stored().get(0).messageId();
    assertThat(client.delete("alice@example.test", List.of(aliceMsg)).await()).isEqualTo(1);

    List<MailEvent> published = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      published.add(news.poll(5, TimeUnit.SECONDS));
    }
    MailEvent deletion = deletions.poll(5, TimeUnit.SECONDS);
    assertThat(deletion).as("a consumer of mailstore.events.deleted hears of the deletion").isNotNull();
    assertThat(deletion.type()).isEqualTo("message.deleted");
    assertThat(deletion.mailbox()).isEqualTo("alice@example.test");
    assertThat(deletion.messageId()).isEqualTo(aliceMsg);
    assertThat(deletion.size()).as("from the Maildir name's S=").isEqualTo(r.stored().get(0).size());
    published.add(deletion);

    EventPage page = client.eventsSince("", null, 100).await();
    assertThat(page.events()).containsExactlyInAnyOrderElementsOf(published);
    assertThat(page.events()).extracting(MailEvent::eventId).containsExactly("1", "2", "3", "4");
    assertThat(page.lastEventId()).isEqualTo("4");
    assertThat(page.truncated()).isFalse();
    assertThat(page.events().get(3)).isEqualTo(deletion);

    // a consumer that was away pages with the last id it saw
    assertThat(client.eventsSince("2", null, 1).await().events()).extracting(MailEvent::eventId).containsExactly("3");
    assertThat(client.eventsSince("4", null, 10).await().events()).isEmpty();
    assertThat(client.eventsSince("", "bob@example.test", 10).await().events()).extracting(MailEvent::eventId)
        .containsExactly("2", "3");
  }

  @Test
  void malformedRequestsAreInvalid() {
    for (JsonObject bad : List.of(
        new JsonObject().put("after", "abc"),
        new JsonObject().put("after", -1),
        new JsonObject().put("after", 1.5),
        new JsonObject().put("after", "").put("limit", 0),
        new JsonObject().put("after", "").put("limit", "ten"),
        new JsonObject().put("after", "").put("mailbox", 7),
        new JsonObject().put("after", "").put("mailbox", "../etc"))) {
      assertThat(MailstoreVerticleTest.errorOf(vertx.eventBus().request(Addresses.EVENTS_SINCE, bad))).as(bad.encode())
          .isEqualTo(MailstoreError.INVALID_REQUEST);
    }
    assertThat(MailstoreVerticleTest.errorOf(vertx.eventBus().request(Addresses.EVENTS_SINCE, "x")))
        .isEqualTo(MailstoreError.INVALID_REQUEST);
    // a numeric after and no limit are fine
    assertThat(vertx.eventBus().<JsonObject>request(Addresses.EVENTS_SINCE, new JsonObject().put("after", 0)).await().body()
        .getJsonArray("events")).isEmpty();
  }

  @Test
  void idsContinueAcrossARestartAndTheJournalIsReadAfterIt() throws Exception {
    client.deliver(request("alice@example.test")).await();
    client.deliver(request("alice@example.test")).await();
    vertx.undeploy(deploymentId).await();
    assertThat(dataDir.resolve("events/1.jsonl")).isRegularFile();
    assertThat(Files.readAllLines(dataDir.resolve("events/1.jsonl"))).hasSize(2);

    deploy();
    BlockingQueue<MailEvent> news = listen(Addresses.EVENTS_NEW);
    client.deliver(request("bob@example.test")).await();
    assertThat(news.poll(5, TimeUnit.SECONDS).eventId()).isEqualTo("3");
    assertThat(client.eventsSince("1", null, 10).await().events()).extracting(MailEvent::eventId).containsExactly("2", "3");
  }
}
