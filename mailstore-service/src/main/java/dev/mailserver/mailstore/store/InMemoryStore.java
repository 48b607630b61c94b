package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * A volatile store with the same contract as {@link MaildirStore}: for tests and for trying the
 * system without a disk. One lock for everything keeps deliveries all-or-nothing trivially.
 */
public final class InMemoryStore implements MailStore {

  private record Message(byte[] bytes, long receivedAt) {}

  private final Map<MailboxName, LinkedHashMap<String, Message>> boxes = new LinkedHashMap<>();
  private long seq;

  @Override
  public synchronized void createMailbox(MailboxName mailbox) {
    boxes.computeIfAbsent(mailbox, k -> new LinkedHashMap<>());
  }

  @Override
  public synchronized boolean exists(MailboxName mailbox) {
    return boxes.containsKey(mailbox);
  }

  @Override
  public synchronized List<DeliverResult.Stored> deliver(String sender, List<MailboxName> rcpts, Buffer content) {
    byte[] header = MessageText.returnPath(sender);
    List<MailboxName> recipients = List.copyOf(new LinkedHashSet<>(rcpts));
    if (recipients.isEmpty()) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "no recipients");
    }
    for (MailboxName r : recipients) {
      box(r);
    }
    byte[] bytes = Buffer.buffer(header).appendBuffer(content).getBytes();
    long now = System.currentTimeMillis();
    List<DeliverResult.Stored> stored = new ArrayList<>();
    for (MailboxName r : recipients) {
      // Zero-padded so that ids sort in delivery order, like the list.
      String id = String.format("%d.%012d", now, ++seq);
      box(r).put(id, new Message(bytes, now));
      stored.add(new DeliverResult.Stored(r.address(), id, bytes.length));
    }
    return stored;
  }

  @Override
  public synchronized List<MessageInfo> list(MailboxName mailbox) {
    List<MessageInfo> out = new ArrayList<>();
    box(mailbox).forEach((id, m) -> out.add(new MessageInfo(id, MessageIds.uid(id), m.bytes().length, m.receivedAt())));
    return out;
  }

  @Override
  public synchronized Buffer fetch(MailboxName mailbox, String id) {
    return Buffer.buffer(message(mailbox, id).bytes());
  }

  @Override
  public synchronized Buffer fetchRange(MailboxName mailbox, String id, long offset, int length) {
    MailStore.checkRange(offset, length);
    byte[] bytes = message(mailbox, id).bytes();
    int from = (int) Math.min(offset, bytes.length);
    int to = (int) Math.min((long) from + length, bytes.length);
    return Buffer.buffer(Arrays.copyOfRange(bytes, from, to));
  }

  @Override
  public synchronized Buffer fetchTop(MailboxName mailbox, String id, int bodyLines) {
    if (bodyLines < 0) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "bodyLines must be >= 0");
    }
    try {
      return MessageText.top(new ByteArrayInputStream(message(mailbox, id).bytes()), bodyLines);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen on a byte array
    }
  }

  @Override
  public synchronized DeleteResult delete(MailboxName mailbox, Collection<String> ids) {
    ids.forEach(MessageIds::validate);
    LinkedHashMap<String, Message> box = box(mailbox);
    int deleted = 0;
    List<String> missing = new ArrayList<>();
    for (String id : new LinkedHashSet<>(ids)) {
      if (box.remove(id) != null) {
        deleted++;
      } else {
        missing.add(id);
      }
    }
    return new DeleteResult(deleted, missing);
  }

  private Message message(MailboxName mailbox, String id) {
    MessageIds.validate(id);
    Message m = box(mailbox).get(id);
    if (m == null) {
      throw new MailstoreException(MailstoreError.MESSAGE_NOT_FOUND, id);
    }
    return m;
  }

  private LinkedHashMap<String, Message> box(MailboxName mailbox) {
    LinkedHashMap<String, Message> box = boxes.get(mailbox);
    if (box == null) {
      throw new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, mailbox.address());
    }
    return box;
  }
}
