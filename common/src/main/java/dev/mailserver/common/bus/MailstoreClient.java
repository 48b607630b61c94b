package dev.mailserver.common.bus;

import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Collection;
import java.util.List;

/**
 * Typed client of the mailstore's event-bus API. Every call has a timeout; every failure is a
 * {@link MailstoreException} carrying a {@link MailstoreError}
 * ({@link MailstoreError#UNAVAILABLE} when no mailstore answers).
 */
public final class MailstoreClient {

  /** The largest {@code length} a ranged fetch ({@link #fetchRange}) may ask for: 8 MiB. */
  public static final int MAX_RANGE_LENGTH = 8 * 1024 * 1024;

  /** Deliveries fsync before replying; give them longer than lookups. */
  public static final long DEFAULT_TIMEOUT_MS = 30_000;

  private final Vertx vertx;
  private final long timeoutMs;

  public MailstoreClient(Vertx vertx) {
    this(vertx, DEFAULT_TIMEOUT_MS);
  }

  public MailstoreClient(Vertx vertx, long timeoutMs) {
    Codecs.register(vertx);
    this.vertx = vertx;
    this.timeoutMs = timeoutMs;
  }

  /** Stores the message in every recipient's mailbox; succeeds only once all copies are on disk. */
  public Future<DeliverResult> deliver(DeliverRequest request) {
    return this.<JsonObject>request(Addresses.DELIVER, request).map(DeliverResult::fromJson);
  }

  /** The messages of a mailbox, oldest first. */
  public Future<List<MessageInfo>> list(String mailbox) {
    return this.<JsonObject>request(Addresses.LIST, new JsonObject().put("mailbox", mailbox))
        .map(j -> j.getJsonArray("messages", new JsonArray()).stream()
            .map(o -> MessageInfo.fromJson((JsonObject) o)).toList());
  }

  /** The exact stored bytes of one message. */
  public Future<Buffer> fetch(String mailbox, String id) {
    return request(Addresses.FETCH, new JsonObject().put("mailbox", mailbox).put("id", id));
  }

  /**
   * The stored bytes {@code [offset, min(offset + length, size))} of one message: empty at or past
   * the end. For reading big messages in bounded pieces; a store that never rewrites a message
   * (Maildir) gives consistent ranges, but the message may vanish between two of them
   * (MESSAGE_NOT_FOUND). INVALID_REQUEST for negative values or a length above
   * {@link #MAX_RANGE_LENGTH}.
   */
  public Future<Buffer> fetchRange(String mailbox, String id, long offset, int length) {
    return request(Addresses.FETCH, new JsonObject().put("mailbox", mailbox).put("id", id)
        .put("offset", offset).put("length", length));
  }

  /** The header section, the blank line and the first {@code bodyLines} lines of the body (POP3 TOP). */
  public Future<Buffer> fetchTop(String mailbox, String id, int bodyLines) {
    return request(Addresses.FETCH, new JsonObject().put("mailbox", mailbox).put("id", id).put("bodyLines", bodyLines));
  }

  /** Removes messages; ids that are already gone are reported, not failed. Returns how many were removed. */
  public Future<Integer> delete(String mailbox, Collection<String> ids) {
    return this.<JsonObject>request(Addresses.DELETE, new JsonObject().put("mailbox", mailbox).put("ids", new JsonArray(List.copyOf(ids))))
        .map(j -> j.getInteger("deleted", 0));
  }

  /** Checks a password; succeeds with the canonical mailbox address, fails with AUTH_FAILED. */
  public Future<String> authenticate(String address, String password) {
    return this.<JsonObject>request(Addresses.AUTHENTICATE, new JsonObject().put("address", address).put("password", password))
        .map(j -> j.getString("address"));
  }

  /** Whether the address is a mailbox here. */
  public Future<Boolean> mailboxExists(String address) {
    return this.<JsonObject>request(Addresses.MAILBOX_EXISTS, new JsonObject().put("address", address))
        .map(j -> j.getBoolean("exists", false));
  }

  /**
   * Journaled events after {@code afterId} ("" for the oldest retained), optionally for one mailbox;
   * page by calling again with the last id received until a page is empty.
   */
  public Future<EventPage> eventsSince(String afterId, String mailbox, int limit) {
    JsonObject req = new JsonObject().put("after", afterId == null ? "" : afterId).put("limit", limit);
    if (mailbox != null) {
      req.put("mailbox", mailbox);
    }
    return this.<JsonObject>request(Addresses.EVENTS_SINCE, req).map(EventPage::fromJson);
  }

  /** Succeeds when a mailstore answers. */
  public Future<JsonObject> ping() {
    return request(Addresses.PING, new JsonObject());
  }

  private <T> Future<T> request(String address, Object body) {
    DeliveryOptions opts = new DeliveryOptions().setSendTimeout(timeoutMs);
    return vertx.eventBus().<T>request(address, body, opts)
        .recover(t -> Future.failedFuture(MailstoreException.from(t)))
        .map(msg -> msg.body());
  }
}
