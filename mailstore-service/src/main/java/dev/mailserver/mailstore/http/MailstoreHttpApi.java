package dev.mailserver.mailstore.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Supplier;

/**
 * The HTTP adapter. For now only the probes: {@code GET /livez} (the process answers) and
 * {@code GET /readyz} (store usable and bus consumers registered; 503 otherwise). The resource API
 * ({@code /api/v1/...}) will sit here as another thin adapter over {@code MailstoreService}.
 */
public final class MailstoreHttpApi {

  private final Vertx vertx;
  private final Supplier<Future<Boolean>> readiness;

  /** @param readiness evaluated per request; a failed or false future means not ready */
  public MailstoreHttpApi(Vertx vertx, Supplier<Future<Boolean>> readiness) {
    this.vertx = vertx;
    this.readiness = readiness;
  }

  public Router router() {
    Router router = Router.router(vertx);
    router.get("/livez").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    router.get("/readyz").handler(ctx -> {
      Future<Boolean> f;
      try {
        f = readiness.get();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        boolean ready = ar.succeeded() && Boolean.TRUE.equals(ar.result());
        json(ctx, ready ? 200 : 503, new JsonObject().put("status", ready ? "UP" : "DOWN"));
      });
    });
    return router;
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store")
        .end(body.encode());
  }
}
