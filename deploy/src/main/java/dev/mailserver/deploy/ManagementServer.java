package dev.mailserver.deploy;

import dev.mailserver.common.http.HttpServers;
import dev.mailserver.common.bus.MailstoreClient;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The management port of a process: {@code GET /livez} and {@code GET /readyz} for every role it
 * runs (one port serves all roles of the process). Kubernetes probes and load balancers use them.
 * {@code GET /metrics} returns the process's meters in the Prometheus text format (0.0.4) for a
 * scraper.
 *
 * <ul>
 *   <li>live: the process answers HTTP at all (its event loop is not stuck);</li>
 *   <li>ready: every role's listener is up, the mailstore role (if here) is ready, and SMTP and POP3
 *       (if here) can reach a mailstore on the bus. A not-ready SMTP pod is taken out of the load
 *       balancer while it would answer 451 anyway.</li>
 * </ul>
 */
public final class ManagementServer {

  public static final String LIVEZ = "/livez";
  public static final String READYZ = "/readyz";
  public static final String METRICS = "/metrics";
  /** The Prometheus text exposition format, version 0.0.4: what every Prometheus scrapes. */
  public static final String METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  /** A mailstore that does not answer a ping in this time counts as unreachable. */
  static final long PING_TIMEOUT_MS = 2_000;

  private final Vertx vertx;
  private final Map<String, BooleanSupplier> localChecks = new LinkedHashMap<>();
  private final boolean needsMailstore;
  private final MailstoreClient client;
  private final PrometheusMeterRegistry metrics;
  private HttpServer server;

  /**
   * @param localChecks    name -> a cheap, thread-safe check of a local component
   * @param needsMailstore whether readiness requires a mailstore answering on the bus
   */
  public ManagementServer(Vertx vertx, Map<String, BooleanSupplier> localChecks, boolean needsMailstore) {
    this(vertx, localChecks, needsMailstore, null);
  }

  /** @param metrics what {@link #METRICS} serves; null for no metrics (404) */
  public ManagementServer(Vertx vertx, Map<String, BooleanSupplier> localChecks, boolean needsMailstore,
                          PrometheusMeterRegistry metrics) {
    this.vertx = vertx;
    this.localChecks.putAll(localChecks);
    this.needsMailstore = needsMailstore;
    this.client = new MailstoreClient(vertx, PING_TIMEOUT_MS);
    this.metrics = metrics;
  }

  public Future<HttpServer> listen(String host, int port) {
    server = vertx.createHttpServer(HttpServers.options().setHost(host).setPort(port));
    return server.requestHandler(this::handle).listen();
  }

  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }

  public Future<Void> close() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private void handle(HttpServerRequest req) {
    if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
      respond(req, 405, new JsonObject().put("error", "METHOD_NOT_ALLOWED").put("message", "use GET"));
      return;
    }
    switch (req.path()) {
      case LIVEZ -> respond(req, 200, new JsonObject().put("status", "UP"));
      case READYZ -> readiness().onComplete(ar -> {
        JsonObject checks = ar.succeeded() ? ar.result() : new JsonObject().put("error", String.valueOf(ar.cause()));
        boolean up = ar.succeeded() && checks.stream().allMatch(e -> "UP".equals(e.getValue()));
        respond(req, up ? 200 : 503, new JsonObject().put("status", up ? "UP" : "DOWN").put("checks", checks));
      });
      case METRICS -> {
        if (metrics == null) {
          notFound(req);
          return;
        }
        // Off the event loop: a scrape walks every meter and reads the JVM's MXBeans.
        vertx.executeBlocking(() -> metrics.scrape(METRICS_CONTENT_TYPE), false).onComplete(ar -> {
          if (ar.succeeded()) {
            req.response().setStatusCode(200).putHeader("Content-Type", METRICS_CONTENT_TYPE)
                .putHeader("Cache-Control", "no-store").end(ar.result());
          } else {
            respond(req, 500, new JsonObject().put("error", "INTERNAL").put("message", String.valueOf(ar.cause())));
          }
        });
      }
      default -> notFound(req);
    }
  }

  private static void notFound(HttpServerRequest req) {
    respond(req, 404, new JsonObject().put("error", "NOT_FOUND")
        .put("message", "try " + LIVEZ + ", " + READYZ + " or " + METRICS));
  }

  /** Each check as "UP" or "DOWN". */
  Future<JsonObject> readiness() {
    JsonObject checks = new JsonObject();
    localChecks.forEach((name, check) -> checks.put(name, check.getAsBoolean() ? "UP" : "DOWN"));
    if (!needsMailstore) {
      return Future.succeededFuture(checks);
    }
    return client.ping()
        .map(pong -> checks.put("mailstoreReachable", "UP"))
        .otherwise(t -> checks.put("mailstoreReachable", "DOWN"));
  }

  private static void respond(HttpServerRequest req, int status, JsonObject body) {
    req.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(body.encode());
  }
}
