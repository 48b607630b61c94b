package dev.mailserver.common.testing;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.Codecs;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * An in-memory mailstore speaking the real bus contract, for the SMTP and POP3 services' tests.
 * Not thread-safe beyond what the event loop gives: register it from one Vert.x context.
 * {@link #failNext(MailstoreError)}, {@link #delayMs}, {@link #afterFetch}, {@link #remove} and
 * {@link #replace} let tests drive the error paths. Ranged fetches ({@code offset}/{@code length}) slice the stored copy.
 */
public final class FakeMailstore {

  private final Vertx vertx;
  private final Map<String, String> passwords = new ConcurrentHashMap<>();
  private final Map<String, LinkedHashMap<String, Buffer>> boxes = new ConcurrentHashMap<>();
  private final List<DeliverRequest> deliveries = new ArrayList<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private final AtomicLong seq = new AtomicLong();
  private volatile MailstoreError failNext;
  private final List<JsonObject> fetchRequests = new ArrayList<>();
  /** Delay before every reply, to simulate a slow store. */
  public volatile long delayMs;
  /**
   * Called with every successful fetch request after its reply was computed (and before it is
   * sent), under the store's lock: a test can remove a message between two ranged fetches.
   */
  public volatile Consumer<JsonObject> afterFetch;

  public FakeMailstore(Vertx vertx) {
    this.vertx = vertx;
    Codecs.register(vertx);
  }

  public FakeMailstore addAccount(String address, String password) {
    passwords.put(address.toLowerCase(), password);
    boxes.computeIfAbsent(address.toLowerCase(), k -> new LinkedHashMap<>());
    return this;
  }

  /** Puts a message directly into a mailbox; returns its id. */
  public synchronized String put(String mailbox, Buffer content) {
    String id = "m" + seq.incrementAndGet();
    boxes.get(mailbox.toLowerCase()).put(id, content.copy());
    return id;
  }

  public synchronized List<Buffer> messages(String mailbox) {
    return new ArrayList<>(boxes.getOrDefault(mailbox.toLowerCase(), new LinkedHashMap<>()).values());
  }

  /** Removes a message directly (as another protocol or the HTTP API would); false if absent. */
  public synchronized boolean remove(String mailbox, String id) {
    return boxes.get(mailbox.toLowerCase()).remove(id) != null;
  }

  /**
   * Puts other content under an existing id, as a store that broke the never-rewritten rule would:
   * for tests of a reader's consistency checks across ranged fetches.
   */
  public synchronized void replace(String mailbox, String id, Buffer content) {
    boxes.get(mailbox.toLowerCase()).replace(id, content.copy());
  }

  /** Every {@code mailstore.fetch} request received, in order (copies). */
  public synchronized List<JsonObject> fetchRequests() {
    return new ArrayList<>(fetchRequests);
  }

  public synchronized List<DeliverRequest> deliveries() {
    return new ArrayList<>(deliveries);
  }

  /** The next request of any kind fails with this error. */
  public void failNext(MailstoreError error) {
    this.failNext = error;
  }

  public Future<Void> start() {
    consumers.add(vertx.eventBus().<DeliverRequest>consumer(Addresses.DELIVER, m -> answer(m, () -> deliver(m.body()))));
    consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.LIST, m -> answer(m, () -> list(m.body()))));
    consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.FETCH, m -> answer(m, () -> fetch(m.body()))));
    consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.DELETE, m -> answer(m, () -> delete(m.body()))));
    consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.AUTHENTICATE, m -> answer(m, () -> auth(m.body()))));
    consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.MAILBOX_EXISTS, m -> answer(m, () -> exists(m.body()))));
    consumers.add(vertx.eventBus().consumer(Addresses.PING, m -> answer(m, () -> new JsonObject().put("status", "ok"))));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).mapEmpty();
  }

  public Future<Void> stop() {
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList()).mapEmpty();
  }

  private interface Action {
    Object run();
  }

  private void answer(Message<?> m, Action action) {
    Runnable r = () -> {
      MailstoreError f = failNext;
      if (f != null) {
        failNext = null;
        m.reply(new MailstoreException(f, "injected").toReplyException());
        return;
      }
      try {
        m.reply(action.run());
      } catch (MailstoreException e) {
        m.reply(e.toReplyException());
      }
    };
    if (delayMs > 0) {
      vertx.setTimer(delayMs, t -> r.run());
    } else {
      r.run();
    }
  }

  private synchronized JsonObject deliver(DeliverRequest req) {
    for (String rcpt : req.recipients()) {
      if (!boxes.containsKey(rcpt)) {
        throw new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, rcpt);
      }
    }
    deliveries.add(req);
    List<DeliverResult.Stored> stored = new ArrayList<>();
    for (String rcpt : req.recipients()) {
      Buffer copy = Buffer.buffer("Return-Path: <" + req.sender() + ">\r\n").appendBuffer(req.content());
      String id = put(rcpt, copy);
      stored.add(new DeliverResult.Stored(rcpt, id, copy.length()));
      vertx.eventBus().publish(Addresses.EVENTS_NEW, new MailEvent("e" + id, MailEvent.TYPE_NEW, rcpt, id,
          req.sender(), "", copy.length(), System.currentTimeMillis(), req.deliveryId()).toJson());
    }
    return new DeliverResult(req.deliveryId(), stored).toJson();
  }

  private synchronized JsonObject list(JsonObject req) {
    LinkedHashMap<String, Buffer> box = box(req.getString("mailbox"));
    JsonArray arr = new JsonArray();
    box.forEach((id, b) -> arr.add(new MessageInfo(id, "uid-" + id, b.length(), 0L).toJson()));
    return new JsonObject().put("mailbox", req.getString("mailbox")).put("messages", arr);
  }

  private synchronized Buffer fetch(JsonObject req) {
    fetchRequests.add(req.copy());
    Object offset = req.getValue("offset");
    Object length = req.getValue("length");
    boolean ranged = offset != null || length != null;
    if (ranged && (!isWhole(offset) || !isWhole(length) || ((Number) offset).longValue() < 0
        || ((Number) length).longValue() < 0 || ((Number) length).longValue() > MailstoreClient.MAX_RANGE_LENGTH
        || req.containsKey("bodyLines"))) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "bad range");
    }
    Buffer b = box(req.getString("mailbox")).get(req.getString("id"));
    if (b == null) {
      throw new MailstoreException(MailstoreError.MESSAGE_NOT_FOUND, req.getString("id"));
    }
    Buffer reply;
    if (ranged) {
      // The stored bytes [offset, min(offset + length, size)), empty at or past the end.
      long from = Math.min(((Number) offset).longValue(), b.length());
      long to = Math.min(from + ((Number) length).longValue(), b.length());
      reply = b.getBuffer((int) from, (int) to);
    } else {
      Integer lines = req.getInteger("bodyLines");
      reply = lines == null ? b.copy() : top(b, lines);
    }
    Consumer<JsonObject> hook = afterFetch;
    if (hook != null) {
      hook.accept(req);
    }
    return reply;
  }

  private static boolean isWhole(Object o) {
    return o instanceof Integer || o instanceof Long;
  }

  /** Headers, the blank line, then at most n body lines: the semantics the real store implements. */
  static Buffer top(Buffer b, int n) {
    String s = b.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
    int sep = s.indexOf("\r\n\r\n");
    if (sep < 0) {
      return b.copy();
    }
    int end = sep + 4;
    for (int i = 0; i < n && end < s.length(); i++) {
      int nl = s.indexOf("\r\n", end);
      end = nl < 0 ? s.length() : nl + 2;
    }
    return Buffer.buffer(s.substring(0, end).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
  }

  private synchronized JsonObject delete(JsonObject req) {
    LinkedHashMap<String, Buffer> box = box(req.getString("mailbox"));
    int n = 0;
    JsonArray missing = new JsonArray();
    for (Object id : req.getJsonArray("ids")) {
      if (box.remove(String.valueOf(id)) != null) {
        n++;
      } else {
        missing.add(id);
      }
    }
    return new JsonObject().put("deleted", n).put("missing", missing);
  }

  private JsonObject auth(JsonObject req) {
    String a = req.getString("address", "").toLowerCase();
    String p = passwords.get(a);
    if (p == null || !p.equals(req.getString("password"))) {
      throw new MailstoreException(MailstoreError.AUTH_FAILED, "invalid credentials");
    }
    return new JsonObject().put("address", a);
  }

  private JsonObject exists(JsonObject req) {
    String a = req.getString("address", "").toLowerCase();
    return new JsonObject().put("address", a).put("exists", boxes.containsKey(a));
  }

  private LinkedHashMap<String, Buffer> box(String mailbox) {
    LinkedHashMap<String, Buffer> box = mailbox == null ? null : boxes.get(mailbox.toLowerCase());
    if (box == null) {
      throw new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, String.valueOf(mailbox));
    }
    return box;
  }
}
