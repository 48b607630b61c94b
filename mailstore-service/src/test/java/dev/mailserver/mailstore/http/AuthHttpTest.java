package dev.mailserver.mailstore.http;

import static dev.mailserver.mailstore.http.TestServer.TOKEN;
import static dev.mailserver.mailstore.http.TestServer.assertError;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.bearer;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may do what, against a deployed verticle. Throttling has its own test. */
class AuthHttpTest {

  static final String ALICE = "alice@example.test";
  static final String ALICE_PW = "alice-secret-1";
  static final String BOB = "bob@example.test";
  static final String BOB_PW = "bob-secret-12";
  static final String ALICE_BOX = "/api/v1/mailboxes/" + ALICE + "/messages";
  static final String BOB_BOX = "/api/v1/mailboxes/" + BOB + "/messages";

  @TempDir
  static Path dataDir;
  static TestServer server;

  @BeforeAll
  static void start() {
    server = new TestServer(dataDir, TOKEN, Map.of(ALICE, ALICE_PW, BOB, BOB_PW), null);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void noCredentialsIs401WithBothChallenges() {
    HttpResponse<byte[]> r = assertError(server.get(ALICE_BOX, null), 401, "UNAUTHORIZED");
    String challenge = r.headers().firstValue("WWW-Authenticate").orElseThrow();
    assertThat(challenge).startsWith("Basic realm=\"mailstore\", charset=\"UTF-8\"").contains("Bearer realm=\"mailstore\"");
    assertError(server.get(ALICE_BOX + "/x/raw", null), 401, "UNAUTHORIZED");
    assertError(server.get("/api/v1/mailboxes/" + ALICE + "/search", null), 401, "UNAUTHORIZED");
    assertError(server.get("/api/v1/events", null), 401, "UNAUTHORIZED");
  }

  @Test
  void wrongOrMalformedBasicIs401() {
    assertError(server.get(ALICE_BOX, basic(ALICE, "wrong")), 401, "UNAUTHORIZED");
    assertError(server.get(ALICE_BOX, basic("nobody@example.test", "whatever")), 401, "UNAUTHORIZED");
    assertError(server.get(ALICE_BOX, basic(ALICE, "")), 401, "UNAUTHORIZED");
    assertError(server.get(ALICE_BOX, "Basic !!!not-base64"), 401, "UNAUTHORIZED");
    assertError(server.get(ALICE_BOX, "Basic " + java.util.Base64.getEncoder().encodeToString("no-colon".getBytes())), 401, "UNAUTHORIZED");
    assertError(server.get(ALICE_BOX, "Digest username=\"alice\""), 401, "UNAUTHORIZED");
  }

  @Test
  void ownerSeesOnlyTheirOwnMailbox() {
    assertThat(server.get(ALICE_BOX, basic(ALICE, ALICE_PW)).statusCode()).isEqualTo(200);
    // Case of the address and of the scheme do not matter.
    assertThat(server.get(ALICE_BOX, "basic " + basic("ALICE@Example.Test", ALICE_PW).substring(6)).statusCode()).isEqualTo(200);
    assertThat(server.get("/api/v1/mailboxes/Alice@EXAMPLE.test/messages", basic(ALICE, ALICE_PW)).statusCode()).isEqualTo(200);
    assertError(server.get(BOB_BOX, basic(ALICE, ALICE_PW)), 403, "FORBIDDEN");
    assertError(server.get("/api/v1/mailboxes/" + BOB + "/search?subject=x", basic(ALICE, ALICE_PW)), 403, "FORBIDDEN");
    assertError(server.get(BOB_BOX + "/next?timeout=0", basic(ALICE, ALICE_PW)), 403, "FORBIDDEN");
    assertError(server.send("DELETE", BOB_BOX, basic(ALICE, ALICE_PW), null), 403, "FORBIDDEN");
    // A mailbox that does not exist looks the same to an owner as another's: no existence oracle.
    assertError(server.get("/api/v1/mailboxes/ghost@example.test/messages", basic(ALICE, ALICE_PW)), 403, "FORBIDDEN");
    // Owners may not read the event stream of another mailbox.
    assertError(server.get("/api/v1/events?mailbox=" + BOB, basic(ALICE, ALICE_PW)), 403, "FORBIDDEN");
    // A password with a colon is fine (RFC 7617: only the user-id cannot contain one).
    assertError(server.get(ALICE_BOX, basic(ALICE, ALICE_PW + ":x")), 401, "UNAUTHORIZED");
  }

  @Test
  void adminTokenOpensEveryMailboxAndWrongTokenIs401() {
    assertThat(server.get(ALICE_BOX, bearer(TOKEN)).statusCode()).isEqualTo(200);
    assertThat(server.get(BOB_BOX, bearer(TOKEN)).statusCode()).isEqualTo(200);
    assertThat(server.get(BOB_BOX, "bearer " + TOKEN).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r = assertError(server.get(BOB_BOX, bearer("not-the-token")), 401, "UNAUTHORIZED");
    assertThat(r.headers().firstValue("WWW-Authenticate").orElseThrow()).contains("error=\"invalid_token\"");
    assertError(server.get(BOB_BOX, bearer(TOKEN.substring(1))), 401, "UNAUTHORIZED");
    assertError(server.get("/api/v1/accounts", bearer("")), 401, "UNAUTHORIZED");
  }

  @Test
  void probesAndOpenApiNeedNoCredentials() {
    assertThat(server.get("/livez", null).statusCode()).isEqualTo(200);
    assertThat(server.get("/readyz", null).statusCode()).isEqualTo(200);
    assertThat(server.getJson("/api/v1/openapi.json", null).getString("openapi")).startsWith("3.");
  }

  /** The same system with no admin token configured. */
  @Nested
  class WithoutAdminToken {
    @TempDir
    Path otherDir;

    @Test
    void adminRoutesAreDisabledNotOpen() {
      try (TestServer noAdmin = new TestServer(otherDir, "", Map.of(ALICE, ALICE_PW), null)) {
        for (String[] req : new String[][] {{"GET", "/api/v1/accounts"}, {"POST", "/api/v1/accounts"},
            {"GET", "/api/v1/accounts/" + ALICE}, {"DELETE", "/api/v1/accounts/" + ALICE + "?confirm=true"},
            {"PUT", "/api/v1/accounts/" + ALICE + "/password"}}) {
          String body = req[0].equals("POST") || req[0].equals("PUT")
              ? new JsonObject().put("address", "x@example.test").put("password", "a-good-password").encode() : null;
          for (String auth : new String[] {null, bearer(""), bearer("anything"), basic(ALICE, ALICE_PW)}) {
            assertError(noAdmin.send(req[0], req[1], auth, body), 403, "ADMIN_DISABLED");
          }
        }
        // A bearer token cannot open a mailbox either; the owner still can.
        assertError(noAdmin.get(ALICE_BOX, bearer("anything")), 403, "ADMIN_DISABLED");
        assertThat(noAdmin.get(ALICE_BOX, basic(ALICE, ALICE_PW)).statusCode()).isEqualTo(200);
        assertThat(noAdmin.client.mailboxExists(ALICE).await()).isTrue();
        assertThat(noAdmin.client.mailboxExists("x@example.test").await()).isFalse();
      }
    }
  }
}
