package dev.mailserver.mailstore.http;

import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.parse.MessageParser;
import dev.mailserver.mailstore.parse.PartContent;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * {@code /api/v1/mailboxes/{address}/...}: listing, search, detail, raw bytes, parts and deletion,
 * each a thin adapter over {@link MailstoreService} (which knows the store) and {@link MessageIndex}
 * (which knows parsing). Authorization has happened before these handlers run.
 */
final class MessagesApi {

  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 500;

  /**
   * Raw messages and parts are attacker-controlled content served from the API's origin: never
   * let a browser render them as active content there (no sniffing, sandboxed, downloaded).
   */
  static final String CSP = "sandbox; default-src 'none'";

  private final MailstoreService service;
  private final MessageIndex index;

  MessagesApi(MailstoreService service, MessageIndex index) {
    this.service = service;
    this.index = index;
  }

  /** The {@code address} path parameter, canonical; 400 INVALID_REQUEST when it is no mailbox address. */
  static String mailbox(RoutingContext ctx) {
    return MailboxName.of(ctx.pathParam("address")).address();
  }

  /** Newest first: receivedAt descending, then id descending (the store lists oldest first). */
  static List<MessageInfo> newestFirst(List<MessageInfo> infos) {
    List<MessageInfo> l = new ArrayList<>(infos);
    l.sort(Comparator.comparingLong(MessageInfo::receivedAt).thenComparing(MessageInfo::id).reversed());
    return l;
  }

  /** {@code limit} (default 50, capped at 500) and {@code offset} (default 0). */
  record Page(int limit, int offset) {
    static Page of(RoutingContext ctx) {
      int limit = intParam(ctx, "limit", DEFAULT_LIMIT);
      int offset = intParam(ctx, "offset", 0);
      if (limit < 1) {
        throw HttpError.badRequest("INVALID_PARAMETER", "limit must be at least 1");
      }
      return new Page(Math.min(limit, MAX_LIMIT), offset);
    }

    <T> List<T> slice(List<T> all) {
      if (offset >= all.size()) {
        return List.of();
      }
      return all.subList(offset, Math.min(all.size(), offset + limit));
    }

    JsonObject json(int total, JsonArray items) {
      return new JsonObject().put("total", total).put("offset", offset).put("limit", limit).put("messages", items);
    }
  }

  static int intParam(RoutingContext ctx, String name, int def) {
    String v = ctx.request().getParam(name);
    if (v == null || v.isBlank()) {
      return def;
    }
    try {
      int n = Integer.parseInt(v.strip());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw HttpError.badRequest("INVALID_PARAMETER", name + " must be a whole number >= 0");
    }
  }

  // ------------------------------------------------------------------------------------ handlers

  void list(RoutingContext ctx) {
    String mb = mailbox(ctx);
    Page page = Page.of(ctx);
    service.list(mb).compose(infos -> {
      List<MessageInfo> all = newestFirst(infos);
      return index.summaries(mb, page.slice(all)).map(items -> page.json(all.size(), items(items)));
    }).onSuccess(j -> Responses.json(ctx, 200, j)).onFailure(ctx::fail);
  }

  void search(RoutingContext ctx) {
    String mb = mailbox(ctx);
    Page page = Page.of(ctx);
    SearchFilter filter = SearchFilter.fromQuery(ctx.queryParams());
    service.list(mb).compose(infos -> {
      List<MessageInfo> candidates = newestFirst(infos).stream().filter(filter::inRange).toList();
      return MessageIndex.mapBounded(candidates, info -> index.match(mb, info, filter));
    }).map(matched -> page.json(matched.size(), items(page.slice(matched))))
        .onSuccess(j -> Responses.json(ctx, 200, j)).onFailure(ctx::fail);
  }

  private static JsonArray items(List<MessageIndex.Item> items) {
    JsonArray a = new JsonArray();
    items.forEach(i -> a.add(MessageJson.item(i.info(), i.summary())));
    return a;
  }

  void detail(RoutingContext ctx) {
    String mb = mailbox(ctx);
    String id = ctx.pathParam("id");
    Future<List<MessageInfo>> listing = service.list(mb);
    service.fetch(mb, id, null)
        .compose(buf -> index.parse(buf, MessageParser::parse).compose(parsed -> listing.map(infos -> {
          MessageInfo info = infos.stream().filter(i -> i.id().equals(id)).findFirst()
              .orElse(new MessageInfo(id, id, buf.length(), System.currentTimeMillis()));
          return MessageJson.detail(info, parsed);
        })))
        .onSuccess(j -> Responses.json(ctx, 200, j)).onFailure(ctx::fail);
  }

  void raw(RoutingContext ctx) {
    String mb = mailbox(ctx);
    String id = ctx.pathParam("id");
    service.fetch(mb, id, null).onSuccess(buf -> secured(ctx.response())
        .putHeader("Content-Type", "message/rfc822")
        .end(buf)).onFailure(ctx::fail);
  }

  void part(RoutingContext ctx) {
    String mb = mailbox(ctx);
    String id = ctx.pathParam("id");
    String partId = ctx.pathParam("partId");
    service.fetch(mb, id, null)
        .compose(buf -> index.parse(buf, b -> MessageParser.part(b, partId)))
        .onSuccess(found -> {
          Optional<PartContent> p = found;
          if (p.isEmpty()) {
            ctx.fail(HttpError.notFound("PART_NOT_FOUND", "message " + id + " has no leaf part " + partId));
            return;
          }
          PartContent c = p.get();
          String type = safeToken(c.contentType(), "application/octet-stream");
          String charset = c.charset() == null ? null : safeToken(c.charset(), null);
          secured(ctx.response())
              .putHeader("Content-Type", charset != null && type.startsWith("text/") ? type + "; charset=" + charset : type)
              .putHeader("Content-Disposition", contentDisposition(c.filename() != null ? c.filename() : "part-" + c.partId()))
              .end(Buffer.buffer(c.data()));
        }).onFailure(ctx::fail);
  }

  void deleteOne(RoutingContext ctx) {
    String mb = mailbox(ctx);
    String id = ctx.pathParam("id");
    service.delete(mb, List.of(id)).onSuccess(r -> {
      index.evict(mb, id);
      if (r.deleted() == 0) {
        ctx.fail(HttpError.notFound("MESSAGE_NOT_FOUND", id));
      } else {
        ctx.response().setStatusCode(204).end();
      }
    }).onFailure(ctx::fail);
  }

  void deleteAll(RoutingContext ctx) {
    String mb = mailbox(ctx);
    deleteAllMail(service, index, mb)
        .onSuccess(n -> Responses.json(ctx, 200, new JsonObject().put("deleted", n)))
        .onFailure(ctx::fail);
  }

  /** Deletes every message of the mailbox through the service (which records and publishes the deletions). */
  static Future<Integer> deleteAllMail(MailstoreService service, MessageIndex index, String mb) {
    return service.list(mb).compose(infos -> {
      if (infos.isEmpty()) {
        return Future.succeededFuture(0);
      }
      List<String> ids = infos.stream().map(MessageInfo::id).toList();
      return service.delete(mb, ids).map(r -> {
        ids.forEach(id -> index.evict(mb, id));
        return r.deleted();
      });
    });
  }

  // ------------------------------------------------------------------------------------ helpers

  private static HttpServerResponse secured(HttpServerResponse r) {
    return r.putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("Content-Security-Policy", CSP)
        .putHeader("Cache-Control", "private, max-age=0, no-store");
  }

  /** A header-safe MIME token (type/subtype or charset), or the default. */
  static String safeToken(String v, String def) {
    return v != null && v.matches("[A-Za-z0-9!#$&^_.+-]+(/[A-Za-z0-9!#$&^_.+-]+)?") ? v : def;
  }

  /**
   * {@code attachment} with an ASCII fallback filename and the exact one in RFC 8187 encoding
   * ({@code filename*=UTF-8''...}), as RFC 6266 section 4.3 recommends.
   */
  static String contentDisposition(String filename) {
    StringBuilder ascii = new StringBuilder();
    for (int i = 0; i < filename.length(); i++) {
      char c = filename.charAt(i);
      ascii.append(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '_');
    }
    String encoded = URLEncoder.encode(filename, StandardCharsets.UTF_8).replace("+", "%20");
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
  }
}
