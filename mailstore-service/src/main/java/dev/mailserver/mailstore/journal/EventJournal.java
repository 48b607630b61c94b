package dev.mailserver.mailstore.journal;

import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;

/**
 * The durable record of mailstore events (deliveries and deletions), so consumers that were away
 * (an SSE client with {@code Last-Event-ID}, a bus consumer in another JVM) can catch up. Blocking
 * methods: call them on a worker thread, never on an event loop.
 */
public interface EventJournal extends AutoCloseable {

  /**
   * Appends an event durably and returns it with its assigned id (the next sequence number, in
   * decimal). The {@code eventId} of the argument is ignored.
   */
  MailEvent append(MailEvent event);

  /**
   * Events with an id greater than {@code afterId} ("" or null: from the oldest retained), oldest
   * first, at most {@code limit}, optionally only those of one mailbox (null: all).
   */
  EventPage since(String afterId, String mailbox, int limit);

  /** The newest event id, or "" if the journal is empty. */
  String lastId();

  @Override
  void close();
}
