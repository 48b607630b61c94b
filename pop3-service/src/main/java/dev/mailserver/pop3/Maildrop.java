package dev.mailserver.pop3;

import dev.mailserver.common.model.MessageInfo;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

/**
 * The maildrop as this session sees it: a snapshot taken at login. RFC 1939 section 4 numbers the
 * messages 1..n for the whole session; mail arriving later is not shown, and DELE only marks
 * (section 5) - the marks are applied by the caller in the UPDATE state, never here.
 * Confined to the connection's event loop.
 */
public final class Maildrop {

  /** A message visible to the client, with its session message number. */
  public record Entry(int number, MessageInfo info) {}

  private final List<MessageInfo> messages;
  private final BitSet deleted = new BitSet();

  private Maildrop(List<MessageInfo> messages) {
    this.messages = List.copyOf(messages);
  }

  public static Maildrop snapshot(List<MessageInfo> messages) {
    return new Maildrop(messages);
  }

  /** Messages not marked deleted (RFC 1939 section 5, STAT: deleted ones are not counted). */
  public int count() {
    return messages.size() - deleted.cardinality();
  }

  /** Octets of the messages not marked deleted. */
  public long size() {
    long total = 0;
    for (Entry e : visible()) {
      total += e.info().size();
    }
    return total;
  }

  /** The message numbered {@code n}, unless out of range or marked deleted. */
  public Optional<MessageInfo> get(int n) {
    if (!inRange(n) || deleted.get(n - 1)) {
      return Optional.empty();
    }
    return Optional.of(messages.get(n - 1));
  }

  public boolean inRange(int n) {
    return n >= 1 && n <= messages.size();
  }

  public boolean isDeleted(int n) {
    return inRange(n) && deleted.get(n - 1);
  }

  /** Marks message {@code n}; false if it does not exist or is already marked. */
  public boolean markDeleted(int n) {
    if (get(n).isEmpty()) {
      return false;
    }
    deleted.set(n - 1);
    return true;
  }

  /** RSET: unmark everything (RFC 1939 section 5). */
  public void reset() {
    deleted.clear();
  }

  /** Store ids of the marked messages, in message-number order. */
  public List<String> deletedIds() {
    List<String> ids = new ArrayList<>();
    deleted.stream().forEach(i -> ids.add(messages.get(i).id()));
    return ids;
  }

  /** Messages not marked deleted, in message-number order. */
  public List<Entry> visible() {
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      if (!deleted.get(i)) {
        out.add(new Entry(i + 1, messages.get(i)));
      }
    }
    return out;
  }
}
