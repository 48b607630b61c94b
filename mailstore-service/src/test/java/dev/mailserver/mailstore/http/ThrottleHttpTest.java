package dev.mailserver.mailstore.http;

import static dev.mailserver.mailstore.http.TestServer.TOKEN;
import static dev.mailserver.mailstore.http.TestServer.assertError;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.bearer;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failed logins are slowed down and then locked out, per IP and per account, with timers: other
 * clients keep being served while a failing one waits. Delays are shortened by configuration
 * ({@code http.authThrottle}); the policy's default numbers are checked in {@link AuthThrottleTest}.
 */
class ThrottleHttpTest {

  static final long BASE = 200;
  static final long MAX = 800;
  static final String ALICE = "alice@example.test";
  static final String BOB = "bob@example.test";
  static final String CAROL = "carol@example.test";
  static final String PW = "correct-horse-1";
  static final String ALICE_BOX = "/api/v1/mailboxes/" + ALICE + "/messages";

  @TempDir
  static Path dataDir;
  static TestServer server;

  @BeforeAll
  static void start() {
    server = new TestServer(dataDir, TOKEN, Map.of(ALICE, PW, BOB, PW, CAROL, PW),
        new JsonObject().put("baseDelayMs", BASE).put("maxDelayMs", MAX).put("lockoutAfter", 4).put("lockoutSeconds", 1));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  /** One request from another loopback address (127.0.0.2), i.e. another client IP. */
  static int fromOtherIp(String path, String authorization) {
    var client = server.vertx.createHttpClient(new HttpClientOptions().setLocalAddress("127.0.0.2"));
    try {
      return client.request(HttpMethod.GET, server.port, "127.0.0.1", path)
          .compose(req -> req.putHeader("Authorization", authorization).send())
          .compose(resp -> resp.body().map(b -> resp.statusCode()))
          .await();
    } finally {
      client.close().await();
    }
  }

  static long timed(Runnable r) {
    long t0 = System.nanoTime();
    r.run();
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  @Test
  void failuresAreDelayedThenLockedOutWithoutStallingOthers() throws Exception {
    String bobAuth = basic(BOB, PW);
    assertThat(server.get("/api/v1/mailboxes/" + BOB + "/messages", bobAuth).statusCode()).isEqualTo(200); // now cached
    assertThat(fromOtherIp("/api/v1/mailboxes/" + BOB + "/messages", bobAuth)).isEqualTo(200); // warms the client up

    long first = timed(() -> assertError(server.get(ALICE_BOX, basic(ALICE, "wrong-1")), 401, "UNAUTHORIZED"));
    assertThat(first).as("1st failure held back base delay").isGreaterThanOrEqualTo(BASE - 10);
    long second = timed(() -> assertError(server.get(ALICE_BOX, basic(ALICE, "wrong-2")), 401, "UNAUTHORIZED"));
    assertThat(second).as("2nd failure held back twice as long").isGreaterThanOrEqualTo(2 * BASE - 10);

    // A third failure is pending on its timer...
    CompletableFuture<HttpResponse<byte[]>> third = server.http.sendAsync(
        HttpRequest.newBuilder(server.uri(ALICE_BOX)).header("Authorization", basic(ALICE, "wrong-3")).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    Thread.sleep(100);
    assertThat(third).isNotDone();
    // ... a parallel attempt on the same IP and account is refused at once, even with the right password ...
    HttpResponse<byte[]> parallel = assertError(server.get(ALICE_BOX, basic(ALICE, PW)), 429, "TOO_MANY_ATTEMPTS");
    assertThat(Integer.parseInt(parallel.headers().firstValue("Retry-After").orElseThrow())).isBetween(1, 2);
    // ... and from another IP too, since the account itself is being guessed at;
    assertThat(fromOtherIp(ALICE_BOX, basic(ALICE, PW))).isEqualTo(429);
    // while everybody else is served without waiting: a cached owner, probes, another client's login.
    assertThat(server.get("/api/v1/mailboxes/" + BOB + "/messages", bobAuth).statusCode()).isEqualTo(200);
    assertThat(server.get("/livez", null).statusCode()).isEqualTo(200);
    assertThat(fromOtherIp("/api/v1/mailboxes/" + CAROL + "/messages", basic(CAROL, PW))).isEqualTo(200);
    assertThat(third).as("the others did not wait for the pending failure").isNotDone();
    assertError(third.get(5, TimeUnit.SECONDS), 401, "UNAUTHORIZED");

    // The 4th failure reaches the lockout: from then on even the right password gets 429 + Retry-After.
    assertError(server.get(ALICE_BOX, basic(ALICE, "wrong-4")), 401, "UNAUTHORIZED");
    HttpResponse<byte[]> locked = assertError(server.get(ALICE_BOX, basic(ALICE, PW)), 429, "TOO_MANY_ATTEMPTS");
    long retryAfter = Long.parseLong(locked.headers().firstValue("Retry-After").orElseThrow());
    assertThat(retryAfter).isEqualTo(1);
    // The IP is locked as a whole: while it lasts, not even the admin token is checked from there.
    assertError(server.get(ALICE_BOX, bearer(TOKEN)), 429, "TOO_MANY_ATTEMPTS");

    Thread.sleep(retryAfter * 1000 + 100);
    assertThat(server.get(ALICE_BOX, basic(ALICE, PW)).statusCode()).as("lockout over").isEqualTo(200);
    assertThat(server.get(ALICE_BOX, bearer(TOKEN)).statusCode()).isEqualTo(200);
  }
}
