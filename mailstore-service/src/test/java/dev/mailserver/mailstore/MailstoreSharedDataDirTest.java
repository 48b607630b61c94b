package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two mailstores on one data directory, each in its own (non-clustered) Vert.x, as two pods on a
 * shared volume: each has its own event bus, account table and worker pools, and they meet only in
 * the files. bcrypt cost 4 (package-private constructor) keeps the starts fast.
 */
class MailstoreSharedDataDirTest {

  static final String MSG = "From: carol@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

  @TempDir
  Path dataDir;
  Vertx vertxA;
  Vertx vertxB;
  MailstoreClient clientA;
  MailstoreClient clientB;

  @BeforeEach
  void setUp() {
    vertxA = Vertx.vertx();
    vertxB = Vertx.vertx();
    clientA = new MailstoreClient(vertxA, 10_000);
    clientB = new MailstoreClient(vertxB, 10_000);
  }

  @AfterEach
  void tearDown() {
    vertxA.close().await();
    vertxB.close().await();
  }

  JsonObject config(Path dir, String... addressesAndPasswords) {
    JsonArray accounts = new JsonArray();
    for (int i = 0; i < addressesAndPasswords.length; i += 2) {
      accounts.add(new JsonObject().put("address", addressesAndPasswords[i]).put("password", addressesAndPasswords[i + 1]));
    }
    return new JsonObject().put("dataDir", dir.toString())
        .put("domains", new JsonArray().add("example.test"))
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0))
        .put("accounts", accounts);
  }

  static MailstoreVerticle deploy(Vertx vertx, JsonObject config) {
    MailstoreVerticle v = new MailstoreVerticle(4);
    vertx.deployVerticle(v, new DeploymentOptions().setConfig(config)).await();
    return v;
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
  void anAccountSeededByAnotherInstanceIsSeenWithinTwoSeconds() {
    deploy(vertxA, config(dataDir, "alice@example.test", "alice-pw"));
    assertThat(clientA.mailboxExists("bob@example.test").await()).isFalse();

    deploy(vertxB, config(dataDir, "bob@example.test", "bob-pw"));
    long seededAt = System.nanoTime();
    // Listing reads the disk, where B made bob's mailbox before writing the account: no wait at all.
    assertThat(clientA.list("bob@example.test").await()).isEmpty();

    // A learns about bob from the file alone: no restart, no message between the instances. A miss
    // re-reads the file before answering, so the very first lookup after B's seeding already sees bob
    // (SMTP would refuse the recipient permanently otherwise).
    assertThat(clientA.mailboxExists("bob@example.test").await()).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - seededAt)).isLessThan(Duration.ofMillis(2500));
    assertThat(clientA.authenticate("bob@example.test", "bob-pw").await()).isEqualTo("bob@example.test");
    assertThat(errorOf(clientA.authenticate("bob@example.test", "wrong"))).isEqualTo(MailstoreError.AUTH_FAILED);
    // And A can take mail for bob and list his (shared) mailbox.
    String id = clientA.deliver(request("bob@example.test")).await().stored().get(0).messageId();
    assertThat(clientA.list("bob@example.test").await()).extracting(MessageInfo::id).containsExactly(id);
    // B's seeding kept A's account.
    assertThat(clientB.authenticate("alice@example.test", "alice-pw").await()).isEqualTo("alice@example.test");
  }

  @Test
  void aLoginCachedByOneInstanceStopsWorkingOnceAnotherChangesThePassword() throws Exception {
    deploy(vertxA, config(dataDir, "alice@example.test", "alice-pw-1"));
    JsonObject configB = config(dataDir);
    configB.getJsonObject("http").put("adminToken", "test-admin-token");
    MailstoreVerticle b = deploy(vertxB, configB);
    // Verified once, then answered from A's login cache.
    assertThat(clientA.authenticate("alice@example.test", "alice-pw-1").await()).isEqualTo("alice@example.test");
    assertThat(clientA.authenticate("alice@example.test", "alice-pw-1").await()).isEqualTo("alice@example.test");

    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.actualHttpPort() + "/api/v1/accounts/alice@example.test/password"))
            .header("Authorization", "Bearer test-admin-token").header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString("{\"password\":\"alice-pw-2-long\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);

    // A holds the old credentials in its cache, but they name a password hash the account no longer
    // has once A's table is refreshed from the file (about a second): the old password stops working.
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(errorOf(clientA.authenticate("alice@example.test", "alice-pw-1"))).isEqualTo(MailstoreError.AUTH_FAILED));
    assertThat(clientA.authenticate("alice@example.test", "alice-pw-2-long").await()).isEqualTo("alice@example.test");
  }

  @Test
  void deliveriesByEitherAreListedByBothAndADoubleDeleteIsOneDeleteAndOneMissing() {
    deploy(vertxA, config(dataDir, "alice@example.test", "pw"));
    deploy(vertxB, config(dataDir, "alice@example.test", "pw"));

    String fromA = clientA.deliver(request("alice@example.test")).await().stored().get(0).messageId();
    String fromB = clientB.deliver(request("alice@example.test")).await().stored().get(0).messageId();

    // No cache: each listing is read from disk at once.
    assertThat(clientA.list("alice@example.test").await()).extracting(MessageInfo::id).containsExactly(fromA, fromB);
    assertThat(clientB.list("alice@example.test").await()).extracting(MessageInfo::id).containsExactly(fromA, fromB);
    assertThat(clientB.fetch("alice@example.test", fromA).await().toString()).endsWith(MSG);

    // Both delete fromA at the same time (as two POP3 sessions on different pods might).
    Future<JsonObject> delA = vertxA.eventBus().<JsonObject>request(Addresses.DELETE,
        new JsonObject().put("mailbox", "alice@example.test").put("ids", new JsonArray().add(fromA))).map(m -> m.body());
    Future<JsonObject> delB = vertxB.eventBus().<JsonObject>request(Addresses.DELETE,
        new JsonObject().put("mailbox", "alice@example.test").put("ids", new JsonArray().add(fromA))).map(m -> m.body());
    List<JsonObject> replies = List.of(delA.await(), delB.await());
    assertThat(replies).extracting(r -> r.getInteger("deleted")).containsExactlyInAnyOrder(1, 0);
    assertThat(replies).filteredOn(r -> r.getInteger("deleted") == 0).singleElement()
        .satisfies(r -> assertThat(r.getJsonArray("missing")).containsExactly(fromA));
    assertThat(replies).filteredOn(r -> r.getInteger("deleted") == 1).singleElement()
        .satisfies(r -> assertThat(r.getJsonArray("missing")).isEmpty());

    assertThat(clientA.list("alice@example.test").await()).extracting(MessageInfo::id).containsExactly(fromB);
    assertThat(clientB.list("alice@example.test").await()).extracting(MessageInfo::id).containsExactly(fromB);
    assertThat(errorOf(clientA.fetch("alice@example.test", fromA))).isEqualTo(MailstoreError.MESSAGE_NOT_FOUND);
  }

  @Test
  void twoInstancesStartingTogetherOnAnEmptyDirectoryCreateOneDemoAccount() throws Exception {
    // Rounds, because one start may by chance finish before the other begins.
    PrintStream original = System.out;
    for (int round = 0; round < 5; round++) {
      Path dir = Files.createDirectories(dataDir.resolve("round" + round));
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      List<String> deployments = new ArrayList<>();
      try {
        Future<String> a = vertxA.deployVerticle(new MailstoreVerticle(4), new DeploymentOptions().setConfig(config(dir)));
        Future<String> b = vertxB.deployVerticle(new MailstoreVerticle(4), new DeploymentOptions().setConfig(config(dir)));
        deployments.add(a.await());
        deployments.add(b.await());
      } finally {
        System.setOut(original);
      }
      String out = captured.toString(StandardCharsets.UTF_8);
      Matcher m = Pattern.compile("password: ([A-Za-z0-9_-]{16,})").matcher(out);
      List<String> passwords = new ArrayList<>();
      while (m.find()) {
        passwords.add(m.group(1));
      }
      assertThat(passwords).as("round %d, demo banners in:%n%s", round, out).hasSize(1);
      JsonArray accounts = new JsonObject(Files.readString(dir.resolve("accounts.json"))).getJsonArray("accounts");
      assertThat(accounts).hasSize(1);
      assertThat(accounts.getJsonObject(0).getString("address")).isEqualTo("demo@example.test");
      // The announced password works on both instances.
      assertThat(clientA.authenticate("demo@example.test", passwords.get(0)).await()).isEqualTo("demo@example.test");
      assertThat(clientB.authenticate("demo@example.test", passwords.get(0)).await()).isEqualTo("demo@example.test");
      vertxA.undeploy(deployments.get(0)).await();
      vertxB.undeploy(deployments.get(1)).await();
    }
  }

  @Test
  void isReadyFollowsTheLifecycleAndTheDataDirectory() throws Exception {
    MailstoreVerticle v = new MailstoreVerticle(4);
    assertThat(v.isReady()).as("before start").isFalse();
    String id = vertxA.deployVerticle(v, new DeploymentOptions().setConfig(config(dataDir, "alice@example.test", "pw"))).await();
    assertThat(v.isReady()).as("right after the deployment completed").isTrue();
    assertThat(readyz(v)).isEqualTo(200);

    // The mail directory going away (a volume unmounted under us) is noticed by the periodic check.
    // (Permissions would not do: tests may run as root, who writes anyway.)
    Path mail = dataDir.resolve("mail");
    Path away = dataDir.resolve("mail-away");
    Files.move(mail, away);
    try {
      await().atMost(Duration.ofSeconds(5)).until(() -> !v.isReady());
      assertThat(readyz(v)).isEqualTo(503);
    } finally {
      Files.move(away, mail);
    }
    await().atMost(Duration.ofSeconds(5)).until(v::isReady);
    assertThat(readyz(v)).isEqualTo(200);

    vertxA.undeploy(id).await();
    assertThat(v.isReady()).as("after stop").isFalse();
  }

  static int readyz(MailstoreVerticle v) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + v.actualHttpPort() + "/readyz")).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode();
  }
}
