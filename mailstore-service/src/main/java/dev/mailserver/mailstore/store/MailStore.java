package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Where messages live. Methods are blocking and thread-safe: callers run them on worker threads
 * (see {@code MailstoreService}), which keeps implementations plain and testable without Vert.x.
 * Failures are {@link dev.mailserver.common.bus.MailstoreException}s carrying the contract's error
 * codes (INVALID_REQUEST, MAILBOX_NOT_FOUND, MESSAGE_NOT_FOUND, STORAGE_FAILURE).
 */
public interface MailStore {

  /** Prepares the store (e.g. cleans up interrupted writes). Called once before use. */
  default void open() {
  }

  /** Releases what {@link #open} took; acknowledged messages are durable whether or not it runs. */
  default void close() {
  }

  /** Creates the mailbox if it does not exist; idempotent. */
  void createMailbox(MailboxName mailbox);

  boolean exists(MailboxName mailbox);

  /**
   * Stores one copy per recipient, each prefixed with {@code Return-Path: <sender>}. All or nothing:
   * returns only when every copy is durable; on failure no copy remains. Unknown recipient:
   * MAILBOX_NOT_FOUND before anything is written.
   */
  List<DeliverResult.Stored> deliver(String sender, List<MailboxName> recipients, Buffer content);

  /**
   * As {@link #deliver(String, List, Buffer)}, telling {@code named} the copies' names as soon as
   * they are known and no later than when they are durable, so that work that only needs the names
   * (journaling the new-mail events) can run while the store waits for its flush. If the delivery
   * then fails, the names told were never acknowledged and no copy remains.
   */
  default List<DeliverResult.Stored> deliver(String sender, List<MailboxName> recipients, Buffer content,
                                             Consumer<List<DeliverResult.Stored>> named) {
    List<DeliverResult.Stored> stored = deliver(sender, recipients, content);
    named.accept(stored);
    return stored;
  }

  /**
   * As {@link #deliver(String, List, Buffer, Consumer)}, but may return before the copies are
   * durable: the future completes when they are (possibly on another thread). A failure before
   * anything was written may be thrown at once. This default is the blocking delivery.
   */
  default CompletableFuture<List<DeliverResult.Stored>> deliverAsync(String sender, List<MailboxName> recipients,
                                                                    Buffer content,
                                                                    Consumer<List<DeliverResult.Stored>> named) {
    return CompletableFuture.completedFuture(deliver(sender, recipients, content, named));
  }

  /** Messages oldest first, ties broken by id. */
  List<MessageInfo> list(MailboxName mailbox);

  /** The exact stored bytes. */
  Buffer fetch(MailboxName mailbox, String id);

  /**
   * The stored bytes {@code [offset, min(offset + length, size))}; empty at or past the end. A
   * message is never rewritten, so consecutive ranges of one id are consistent; it may be gone by
   * the next range (MESSAGE_NOT_FOUND). INVALID_REQUEST for a negative offset or length, or a length
   * above {@link MailstoreClient#MAX_RANGE_LENGTH} ({@link #checkRange}). This default slices a
   * whole fetch; real stores override it with a read of the range only.
   */
  default Buffer fetchRange(MailboxName mailbox, String id, long offset, int length) {
    checkRange(offset, length);
    Buffer all = fetch(mailbox, id);
    int from = (int) Math.min(offset, all.length());
    int to = (int) Math.min((long) from + length, all.length());
    return all.getBuffer(from, to);
  }

  /** The contract's range rules: offset >= 0, 0 <= length <= MAX_RANGE_LENGTH, else INVALID_REQUEST. */
  static void checkRange(long offset, long length) {
    if (offset < 0 || length < 0) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "offset and length must be >= 0");
    }
    if (length > MailstoreClient.MAX_RANGE_LENGTH) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST,
          "length must be at most " + MailstoreClient.MAX_RANGE_LENGTH);
    }
  }

  /** The header section, the blank line, and at most {@code bodyLines} lines of the body. */
  Buffer fetchTop(MailboxName mailbox, String id, int bodyLines);

  /** Removes messages; ids already gone are reported in {@link DeleteResult#missing()}. */
  DeleteResult delete(MailboxName mailbox, Collection<String> ids);

  /** Cheap check for readiness probes. */
  default boolean healthy() {
    return true;
  }
}
