package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become HTTP responses: every route's failure ends here (a route
 * failure handler for all paths, plus the router's 404/405 handlers), so every error has the same
 * shape {@code {"error": "CODE", "message": "..."}} and a status that follows from its type.
 *
 * <p>Store errors ({@link MailstoreError}) map as: INVALID_REQUEST 400, AUTH_FAILED 401,
 * MAILBOX_NOT_FOUND and MESSAGE_NOT_FOUND 404, TOO_LARGE 413, STORAGE_FAILURE and UNAVAILABLE 503
 * (temporary, with Retry-After), INTERNAL 500.
 */
public final class HttpErrors {
  private static final Logger log = LoggerFactory.getLogger(HttpErrors.class);

  /** Seconds a client should wait before retrying after a temporary store failure. */
  static final String RETRY_AFTER_UNAVAILABLE = "5";

  private HttpErrors() {}

  public static int status(MailstoreError e) {
    return switch (e) {
      case INVALID_REQUEST -> 400;
      case AUTH_FAILED -> 401;
      case MAILBOX_NOT_FOUND, MESSAGE_NOT_FOUND -> 404;
      case TOO_LARGE -> 413;
      case STORAGE_FAILURE, UNAVAILABLE -> 503;
      case INTERNAL -> 500;
    };
  }

  /** Turns any failure into the HttpError that describes it. */
  public static HttpError toHttpError(Throwable t, int statusCode) {
    if (t instanceof HttpError h) {
      return h;
    }
    if (t instanceof MailstoreException || t instanceof ReplyException) {
      MailstoreException me = MailstoreException.from(t);
      MailstoreError e = me.error();
      String message = stripCode(me.getMessage(), e);
      return switch (e) {
        case AUTH_FAILED -> new HttpError(401, e.name(), message, Map.of("WWW-Authenticate", Authenticator.BASIC_CHALLENGE));
        case STORAGE_FAILURE, UNAVAILABLE -> new HttpError(503, e.name(), message, Map.of("Retry-After", RETRY_AFTER_UNAVAILABLE));
        default -> new HttpError(status(e), e.name(), message);
      };
    }
    if (t instanceof DecodeException) {
      return new HttpError(400, "INVALID_JSON", "the request body is not valid JSON");
    }
    int status = t instanceof HttpException he ? he.getStatusCode() : statusCode;
    return switch (status) {
      case 400 -> new HttpError(400, "BAD_REQUEST", "bad request");
      case 404 -> new HttpError(404, "NOT_FOUND", "no such resource");
      case 405 -> new HttpError(405, "METHOD_NOT_ALLOWED", "method not allowed on this resource");
      case 413 -> new HttpError(413, "BODY_TOO_LARGE", "the request body is larger than allowed");
      default -> {
        log.error("Unexpected failure in the HTTP API (status {})", status, t);
        yield new HttpError(500, "INTERNAL", "internal error");
      }
    };
  }

  /** Failure handler for every route. */
  public static void handle(RoutingContext ctx) {
    send(ctx, toHttpError(ctx.failure(), ctx.statusCode()));
  }

  public static void send(RoutingContext ctx, HttpError e) {
    HttpServerResponse r = ctx.response();
    if (r.closed() || r.ended()) {
      return;
    }
    if (r.headWritten()) {
      r.reset(); // a streamed response cannot turn into an error any more: abort it
      return;
    }
    r.setStatusCode(e.status());
    e.headers().forEach(r::putHeader);
    r.putHeader("Content-Type", "application/json; charset=utf-8");
    r.putHeader("Cache-Control", "no-store");
    r.end(new JsonObject().put("error", e.code()).put("message", e.getMessage()).encode());
  }

  /** MailstoreException messages start with "CODE: "; the JSON has the code separately. */
  private static String stripCode(String message, MailstoreError e) {
    String prefix = e.name() + ": ";
    return message != null && message.startsWith(prefix) ? message.substring(prefix.length()) : String.valueOf(message);
  }
}
