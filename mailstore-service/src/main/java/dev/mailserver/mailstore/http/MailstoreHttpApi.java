package dev.mailserver.mailstore.http;

import dev.mailserver.mailstore.MailstoreService;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The HTTP adapter: probes, and the versioned resource API under {@code /api/v1} as a thin layer
 * over {@link MailstoreService} (it never sees Maildir). Described route by route in
 * {@code GET /api/v1/openapi.json} ({@link OpenApi}):
 * <ul>
 *   <li>{@code GET /livez}, {@code GET /readyz}: probes, no authentication;</li>
 *   <li>{@code /api/v1/accounts[/{address}[/password]]}: account administration, admin token only;</li>
 *   <li>{@code /api/v1/mailboxes/{address}/messages[/next|/{id}[/raw|/parts/{partId}]]} and
 *   {@code .../search}: the mailbox's owner (HTTP Basic) or the admin;</li>
 *   <li>{@code GET /api/v1/events}: the event stream, served by the handler given to
 *   {@link #eventsHandler(Handler)} (503 EVENTS_UNAVAILABLE until then), after authentication.</li>
 * </ul>
 * Authentication and throttling: {@link Authenticator}; errors: {@link HttpErrors}.
 */
public final class MailstoreHttpApi {

  public static final String API = "/api/v1";

  private final Vertx vertx;
  private final MailstoreService service;
  private final HttpApiConfig config;
  private final Supplier<Future<Boolean>> readiness;
  private final Authenticator auth;
  private final MessageIndex index;
  private volatile Handler<RoutingContext> eventsHandler;
  private Router router;

  /** Probes only: every API route answers 503 (no service), admin routes 403 ADMIN_DISABLED. */
  public MailstoreHttpApi(Vertx vertx, Supplier<Future<Boolean>> readiness) {
    this(vertx, null, HttpApiConfig.defaults("", List.of()), readiness);
  }

  /**
   * @param service   the mailstore core; null only for a probes-only server
   * @param readiness evaluated per {@code /readyz} request; a failed or false future means not ready
   */
  public MailstoreHttpApi(Vertx vertx, MailstoreService service, HttpApiConfig config, Supplier<Future<Boolean>> readiness) {
    this.vertx = vertx;
    this.service = service;
    this.config = config;
    this.readiness = readiness;
    this.auth = new Authenticator(vertx, service, config.adminToken(), new AuthThrottle(config.throttle()));
    this.index = service == null ? null : new MessageIndex(vertx, service, config.summaryCacheSize());
  }

  /**
   * Sets the handler of {@code GET /api/v1/events} (the SSE stream). It runs after authentication
   * and finds the caller's {@link Principal} under {@link Principal#CONTEXT_KEY}. May be set before
   * or after {@link #router()} is built.
   */
  public MailstoreHttpApi eventsHandler(Handler<RoutingContext> handler) {
    this.eventsHandler = handler;
    return this;
  }

  /** The router (built once). */
  public synchronized Router router() {
    if (router == null) {
      router = build();
    }
    return router;
  }

  private Router build() {
    Router r = Router.router(vertx);
    r.route().failureHandler(HttpErrors::handle);
    r.errorHandler(404, ctx -> HttpErrors.send(ctx, HttpErrors.toHttpError(null, 404)));
    r.errorHandler(405, ctx -> HttpErrors.send(ctx, HttpErrors.toHttpError(null, 405)));

    r.get("/livez").handler(ctx -> Responses.json(ctx, 200, new JsonObject().put("status", "UP")));
    r.get("/readyz").handler(this::readyz);
    JsonObject openapi = OpenApi.document();
    r.get(API + "/openapi.json").handler(ctx -> Responses.json(ctx, 200, openapi));

    r.get(API + "/events").handler(auth.anyCaller("mailbox")).handler(ctx -> {
      Handler<RoutingContext> h = eventsHandler;
      if (h == null) {
        ctx.fail(new HttpError(503, "EVENTS_UNAVAILABLE", "the event stream is not available",
            Map.of("Retry-After", HttpErrors.RETRY_AFTER_UNAVAILABLE)));
      } else {
        h.handle(ctx);
      }
    });

    // Bodies only where the API takes one, read before authentication (which may be asynchronous),
    // and capped: a larger body is refused with 413 as soon as its Content-Length or size says so.
    BodyHandler body = BodyHandler.create(false).setBodyLimit(config.bodyLimit());
    Handler<RoutingContext> admin = auth.admin();
    Handler<RoutingContext> owner = auth.mailbox();

    if (service == null) {
      // A probes-only server: authenticate (so the answers are honest) and then say the store is missing.
      Handler<RoutingContext> unavailable = ctx -> ctx.fail(new HttpError(503, "UNAVAILABLE", "no mailstore behind this server"));
      r.route(API + "/accounts*").handler(admin).handler(unavailable);
      r.route(API + "/mailboxes/*").handler(owner).handler(unavailable);
      return r;
    }

    AccountsApi accounts = new AccountsApi(service, index, config.domains());
    r.post(API + "/accounts").handler(body).handler(admin).handler(accounts::create);
    r.get(API + "/accounts").handler(admin).handler(accounts::list);
    r.get(API + "/accounts/:address").handler(admin).handler(accounts::get);
    r.delete(API + "/accounts/:address").handler(admin).handler(accounts::delete);
    r.put(API + "/accounts/:address/password").handler(body).handler(admin).handler(accounts::changePassword);

    MessagesApi messages = new MessagesApi(service, index);
    WaitApi waits = new WaitApi(vertx, service, index);
    String mailbox = API + "/mailboxes/:address";
    r.get(mailbox + "/messages").handler(owner).handler(messages::list);
    r.delete(mailbox + "/messages").handler(owner).handler(messages::deleteAll);
    // Before /messages/:id, which would otherwise take "next" for an id.
    r.get(mailbox + "/messages/next").handler(owner).handler(waits::handle);
    r.get(mailbox + "/messages/:id").handler(owner).handler(messages::detail);
    r.delete(mailbox + "/messages/:id").handler(owner).handler(messages::deleteOne);
    r.get(mailbox + "/messages/:id/raw").handler(owner).handler(messages::raw);
    r.get(mailbox + "/messages/:id/parts/:partId").handler(owner).handler(messages::part);
    r.get(mailbox + "/search").handler(owner).handler(messages::search);
    return r;
  }

  private void readyz(RoutingContext ctx) {
    Future<Boolean> f;
    try {
      f = readiness.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      boolean ready = ar.succeeded() && Boolean.TRUE.equals(ar.result());
      Responses.json(ctx, ready ? 200 : 503, new JsonObject().put("status", ready ? "UP" : "DOWN"));
    });
  }
}
