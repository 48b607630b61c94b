package dev.mailserver.mailstore.http;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** JSON success responses; errors go through {@link HttpErrors}. */
final class Responses {
  private Responses() {}

  static void json(RoutingContext ctx, int status, JsonObject body) {
    if (ctx.response().closed() || ctx.response().ended()) {
      return;
    }
    ctx.response().setStatusCode(status)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Cache-Control", "no-store")
        .end(body.encode());
  }

  /** The JSON request body (BodyHandler has run); 400 when missing or not an object. */
  static JsonObject body(RoutingContext ctx) {
    JsonObject j;
    try {
      j = ctx.body().asJsonObject();
    } catch (RuntimeException e) {
      throw HttpError.badRequest("INVALID_JSON", "the request body must be a JSON object");
    }
    if (j == null) {
      throw HttpError.badRequest("INVALID_JSON", "a JSON object body is required");
    }
    return j;
  }

  /** A string field of the body; 400 when it is missing or not a string. */
  static String string(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (!(v instanceof String s)) {
      throw HttpError.badRequest("INVALID_REQUEST", "\"" + field + "\" must be a string");
    }
    return s;
  }
}
