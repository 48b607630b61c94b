package dev.mailserver.mailstore.journal;

import dev.mailserver.common.model.MailEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * A volatile journal with the same contract as {@link FileEventJournal}, for tests and for
 * {@link dev.mailserver.mailstore.store.InMemoryStore}. It keeps the newest {@code maxCount} events
 * (no age bound): ids are still strictly increasing and {@code truncated} is reported as the file
 * journal does.
 */
public final class InMemoryEventJournal implements EventJournal {

  private final long maxCount;
  /** Oldest first; ids are consecutive, the first being {@code oldest}. */
  private final ArrayList<MailEvent> events = new ArrayList<>();
  private long oldest = 1;
  private long next = 1;

  public InMemoryEventJournal() {
    this(Long.MAX_VALUE);
  }

  public InMemoryEventJournal(long maxCount) {
    if (maxCount <= 0) {
      throw new IllegalArgumentException("maxCount must be positive");
    }
    this.maxCount = maxCount;
  }

  @Override
  public synchronized MailEvent append(MailEvent event) {
    return appendAll(List.of(event)).get(0);
  }

  @Override
  public synchronized List<MailEvent> appendAll(List<MailEvent> batch) {
    List<MailEvent> out = new ArrayList<>(batch.size());
    for (MailEvent e : batch) {
      MailEvent stored = EventJournal.withId(e, Long.toString(next++));
      events.add(stored);
      out.add(stored);
    }
    int excess = (int) Math.max(0, events.size() - maxCount);
    if (excess > 0) {
      events.subList(0, excess).clear();
      oldest += excess;
    }
    return out;
  }

  @Override
  public synchronized Scan scan(long afterId, String mailbox, int limit) {
    long last = next - 1;
    long first = events.isEmpty() ? 0 : oldest;
    boolean reset = afterId > last;
    long from = reset ? -1 : afterId;
    boolean truncated = reset || (from >= 0 && first > 0 && from < first - 1);
    List<MailEvent> page = new ArrayList<>();
    long scanned = Math.max(from, truncated ? first - 1 : from);
    int start = (int) Math.max(0, from + 1 - oldest);
    for (int i = start; i < events.size() && page.size() < limit; i++) {
      MailEvent e = events.get(i);
      scanned = oldest + i;
      if (mailbox == null || mailbox.equals(e.mailbox())) {
        page.add(e);
      }
    }
    return new Scan(page, Math.max(scanned, 0), last, first, truncated);
  }

  @Override
  public synchronized String lastId() {
    return next == 1 ? "" : Long.toString(next - 1);
  }

  @Override
  public void close() {
    // nothing held
  }
}
