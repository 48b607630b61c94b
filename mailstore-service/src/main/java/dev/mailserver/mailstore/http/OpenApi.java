package dev.mailserver.mailstore.http;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The OpenAPI 3 description served at {@code GET /api/v1/openapi.json}. Written out by hand next
 * to the router; a test walks the router and fails when a route is missing here or a documented
 * one is not served.
 */
final class OpenApi {
  private OpenApi() {}

  static JsonObject document() {
    JsonObject paths = new JsonObject();

    // ------------------------------------------------------------------ probes and meta
    paths.put("/livez", new JsonObject().put("get", op("Liveness: the process answers", "probes", null)
        .put("responses", new JsonObject().put("200", json("UP", ref("Status"))))));
    paths.put("/readyz", new JsonObject().put("get", op("Readiness: store usable and bus consumers registered", "probes", null)
        .put("responses", new JsonObject().put("200", json("ready", ref("Status"))).put("503", json("not ready", ref("Status"))))));
    paths.put("/api/v1/openapi.json", new JsonObject().put("get", op("This document", "meta", null)
        .put("responses", new JsonObject().put("200", json("the OpenAPI document", new JsonObject().put("type", "object"))))));

    // ------------------------------------------------------------------ events (served by EventStreamHandler)
    paths.put("/api/v1/events", new JsonObject().put("get", op(
        "Server-sent event stream of message.new and message.deleted events; resumes after the "
            + "Last-Event-ID header. Admin: all mailboxes or the one named; owner: their own only.", "events", "any")
        .put("parameters", new JsonArray()
            .add(query("mailbox", "only events of this mailbox (an owner may name only their own)", str()))
            .add(new JsonObject().put("name", "Last-Event-ID").put("in", "header").put("required", false)
                .put("description", "the last event id seen; events after it are replayed first").put("schema", str())))
        .put("responses", errors(new JsonObject().put("200", new JsonObject().put("description", "event stream")
            .put("content", new JsonObject().put("text/event-stream", new JsonObject().put("schema", str())))),
            "401", "403", "503"))));

    // ------------------------------------------------------------------ accounts
    JsonObject credentials = new JsonObject().put("type", "object").put("required", new JsonArray().add("address").add("password"))
        .put("properties", new JsonObject().put("address", str()).put("password", str()));
    paths.put("/api/v1/accounts", new JsonObject()
        .put("get", op("List accounts with creation time and message count", "accounts", "admin")
            .put("responses", errors(new JsonObject().put("200", json("accounts", ref("AccountList"))), "401", "403")))
        .put("post", op("Create an account (address in a configured domain; password: at least 8 characters, "
            + "not the address or its local part, not a repeated character or a notorious password, no control "
            + "characters, not bcrypt-hash-like)", "accounts", "admin")
            .put("requestBody", body(credentials))
            .put("responses", errors(new JsonObject().put("201", json("created; Location names the account",
                new JsonObject().put("type", "object").put("properties", new JsonObject().put("address", str())))),
                "400", "401", "403", "409", "413"))));
    paths.put("/api/v1/accounts/{address}", new JsonObject()
        .put("parameters", new JsonArray().add(path("address", "the account's address")))
        .put("get", op("One account", "accounts", "admin")
            .put("responses", errors(new JsonObject().put("200", json("the account", ref("Account"))), "401", "403", "404")))
        .put("delete", op("Delete the account and all its mail; requires confirm=true", "accounts", "admin")
            .put("parameters", new JsonArray().add(query("confirm", "must be true", new JsonObject().put("type", "boolean"))))
            .put("responses", errors(new JsonObject().put("200", json("deleted", new JsonObject().put("type", "object")
                .put("properties", new JsonObject().put("address", str()).put("deletedMessages", integer())))),
                "400", "401", "403", "404", "503"))));
    paths.put("/api/v1/accounts/{address}/password", new JsonObject()
        .put("parameters", new JsonArray().add(path("address", "the account's address")))
        .put("put", op("Set a new password (same rules as on creation)", "accounts", "admin")
            .put("requestBody", body(new JsonObject().put("type", "object").put("required", new JsonArray().add("password"))
                .put("properties", new JsonObject().put("password", str()))))
            .put("responses", errors(new JsonObject().put("204", new JsonObject().put("description", "changed")),
                "400", "401", "403", "404", "413"))));

    // ------------------------------------------------------------------ messages
    JsonArray mailboxParam = new JsonArray().add(path("address", "the mailbox address"));
    JsonArray page = new JsonArray()
        .add(query("limit", "items per page, default 50, at most 500", integer()))
        .add(query("offset", "items to skip, default 0", integer()));
    paths.put("/api/v1/mailboxes/{address}/messages", new JsonObject()
        .put("parameters", mailboxParam)
        .put("get", op("List messages, newest first", "messages", "owner")
            .put("parameters", page.copy())
            .put("responses", errors(new JsonObject().put("200", json("a page of messages", ref("MessageList"))),
                "400", "401", "403", "404", "429", "503")))
        .put("delete", op("Delete every message of the mailbox", "messages", "owner")
            .put("responses", errors(new JsonObject().put("200", json("how many were deleted", new JsonObject()
                .put("type", "object").put("properties", new JsonObject().put("deleted", integer())))),
                "401", "403", "404", "503"))));
    paths.put("/api/v1/mailboxes/{address}/messages/next", new JsonObject()
        .put("parameters", mailboxParam)
        .put("get", op("Wait for a new matching message (received after the request, or since `since`)", "messages", "owner")
            .put("parameters", filters(false)
                .add(query("timeout", "seconds to wait, default 30, at most 120", new JsonObject().put("type", "number"))))
            .put("responses", errors(new JsonObject()
                .put("200", json("the first matching message", ref("MessageItem")))
                .put("204", new JsonObject().put("description", "no match before the timeout")),
                "400", "401", "403", "404", "503"))));
    JsonArray messageParams = mailboxParam.copy().add(path("id", "the message id"));
    paths.put("/api/v1/mailboxes/{address}/messages/{id}", new JsonObject()
        .put("parameters", messageParams)
        .put("get", op("One message, parsed", "messages", "owner")
            .put("responses", errors(new JsonObject().put("200", json("the message", ref("MessageDetail"))),
                "400", "401", "403", "404", "503")))
        .put("delete", op("Delete one message", "messages", "owner")
            .put("responses", errors(new JsonObject().put("204", new JsonObject().put("description", "deleted")),
                "400", "401", "403", "404", "503"))));
    paths.put("/api/v1/mailboxes/{address}/messages/{id}/raw", new JsonObject()
        .put("parameters", messageParams.copy())
        .put("get", op("The exact stored bytes", "messages", "owner")
            .put("responses", errors(new JsonObject().put("200", new JsonObject().put("description", "the message")
                .put("content", new JsonObject().put("message/rfc822", new JsonObject().put("schema",
                    new JsonObject().put("type", "string").put("format", "binary"))))), "400", "401", "403", "404", "503"))));
    paths.put("/api/v1/mailboxes/{address}/messages/{id}/parts/{partId}", new JsonObject()
        .put("parameters", messageParams.copy().add(path("partId", "the part id from the attachment list (IMAP-style: 1, 2.1, ...)")))
        .put("get", op("One leaf part, transfer encoding removed, with its own Content-Type and a Content-Disposition", "messages", "owner")
            .put("responses", errors(new JsonObject().put("200", new JsonObject().put("description", "the part content")
                .put("content", new JsonObject().put("*/*", new JsonObject().put("schema",
                    new JsonObject().put("type", "string").put("format", "binary"))))), "400", "401", "403", "404", "503"))));
    paths.put("/api/v1/mailboxes/{address}/search", new JsonObject()
        .put("parameters", mailboxParam)
        .put("get", op("Search, newest first: case-insensitive substrings of decoded fields; receivedAt range", "messages", "owner")
            .put("parameters", filters(true).addAll(page))
            .put("responses", errors(new JsonObject().put("200", json("a page of matches", ref("MessageList"))),
                "400", "401", "403", "404", "503"))));

    return new JsonObject()
        .put("openapi", "3.0.3")
        .put("info", new JsonObject().put("title", "mailstore HTTP API").put("version", "1")
            .put("description", "Accounts (admin bearer token) and mailboxes (owner Basic credentials or admin). "
                + "Errors are {\"error\": CODE, \"message\"}. Failed logins are throttled: growing delays, then 429 with Retry-After."))
        .put("paths", paths)
        .put("components", components());
  }

  private static JsonArray filters(boolean withRange) {
    JsonArray a = new JsonArray()
        .add(query("from", "substring of the From name or address", str()))
        .add(query("to", "substring of a To or Cc name or address", str()))
        .add(query("subject", "substring of the decoded subject", str()))
        .add(query("text", "substring of the text body (or the HTML body's text)", str()))
        .add(query("since", "ISO-8601 date or date-time; received at or after", str()));
    if (withRange) {
      a.add(query("before", "ISO-8601 date or date-time; received before", str()));
    }
    return a;
  }

  private static JsonObject components() {
    JsonObject address = new JsonObject().put("type", "object").put("properties", new JsonObject()
        .put("name", str().put("nullable", true)).put("address", str()));
    JsonObject addresses = new JsonObject().put("type", "array").put("items", ref("Address"));
    JsonObject itemProps = new JsonObject()
        .put("id", str())
        .put("from", ref("Address"))
        .put("to", addresses)
        .put("cc", addresses)
        .put("subject", str())
        .put("date", str().put("format", "date-time").put("nullable", true))
        .put("size", integer())
        .put("receivedAt", str().put("format", "date-time"))
        .put("hasAttachments", new JsonObject().put("type", "boolean"))
        .put("snippet", str())
        .put("messageId", str().put("nullable", true));
    JsonObject attachment = new JsonObject().put("type", "object").put("properties", new JsonObject()
        .put("partId", str()).put("filename", str().put("nullable", true)).put("contentType", str())
        .put("charset", str().put("nullable", true)).put("size", integer())
        .put("disposition", str().put("nullable", true)).put("contentId", str().put("nullable", true))
        .put("attachment", new JsonObject().put("type", "boolean")));
    JsonObject detailProps = itemProps.copy()
        .put("replyTo", addresses)
        .put("bcc", addresses)
        .put("headers", new JsonObject().put("type", "array").put("items", new JsonObject().put("type", "object")
            .put("properties", new JsonObject().put("name", str()).put("value", str()))))
        .put("text", str().put("nullable", true))
        .put("html", str().put("nullable", true))
        .put("attachments", new JsonObject().put("type", "array").put("items", ref("Attachment")))
        .put("problem", str().put("nullable", true));
    JsonObject account = new JsonObject().put("type", "object").put("properties", new JsonObject()
        .put("address", str()).put("createdAt", str().put("format", "date-time"))
        .put("messageCount", integer().put("nullable", true)));
    return new JsonObject()
        .put("securitySchemes", new JsonObject()
            .put("adminToken", new JsonObject().put("type", "http").put("scheme", "bearer"))
            .put("ownerBasic", new JsonObject().put("type", "http").put("scheme", "basic")))
        .put("schemas", new JsonObject()
            .put("Error", new JsonObject().put("type", "object").put("required", new JsonArray().add("error").add("message"))
                .put("properties", new JsonObject().put("error", str()).put("message", str())))
            .put("Status", new JsonObject().put("type", "object").put("properties", new JsonObject().put("status", str())))
            .put("Address", address)
            .put("Attachment", attachment)
            .put("MessageItem", new JsonObject().put("type", "object").put("properties", itemProps))
            .put("MessageDetail", new JsonObject().put("type", "object").put("properties", detailProps))
            .put("MessageList", new JsonObject().put("type", "object").put("properties", new JsonObject()
                .put("total", integer()).put("offset", integer()).put("limit", integer())
                .put("messages", new JsonObject().put("type", "array").put("items", ref("MessageItem")))))
            .put("Account", account)
            .put("AccountList", new JsonObject().put("type", "object").put("properties", new JsonObject()
                .put("total", integer()).put("accounts", new JsonObject().put("type", "array").put("items", ref("Account"))))));
  }

  /** An operation; {@code auth}: null (public), "admin", "owner" (owner or admin) or "any". */
  private static JsonObject op(String summary, String tag, String auth) {
    JsonObject o = new JsonObject().put("summary", summary).put("tags", new JsonArray().add(tag));
    if ("admin".equals(auth)) {
      o.put("security", new JsonArray().add(new JsonObject().put("adminToken", new JsonArray())));
    } else if (auth != null) {
      o.put("security", new JsonArray()
          .add(new JsonObject().put("ownerBasic", new JsonArray()))
          .add(new JsonObject().put("adminToken", new JsonArray())));
    }
    return o;
  }

  private static final JsonObject ERROR_TEXTS = new JsonObject()
      .put("400", "invalid request (code says what)")
      .put("401", "missing or wrong credentials (WWW-Authenticate says which)")
      .put("403", "not allowed for these credentials, or ADMIN_DISABLED")
      .put("404", "no such account, mailbox, message or part")
      .put("409", "already exists")
      .put("413", "request body too large")
      .put("429", "too many failed logins (Retry-After)")
      .put("503", "store temporarily unavailable, or EVENTS_UNAVAILABLE");

  private static JsonObject errors(JsonObject responses, String... codes) {
    for (String c : codes) {
      responses.put(c, json(ERROR_TEXTS.getString(c), ref("Error")));
    }
    if (!responses.containsKey("429") && responses.containsKey("401")) {
      responses.put("429", json(ERROR_TEXTS.getString("429"), ref("Error")));
    }
    return responses;
  }

  private static JsonObject json(String description, JsonObject schema) {
    return new JsonObject().put("description", description)
        .put("content", new JsonObject().put("application/json", new JsonObject().put("schema", schema)));
  }

  private static JsonObject body(JsonObject schema) {
    return new JsonObject().put("required", true)
        .put("content", new JsonObject().put("application/json", new JsonObject().put("schema", schema)));
  }

  private static JsonObject path(String name, String description) {
    return new JsonObject().put("name", name).put("in", "path").put("required", true)
        .put("description", description).put("schema", str());
  }

  private static JsonObject query(String name, String description, JsonObject schema) {
    return new JsonObject().put("name", name).put("in", "query").put("required", false)
        .put("description", description).put("schema", schema);
  }

  private static JsonObject ref(String schema) {
    return new JsonObject().put("$ref", "#/components/schemas/" + schema);
  }

  private static JsonObject str() {
    return new JsonObject().put("type", "string");
  }

  private static JsonObject integer() {
    return new JsonObject().put("type", "integer");
  }
}
