package dev.mailserver.mailstore.store;

import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.util.Collection;
import java.util.List;

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

  /** Creates the mailbox if it does not exist; idempotent. */
  void createMailbox(MailboxName mailbox);

  boolean exists(MailboxName mailbox);

  /**
   * Stores one copy per recipient, each prefixed with {@code Return-Path: <sender>}. All or nothing:
   * returns only when every copy is durable; on failure no copy remains. Unknown recipient:
   * MAILBOX_NOT_FOUND before anything is written.
   */
  List<DeliverResult.Stored> deliver(String sender, List<MailboxName> recipients, Buffer content);

  /** Messages oldest first, ties broken by id. */
  List<MessageInfo> list(MailboxName mailbox);

  /** The exact stored bytes. */
  Buffer fetch(MailboxName mailbox, String id);

  /** The header section, the blank line, and at most {@code bodyLines} lines of the body. */
  Buffer fetchTop(MailboxName mailbox, String id, int bodyLines);

  /** Removes messages; ids already gone are reported in {@link DeleteResult#missing()}. */
  DeleteResult delete(MailboxName mailbox, Collection<String> ids);

  /** Cheap check for readiness probes. */
  default boolean healthy() {
    return true;
  }
}
