package dev.mailserver.mailstore.bus;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.Codecs;
import dev.mailserver.common.bus.DeliverRequestCodec;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event-bus adapter: one consumer per address of {@code common/README.md}. It only decodes
 * requests, calls {@link MailstoreService} and encodes replies; failures go back as
 * {@link MailstoreException#toReplyException()} so clients get the typed error code.
 */
public final class MailstoreBusApi {
  private static final Logger log = LoggerFactory.getLogger(MailstoreBusApi.class);

  /** Events per {@code mailstore.events.since} answer when the request names no limit. */
  public static final int DEFAULT_EVENTS_LIMIT = 1000;

  private final Vertx vertx;
  private final MailstoreService service;
  private final String node;
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();

  public MailstoreBusApi(Vertx vertx, MailstoreService service, String node) {
    this.vertx = vertx;
    this.service = service;
    this.node = node;
  }

  /** Registers every consumer; completes when the registrations have propagated (cluster-wide). */
  public Future<Void> start() {
    Codecs.register(vertx);
    consumer(Addresses.DELIVER, this::deliver);
    consumer(Addresses.LIST, body -> {
      JsonObject req = json(body);
      return service.list(req.getString("mailbox")).map(list -> {
        JsonArray arr = new JsonArray();
        list.stream().map(MessageInfo::toJson).forEach(arr::add);
        return new JsonObject().put("mailbox", req.getString("mailbox")).put("messages", arr);
      });
    });
    consumer(Addresses.FETCH, this::fetch);
    consumer(Addresses.DELETE, body -> {
      JsonObject req = json(body);
      JsonArray ids = req.getJsonArray("ids");
      if (ids == null) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, "ids missing");
      }
      List<String> list = new ArrayList<>();
      for (Object o : ids) {
        if (!(o instanceof String s)) {
          throw new MailstoreException(MailstoreError.INVALID_REQUEST, "ids must be strings");
        }
        list.add(s);
      }
      return service.delete(req.getString("mailbox"), list).map(r -> r.toJson());
    });
    consumer(Addresses.AUTHENTICATE, body -> {
      JsonObject req = body instanceof JsonObject j ? j : new JsonObject();
      Object address = req.getValue("address");
      Object password = req.getValue("password");
      // Malformed requests fail like wrong passwords: the contract lists only AUTH_FAILED here.
      return service.authenticate(address instanceof String a ? a : null, password instanceof String p ? p : null)
          .map(a -> new JsonObject().put("address", a));
    });
    consumer(Addresses.MAILBOX_EXISTS, body -> {
      String canonical = MailboxName.of(json(body).getString("address")).address();
      return service.exists(canonical).map(exists -> new JsonObject().put("address", canonical).put("exists", exists));
    });
    consumer(Addresses.EVENTS_SINCE, this::eventsSince);
    consumer(Addresses.PING, body -> Future.succeededFuture(new JsonObject().put("status", "ok").put("node", node)));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).mapEmpty();
  }

  /** True while every consumer is registered; used by the readiness probe. */
  public boolean isRegistered() {
    return !consumers.isEmpty() && consumers.stream().allMatch(MessageConsumer::isRegistered);
  }

  public Future<Void> stop() {
    List<Future<Void>> f = consumers.stream().map(MessageConsumer::unregister).toList();
    consumers.clear();
    return Future.all(f).mapEmpty();
  }

  private Future<Object> deliver(Object body) {
    if (!(body instanceof DeliverRequest req)) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "expected a DeliverRequest (codec " + DeliverRequestCodec.NAME + ")");
    }
    return service.deliver(req).map(r -> r.toJson());
  }

  /**
   * {@code {"mailbox","id"[,"bodyLines"]}}, or a range {@code {"mailbox","id","offset","length"}}:
   * offset and length are JSON integers, both or neither, never with bodyLines; their values are
   * checked by the service (negative, length above 8 MiB). Anything else is INVALID_REQUEST.
   */
  private Future<?> fetch(Object body) {
    JsonObject req = json(body);
    Object offset = req.getValue("offset");
    Object length = req.getValue("length");
    if (offset == null && length == null) {
      return service.fetch(req.getString("mailbox"), req.getString("id"), req.getInteger("bodyLines"));
    }
    if (!isWhole(offset) || !isWhole(length)) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "offset and length must both be whole numbers");
    }
    if (req.containsKey("bodyLines")) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "offset/length cannot be combined with bodyLines");
    }
    // Clamped, not cast: a long outside int range must stay out of range (the service refuses it).
    long len = ((Number) length).longValue();
    int clamped = len > Integer.MAX_VALUE ? Integer.MAX_VALUE : len < 0 ? -1 : (int) len;
    return service.fetchRange(req.getString("mailbox"), req.getString("id"), ((Number) offset).longValue(), clamped);
  }

  private static boolean isWhole(Object o) {
    return o instanceof Integer || o instanceof Long;
  }

  /**
   * {@code {"after": id or "" (or absent), "mailbox"?, "limit"?}}: {@code after} may also be a JSON
   * integer; {@code limit} defaults to {@link #DEFAULT_EVENTS_LIMIT} and is capped at
   * {@link MailstoreService#MAX_EVENTS_LIMIT}. Anything malformed is INVALID_REQUEST.
   */
  private Future<Object> eventsSince(Object body) {
    JsonObject req = json(body);
    Object after = req.getValue("after");
    String afterId;
    if (after == null) {
      afterId = "";
    } else if (after instanceof String s) {
      afterId = s;
    } else if ((after instanceof Integer || after instanceof Long) && ((Number) after).longValue() >= 0) {
      afterId = after.toString();
    } else {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "after must be an event id");
    }
    Object mailbox = req.getValue("mailbox");
    if (mailbox != null && !(mailbox instanceof String)) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "mailbox must be a string");
    }
    Object limit = req.getValue("limit", DEFAULT_EVENTS_LIMIT);
    if (!(limit instanceof Integer || limit instanceof Long)) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "limit must be a whole number");
    }
    long l = ((Number) limit).longValue();
    if (l < 1) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "limit must be at least 1");
    }
    int capped = (int) Math.min(l, MailstoreService.MAX_EVENTS_LIMIT);
    return service.eventsSince(afterId, (String) mailbox, capped).map(page -> page.toJson());
  }

  private void consumer(String address, Function<Object, Future<?>> handler) {
    consumers.add(vertx.eventBus().consumer(address, (Message<Object> m) -> {
      Future<?> f;
      try {
        f = handler.apply(m.body());
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        if (ar.succeeded()) {
          m.reply(ar.result());
        } else {
          m.reply(toFailure(address, ar.cause()).toReplyException());
        }
      });
    }));
  }

  /**
   * Typed errors pass through; bad field types (ClassCastException from JsonObject getters) are
   * the client's fault; anything else is a bug on our side.
   */
  private static MailstoreException toFailure(String address, Throwable t) {
    if (t instanceof MailstoreException me) {
      return me;
    }
    if (t instanceof ClassCastException || t instanceof IllegalArgumentException) {
      return new MailstoreException(MailstoreError.INVALID_REQUEST, "malformed request: " + t.getMessage());
    }
    log.error("Unexpected failure handling {}", address, t);
    return new MailstoreException(MailstoreError.INTERNAL, String.valueOf(t));
  }

  private static JsonObject json(Object body) {
    if (body instanceof JsonObject j) {
      return j;
    }
    throw new MailstoreException(MailstoreError.INVALID_REQUEST, "expected a JSON object");
  }
}
