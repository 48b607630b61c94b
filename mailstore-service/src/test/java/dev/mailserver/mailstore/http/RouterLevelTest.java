package dev.mailserver.mailstore.http;

import dev.mailserver.common.http.HttpServers;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.bearer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.accounts.AccountSeed;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.accounts.Passwords;
import dev.mailserver.mailstore.store.DeleteResult;
import dev.mailserver.mailstore.store.ForwardingStore;
import dev.mailserver.mailstore.store.InMemoryStore;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The router assembled around an in-memory store (no verticle): OpenAPI coverage of every route,
 * and the events route before and after its handler is given.
 */
class RouterLevelTest {

  static final String TOKEN = "router-test-token";

  @TempDir
  Path dir;
  Vertx vertx;
  FlakyStore store;
  MailstoreHttpApi api;
  HttpServer server;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    store = new FlakyStore(new InMemoryStore());
    Accounts accounts = new Accounts(dir.resolve("accounts.json"), store, new Passwords(4));
    accounts.load();
    accounts.seed(List.of(new AccountSeed("owner@example.test", "owner-password"), new AccountSeed("other@example.test", "other-password")));
    WorkerExecutor pool = vertx.createSharedWorkerExecutor("router-test", 2);
    MailstoreService service = new MailstoreService(vertx, store, accounts, pool, pool);
    api = new MailstoreHttpApi(vertx, service, HttpApiConfig.defaults(TOKEN, List.of("example.test")),
        () -> Future.succeededFuture(true));
    server = vertx.createHttpServer(HttpServers.options()).requestHandler(api.router()).listen(0, "127.0.0.1").await();
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  HttpResponse<String> get(String path, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + path));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** "GET /api/v1/mailboxes/{address}/messages", with Vert.x's ":param" written as OpenAPI's "{param}". */
  static String key(HttpMethod method, String path) {
    return method.name() + " " + path.replaceAll(":([A-Za-z0-9_]+)", "{$1}");
  }

  @Test
  void openApiDocumentsExactlyTheRoutesTheRouterServes() throws Exception {
    Set<String> served = new TreeSet<>();
    for (Route r : api.router().getRoutes()) {
      if (r.getPath() == null) {
        continue; // the catch-all failure handler
      }
      assertThat(r.methods()).as("route %s must name its methods", r.getPath()).isNotEmpty();
      r.methods().forEach(m -> served.add(key(m, r.getPath())));
    }
    HttpResponse<String> resp = get("/api/v1/openapi.json", null);
    assertThat(resp.statusCode()).isEqualTo(200);
    JsonObject doc = new JsonObject(resp.body());
    assertThat(doc.getString("openapi")).startsWith("3.");
    Set<String> documented = new TreeSet<>();
    JsonObject paths = doc.getJsonObject("paths");
    for (String p : paths.fieldNames()) {
      for (String field : paths.getJsonObject(p).fieldNames()) {
        if (Set.of("get", "put", "post", "delete", "patch", "head", "options").contains(field)) {
          documented.add(field.toUpperCase(Locale.ROOT) + " " + p);
          JsonObject op = paths.getJsonObject(p).getJsonObject(field);
          assertThat(op.getJsonObject("responses").fieldNames()).as(p + " " + field).isNotEmpty();
        }
      }
    }
    assertThat(served).contains("GET /api/v1/events", "GET /livez", "GET /readyz", "GET /api/v1/openapi.json",
        "POST /api/v1/accounts", "GET /api/v1/mailboxes/{address}/messages/{id}/parts/{partId}");
    assertThat(documented).isEqualTo(served);
    // Every {param} of a documented path is declared as a path parameter.
    for (String p : paths.fieldNames()) {
      JsonObject item = paths.getJsonObject(p);
      String all = item.encode();
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{([a-zA-Z]+)}").matcher(p);
      while (m.find()) {
        assertThat(all).as(p).contains("\"name\":\"" + m.group(1) + "\",\"in\":\"path\"");
      }
    }
  }

  @Test
  void eventsRouteAuthenticatesThenAnswers503UntilAHandlerIsGiven() throws Exception {
    assertThat(get("/api/v1/events", null).statusCode()).isEqualTo(401);
    HttpResponse<String> r = get("/api/v1/events", bearer(TOKEN));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("EVENTS_UNAVAILABLE");

    api.eventsHandler(ctx -> {
      Principal p = ctx.get(Principal.CONTEXT_KEY);
      ctx.response().end(new JsonObject().put("admin", p.admin()).put("mailbox", p.mailbox()).encode());
    });
    assertThat(new JsonObject(get("/api/v1/events", bearer(TOKEN)).body()))
        .isEqualTo(new JsonObject().put("admin", true).put("mailbox", (String) null));
    assertThat(new JsonObject(get("/api/v1/events?mailbox=owner@example.test", basic("owner@example.test", "owner-password")).body()))
        .isEqualTo(new JsonObject().put("admin", false).put("mailbox", "owner@example.test"));
    assertThat(get("/api/v1/events", basic("owner@example.test", "owner-password")).statusCode()).isEqualTo(200);
    // An owner may not ask for another mailbox's events.
    HttpResponse<String> other = get("/api/v1/events?mailbox=other@example.test", basic("owner@example.test", "owner-password"));
    assertThat(other.statusCode()).isEqualTo(403);
    assertThat(get("/api/v1/events", basic("owner@example.test", "wrong")).statusCode()).isEqualTo(401);
    assertThat(get("/api/v1/events", bearer("wrong")).statusCode()).isEqualTo(401);
  }

  /** A store whose disk can "fail" on demand. */
  static final class FlakyStore extends ForwardingStore {
    volatile boolean down;

    FlakyStore(MailStore delegate) {
      super(delegate);
    }

    private void check() {
      if (down) {
        throw new MailstoreException(MailstoreError.STORAGE_FAILURE, "disk on fire");
      }
    }

    @Override
    public List<DeliverResult.Stored> deliver(String sender, List<MailboxName> recipients, Buffer content) {
      check();
      return super.deliver(sender, recipients, content);
    }

    @Override
    public List<MessageInfo> list(MailboxName mailbox) {
      check();
      return super.list(mailbox);
    }

    @Override
    public Buffer fetch(MailboxName mailbox, String id) {
      check();
      return super.fetch(mailbox, id);
    }

    @Override
    public Buffer fetchTop(MailboxName mailbox, String id, int bodyLines) {
      check();
      return super.fetchTop(mailbox, id, bodyLines);
    }

    @Override
    public DeleteResult delete(MailboxName mailbox, Collection<String> ids) {
      check();
      return super.delete(mailbox, ids);
    }
  }

  @Test
  void storeFailuresAre503WithRetryAfter() throws Exception {
    String path = "/api/v1/mailboxes/owner@example.test/messages";
    assertThat(get(path, bearer(TOKEN)).statusCode()).isEqualTo(200);
    store.down = true;
    for (String p : List.of(path, path + "/some-id", path + "/some-id/raw", "/api/v1/mailboxes/owner@example.test/search?text=x")) {
      HttpResponse<String> r = get(p, bearer(TOKEN));
      assertThat(r.statusCode()).as(p).isEqualTo(503);
      assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("STORAGE_FAILURE");
      assertThat(r.headers().firstValue("Retry-After")).hasValue("5");
    }
    store.down = false;
    assertThat(get(path, bearer(TOKEN)).statusCode()).isEqualTo(200);
  }

  @Test
  void errorMapping() {
    assertThat(HttpErrors.status(MailstoreError.INVALID_REQUEST)).isEqualTo(400);
    assertThat(HttpErrors.status(MailstoreError.AUTH_FAILED)).isEqualTo(401);
    assertThat(HttpErrors.status(MailstoreError.MAILBOX_NOT_FOUND)).isEqualTo(404);
    assertThat(HttpErrors.status(MailstoreError.MESSAGE_NOT_FOUND)).isEqualTo(404);
    assertThat(HttpErrors.status(MailstoreError.TOO_LARGE)).isEqualTo(413);
    assertThat(HttpErrors.status(MailstoreError.STORAGE_FAILURE)).isEqualTo(503);
    assertThat(HttpErrors.status(MailstoreError.UNAVAILABLE)).isEqualTo(503);
    assertThat(HttpErrors.status(MailstoreError.INTERNAL)).isEqualTo(500);
    HttpError e = HttpErrors.toHttpError(new MailstoreException(MailstoreError.UNAVAILABLE, "no mailstore"), 500);
    assertThat(e.status()).isEqualTo(503);
    assertThat(e.code()).isEqualTo("UNAVAILABLE");
    assertThat(e.getMessage()).isEqualTo("no mailstore");
    assertThat(HttpErrors.toHttpError(new MailstoreException(MailstoreError.AUTH_FAILED, "x"), 500).headers())
        .containsKey("WWW-Authenticate");
    assertThat(HttpErrors.toHttpError(null, 413).code()).isEqualTo("BODY_TOO_LARGE");
    assertThat(HttpErrors.toHttpError(new IllegalStateException("bug"), 500).status()).isEqualTo(500);
  }

  @Test
  void probesOnlyServerSaysTheStoreIsMissing() throws Exception {
    MailstoreHttpApi probes = new MailstoreHttpApi(vertx, () -> Future.succeededFuture(true));
    HttpServer s = vertx.createHttpServer(HttpServers.options()).requestHandler(probes.router()).listen(0, "127.0.0.1").await();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.actualPort()
        + "/api/v1/mailboxes/owner@example.test/messages")).header("Authorization", basic("owner@example.test", "x")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(503);
    HttpResponse<String> admin = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.actualPort()
        + "/api/v1/accounts")).header("Authorization", bearer("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(new JsonObject(admin.body()).getString("error")).isEqualTo("ADMIN_DISABLED");
  }
}
