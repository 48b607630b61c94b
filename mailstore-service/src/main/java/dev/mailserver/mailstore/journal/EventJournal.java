package dev.mailserver.mailstore.journal;

import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable record of mailstore events (deliveries and deletions), so consumers that were away
 * (an SSE client with {@code Last-Event-ID}, a bus consumer in another JVM) can catch up. Blocking
 * methods: call them on a worker thread, never on an event loop.
 *
 * <p>Ids are the journal's sequence numbers in decimal: 1, 2, 3, ... without holes, strictly
 * increasing per journal (per data directory for {@link FileEventJournal}, even with several
 * processes appending). An id a consumer has seen can always be asked for again with
 * {@link #since} until compaction removes it (see {@link FileEventJournal} for the retention rule).
 */
public interface EventJournal extends AutoCloseable {

  /**
   * Appends an event durably and returns it with its assigned id (the next sequence number, in
   * decimal). The {@code eventId} of the argument is ignored. Throws when the event could not be
   * made durable; then it has no id.
   */
  MailEvent append(MailEvent event);

  /**
   * Appends several events with consecutive ids, in order, made durable together (one sync).
   * Returns them with their ids. The {@code eventId}s of the arguments are ignored.
   */
  default List<MailEvent> appendAll(List<MailEvent> events) {
    List<MailEvent> out = new ArrayList<>(events.size());
    for (MailEvent e : events) {
      out.add(append(e));
    }
    return out;
  }

  /**
   * Events with an id greater than {@code afterId} ("" or null: from the oldest retained), oldest
   * first, at most {@code limit}, optionally only those of one mailbox (null: all).
   *
   * <p>{@code truncated} is true when the page cannot continue exactly after {@code afterId}: some
   * events after it were compacted away, or {@code afterId} is newer than the newest event (the
   * journal was reset). In both cases the page starts at the oldest retained event.
   *
   * @throws IllegalArgumentException when {@code afterId} is not a decimal event id
   */
  default EventPage since(String afterId, String mailbox, int limit) {
    return scan(parseId(afterId), mailbox, limit).page();
  }

  /**
   * {@link #since} with the id already parsed ({@code -1}: from the oldest retained), and how far
   * the journal was examined, so a follower with a mailbox filter can advance past events it does
   * not want without seeing them.
   */
  Scan scan(long afterId, String mailbox, int limit);

  /** The newest event id, or "" if the journal is empty. */
  String lastId();

  @Override
  void close();

  /**
   * One read of the journal.
   *
   * @param events         oldest first, at most the limit, only the mailbox asked for
   * @param scannedThrough every event with {@code start < id <= scannedThrough} that matches the
   *                       filter is in {@code events}, where start is the afterId asked for (or the
   *                       oldest retained minus one when {@code truncated})
   * @param lastId         the newest id in the journal when answered (0: empty)
   * @param oldestId       the oldest id retained (0: empty)
   * @param truncated      see {@link #since}
   */
  record Scan(List<MailEvent> events, long scannedThrough, long lastId, long oldestId, boolean truncated) {
    public Scan {
      events = List.copyOf(events);
    }

    public EventPage page() {
      return new EventPage(events, lastId == 0 ? "" : Long.toString(lastId), truncated);
    }
  }

  /**
   * Parses an event id: null or "" gives -1 (from the oldest retained), otherwise a decimal number
   * of at most 18 digits.
   *
   * @throws IllegalArgumentException for anything else
   */
  static long parseId(String id) {
    if (id == null || id.isEmpty()) {
      return -1;
    }
    if (id.length() > 18) {
      throw new IllegalArgumentException("not an event id: " + abbreviate(id));
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException("not an event id: " + abbreviate(id));
      }
    }
    return Long.parseLong(id);
  }

  private static String abbreviate(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  /** The same event carrying another id. */
  static MailEvent withId(MailEvent e, String id) {
    return new MailEvent(id, e.type(), e.mailbox(), e.messageId(), e.from(), e.subject(), e.size(), e.time(), e.deliveryId());
  }
}
