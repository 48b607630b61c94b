package dev.mailserver.mailstore.http;

import static dev.mailserver.mailstore.http.TestServer.TOKEN;
import static dev.mailserver.mailstore.http.TestServer.assertError;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.bearer;
import static dev.mailserver.mailstore.http.TestServer.json;
import static dev.mailserver.mailstore.http.TestServer.simple;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import io.vertx.core.Future;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Account administration with the admin token. */
class AccountsHttpTest {

  static final String ADMIN = bearer(TOKEN);
  static final String ALICE = "alice@example.test";
  static final String ALICE_PW = "alice-secret-1";

  @TempDir
  static Path dataDir;
  static TestServer server;

  @BeforeAll
  static void start() {
    server = new TestServer(dataDir, TOKEN, Map.of(ALICE, ALICE_PW), null);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static HttpResponse<byte[]> create(String address, String password) {
    return server.send("POST", "/api/v1/accounts", ADMIN,
        new JsonObject().put("address", address).put("password", password).encode());
  }

  static MailstoreError errorOf(Future<?> f) {
    try {
      f.await();
    } catch (Throwable t) {
      return MailstoreException.from(t).error();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void createdAccountWorksAtOnceOnTheBusAndOverHttp() {
    HttpResponse<byte[]> r = create("New.User@Example.Test", "a-good-password");
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(json(r)).isEqualTo(new JsonObject().put("address", "new.user@example.test"));
    assertThat(r.headers().firstValue("Location")).hasValue("/api/v1/accounts/new.user%40example.test");

    // What SMTP (exists) and POP3 (authenticate) use: the same account table, no restart.
    assertThat(server.client.mailboxExists("new.user@example.test").await()).isTrue();
    assertThat(server.client.authenticate("new.user@example.test", "a-good-password").await()).isEqualTo("new.user@example.test");
    server.deliver("new.user@example.test", simple("welcome", "x@example.org", "hi"));
    JsonObject page = server.getJson("/api/v1/mailboxes/new.user@example.test/messages", basic("new.user@example.test", "a-good-password"));
    assertThat(page.getInteger("total")).isEqualTo(1);

    JsonObject one = server.getJson("/api/v1/accounts/new.user@example.test", ADMIN);
    assertThat(one.getString("address")).isEqualTo("new.user@example.test");
    assertThat(one.getInteger("messageCount")).isEqualTo(1);
    assertThat(one.getString("createdAt")).isNotNull();

    assertError(create("new.user@example.test", "another-password"), 409, "ACCOUNT_EXISTS");
    assertError(create("NEW.USER@example.test", "another-password"), 409, "ACCOUNT_EXISTS");
  }

  @Test
  void createValidation() {
    assertError(create("someone@elsewhere.org", "a-good-password"), 400, "DOMAIN_NOT_ALLOWED");
    assertError(create("not an address", "a-good-password"), 400, "INVALID_ADDRESS");
    assertError(create("../x@example.test", "a-good-password"), 400, "INVALID_ADDRESS");
    assertError(create("weak@example.test", ""), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "short1"), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "WEAK@example.test"), 400, "WEAK_PASSWORD");
    assertError(create("weakling@example.test", "Weakling"), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "password"), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "aaaaaaaaaa"), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "line\nbreak-pw"), 400, "WEAK_PASSWORD");
    assertError(create("weak@example.test", "$2a$10$abcdefghijklmnopqrstuv"), 400, "WEAK_PASSWORD");
    assertError(server.send("POST", "/api/v1/accounts", ADMIN, "{not json"), 400, "INVALID_JSON");
    assertError(server.send("POST", "/api/v1/accounts", ADMIN, "[1,2]"), 400, "INVALID_JSON");
    assertError(server.send("POST", "/api/v1/accounts", ADMIN, "{\"address\":\"a@example.test\"}"), 400, "INVALID_REQUEST");
    assertError(server.send("POST", "/api/v1/accounts", ADMIN, "{\"address\":5,\"password\":\"x\"}"), 400, "INVALID_REQUEST");
    // none of them was created
    assertThat(server.client.mailboxExists("weak@example.test").await()).isFalse();
    // a second configured domain is fine
    assertThat(create("someone@other.test", "a-good-password").statusCode()).isEqualTo(201);
  }

  @Test
  void bodyTooLargeIs413() {
    String big = new JsonObject().put("address", "big@example.test").put("password", "x".repeat(80 * 1024)).encode();
    assertError(server.send("POST", "/api/v1/accounts", ADMIN, big), 413, "BODY_TOO_LARGE");
    assertError(server.send("PUT", "/api/v1/accounts/" + ALICE + "/password", ADMIN, big), 413, "BODY_TOO_LARGE");
    assertThat(server.client.mailboxExists("big@example.test").await()).isFalse();
  }

  @Test
  void listAccounts() {
    assertThat(create("listed@example.test", "a-good-password").statusCode()).isEqualTo(201);
    server.deliver("listed@example.test", simple("a", "x@example.org", "1"));
    server.deliver("listed@example.test", simple("b", "x@example.org", "2"));
    JsonObject list = server.getJson("/api/v1/accounts", ADMIN);
    List<JsonObject> accounts = list.getJsonArray("accounts").stream().map(o -> (JsonObject) o).toList();
    assertThat(list.getInteger("total")).isEqualTo(accounts.size());
    assertThat(accounts).extracting(a -> a.getString("address")).contains(ALICE, "listed@example.test").isSorted();
    JsonObject listed = accounts.stream().filter(a -> a.getString("address").equals("listed@example.test")).findFirst().orElseThrow();
    assertThat(listed.getInteger("messageCount")).isEqualTo(2);
    assertThat(listed.getString("createdAt")).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    assertError(server.get("/api/v1/accounts/ghost@example.test", ADMIN), 404, "ACCOUNT_NOT_FOUND");
  }

  @Test
  void deleteNeedsConfirmationAndRemovesTheAccountAndItsMail() throws Exception {
    String addr = "leaving@example.test";
    assertThat(create(addr, "a-good-password").statusCode()).isEqualTo(201);
    String m1 = server.deliver(addr, simple("a", "x@example.org", "1"));
    server.deliver(addr, simple("b", "x@example.org", "2"));
    List<JsonObject> deletions = new CopyOnWriteArrayList<>();
    MessageConsumer<JsonObject> c = server.vertx.eventBus().consumer(Addresses.EVENTS_DELETED, m -> deletions.add(m.body()));
    c.completion().await();

    assertError(server.send("DELETE", "/api/v1/accounts/" + addr, ADMIN, null), 400, "CONFIRMATION_REQUIRED");
    assertError(server.send("DELETE", "/api/v1/accounts/" + addr + "?confirm=yes", ADMIN, null), 400, "CONFIRMATION_REQUIRED");
    assertThat(server.client.list(addr).await()).hasSize(2);
    assertThat(server.client.mailboxExists(addr).await()).isTrue();

    HttpResponse<byte[]> r = server.send("DELETE", "/api/v1/accounts/" + addr + "?confirm=true", ADMIN, null);
    assertThat(r.statusCode()).as(TestServer.text(r)).isEqualTo(200);
    assertThat(json(r)).isEqualTo(new JsonObject().put("address", addr).put("deletedMessages", 2));
    assertThat(server.client.mailboxExists(addr).await()).isFalse();
    assertThat(errorOf(server.client.authenticate(addr, "a-good-password"))).isEqualTo(MailstoreError.AUTH_FAILED);
    assertThat(errorOf(server.client.fetch(addr, m1))).isIn(MailstoreError.MESSAGE_NOT_FOUND, MailstoreError.MAILBOX_NOT_FOUND);
    assertThat(server.client.list(addr).transform(ar -> Future.succeededFuture(ar.succeeded() ? ar.result().size() : 0)).await()).isZero();
    assertThat(server.getJson("/api/v1/accounts", ADMIN).getJsonArray("accounts").stream()
        .map(o -> ((JsonObject) o).getString("address"))).doesNotContain(addr);
    assertError(server.send("DELETE", "/api/v1/accounts/" + addr + "?confirm=true", ADMIN, null), 404, "ACCOUNT_NOT_FOUND");
    // Deletions went through the service: the other adapters hear about them.
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> deletions.size() >= 2);
    assertThat(deletions).allSatisfy(e -> assertThat(e.getString("mailbox")).isEqualTo(addr));
    c.unregister().await();
  }

  @Test
  void passwordChangeMakesTheOldPasswordFailAtOnce() {
    String addr = "changer@example.test";
    assertThat(create(addr, "first-password").statusCode()).isEqualTo(201);
    String path = "/api/v1/mailboxes/" + addr + "/messages";
    // Once verified, the old credentials are cached: the change must drop them.
    assertThat(server.get(path, basic(addr, "first-password")).statusCode()).isEqualTo(200);
    assertThat(server.get(path, basic(addr, "first-password")).statusCode()).isEqualTo(200);

    HttpResponse<byte[]> r = server.send("PUT", "/api/v1/accounts/" + addr + "/password", ADMIN,
        new JsonObject().put("password", "second-password").encode());
    assertThat(r.statusCode()).as(TestServer.text(r)).isEqualTo(204);

    assertError(server.get(path, basic(addr, "first-password")), 401, "UNAUTHORIZED");
    assertThat(server.get(path, basic(addr, "second-password")).statusCode()).isEqualTo(200);
    assertThat(server.client.authenticate(addr, "second-password").await()).isEqualTo(addr);
    assertThat(errorOf(server.client.authenticate(addr, "first-password"))).isEqualTo(MailstoreError.AUTH_FAILED);

    assertError(server.send("PUT", "/api/v1/accounts/" + addr + "/password", ADMIN,
        new JsonObject().put("password", "changer").encode()), 400, "WEAK_PASSWORD");
    assertError(server.send("PUT", "/api/v1/accounts/ghost@example.test/password", ADMIN,
        new JsonObject().put("password", "a-good-password").encode()), 404, "ACCOUNT_NOT_FOUND");
    assertError(server.send("PUT", "/api/v1/accounts/" + addr + "/password", ADMIN, "{}"), 400, "INVALID_REQUEST");
  }

  @Test
  void accountRoutesAreAdminOnly() {
    String owner = basic(ALICE, ALICE_PW);
    assertError(server.get("/api/v1/accounts", owner), 403, "FORBIDDEN");
    assertError(server.send("POST", "/api/v1/accounts", owner,
        new JsonObject().put("address", "sneaky@example.test").put("password", "a-good-password").encode()), 403, "FORBIDDEN");
    assertError(server.send("DELETE", "/api/v1/accounts/" + ALICE + "?confirm=true", owner, null), 403, "FORBIDDEN");
    assertError(server.send("PUT", "/api/v1/accounts/" + ALICE + "/password", owner,
        new JsonObject().put("password", "a-good-password").encode()), 403, "FORBIDDEN");
    HttpResponse<byte[]> none = assertError(server.get("/api/v1/accounts", null), 401, "UNAUTHORIZED");
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"mailstore\"");
    HttpResponse<byte[]> wrong = assertError(server.get("/api/v1/accounts", bearer("wrong-token")), 401, "UNAUTHORIZED");
    assertThat(wrong.headers().firstValue("WWW-Authenticate").orElseThrow()).contains("error=\"invalid_token\"");
    assertError(server.get("/api/v1/accounts", bearer(TOKEN + "x")), 401, "UNAUTHORIZED");
    assertThat(server.client.mailboxExists("sneaky@example.test").await()).isFalse();
    assertThat(server.client.mailboxExists(ALICE).await()).isTrue();
  }
}
