package dev.mailserver.mailstore.http;

import static dev.mailserver.mailstore.http.TestServer.TOKEN;
import static dev.mailserver.mailstore.http.TestServer.assertError;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.json;
import static dev.mailserver.mailstore.http.TestServer.simple;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code GET .../messages/next}: long-polling for a new matching message. */
class WaitHttpTest {

  static final String ERIN = "erin@example.test";
  static final String PW = "erin-secret-1";
  static final String NEXT = "/api/v1/mailboxes/" + ERIN + "/messages/next";
  static final String AUTH = basic(ERIN, PW);

  @TempDir
  static Path dataDir;
  static TestServer server;

  @BeforeAll
  static void start() {
    server = new TestServer(dataDir, TOKEN, Map.of(ERIN, PW), null);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static CompletableFuture<HttpResponse<byte[]>> waitAsync(String query) {
    return server.http.sendAsync(HttpRequest.newBuilder(server.uri(NEXT + "?" + query)).header("Authorization", AUTH)
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void answersWithTheFirstMatchingMessageDeliveredAfterTheRequest() throws Exception {
    server.deliver(ERIN, simple("Your code is 111", "noreply@shop.example", "old"));
    CompletableFuture<HttpResponse<byte[]>> pending = waitAsync("subject=your+code&from=SHOP.example&timeout=20");
    Thread.sleep(300);
    assertThat(pending).as("an existing match does not count").isNotDone();
    server.deliver(ERIN, simple("Newsletter", "noreply@shop.example", "not this one"));
    server.deliver(ERIN, simple("Your code is 222", "other@example.org", "wrong sender"));
    Thread.sleep(200);
    assertThat(pending).isNotDone();
    String id = server.deliver(ERIN, simple("Your code is 333", "noreply@shop.example", "this one"));
    HttpResponse<byte[]> r = pending.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonObject item = json(r);
    assertThat(item.getString("id")).isEqualTo(id);
    assertThat(item.getString("subject")).isEqualTo("Your code is 333");
    assertThat(item.getString("snippet")).isEqualTo("this one");
  }

  @Test
  void aDeliveryRightAfterTheRequestIsNotMissed() throws Exception {
    // No pause between request and delivery: the listing after the subscription catches a message
    // that arrives while the waiter is being set up. (since= pins "after the request" to the moment
    // before sending, as the client cannot know when the server received it.)
    for (int i = 0; i < 5; i++) {
      Instant t0 = Instant.now();
      CompletableFuture<HttpResponse<byte[]>> pending = waitAsync("subject=race-" + i + "&timeout=10&since=" + t0);
      String id = server.deliver(ERIN, simple("race-" + i, "x@example.org", "b"));
      HttpResponse<byte[]> r = pending.get(15, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(json(r).getString("id")).isEqualTo(id);
    }
  }

  @Test
  void timesOutWith204() {
    long t0 = System.nanoTime();
    HttpResponse<byte[]> r = server.get(NEXT + "?subject=never-sent&timeout=0.5", AUTH);
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertThat(r.statusCode()).isEqualTo(204);
    assertThat(r.body()).isEmpty();
    assertThat(ms).isBetween(450L, 5000L);
  }

  @Test
  void sinceIncludesMessagesAlreadyThere() {
    Instant before = Instant.now().minusSeconds(2);
    String id = server.deliver(ERIN, simple("Receipt 42", "shop@example.org", "paid"));
    HttpResponse<byte[]> r = server.get(NEXT + "?subject=receipt+42&timeout=5&since=" + before, AUTH);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).getString("id")).isEqualTo(id);
    // without since, the same message is old news
    assertThat(server.get(NEXT + "?subject=receipt+42&timeout=0.3", AUTH).statusCode()).isEqualTo(204);
  }

  @Test
  void invalidParametersAndUnknownMailbox() {
    assertError(server.get(NEXT + "?timeout=soon", AUTH), 400, "INVALID_PARAMETER");
    assertError(server.get(NEXT + "?timeout=-1", AUTH), 400, "INVALID_PARAMETER");
    assertError(server.get(NEXT + "?since=nope", AUTH), 400, "INVALID_PARAMETER");
    assertError(server.get("/api/v1/mailboxes/nobody@example.test/messages/next?timeout=1", TestServer.bearer(TOKEN)),
        404, "MAILBOX_NOT_FOUND");
  }

  @Test
  void timeoutIsCapped() {
    assertThat(WaitApi.timeoutMillis("100000")).isEqualTo(120_000);
    assertThat(WaitApi.timeoutMillis(null)).isEqualTo(30_000);
    assertThat(WaitApi.timeoutMillis("1.5")).isEqualTo(1_500);
  }
}
