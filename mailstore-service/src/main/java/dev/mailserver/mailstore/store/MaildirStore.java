package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maildir storage: {@code <root>/<domain>/<local>/{tmp,new,cur}}. A delivery writes
 * {@code tmp/<name>} and renames it into {@code new/}, so a half-written message is never visible;
 * it is durable before the delivery completes, either through the {@link DeliveryLog} (small
 * messages, when a log directory is given) or by an fsync of the file and of {@code new/}.
 * Other Maildir programs may share the directories: foreign names and {@code cur/} files with
 * {@code :2,<flags>} are read as well. Messages are left in {@code new/}; this store never renames.
 * Several mailstore instances may share the root: nothing is cached, every list and fetch reads the
 * directories, and a delete of a message another instance removed first reports it as missing.
 */
public final class MaildirStore implements MailStore {
  private static final Logger LOG = LoggerFactory.getLogger(MaildirStore.class);

  /** The Maildir rule: a tmp file untouched for 36 hours is garbage of an interrupted delivery. */
  public static final Duration STALE_TMP_AGE = Duration.ofHours(36);

  private static final String TMP = "tmp";
  private static final String NEW = "new";
  private static final String CUR = "cur";

  private final Path root;
  private final MaildirNames names;
  private final Durability durability;
  private final DeliveryLog log;
  private final DirectorySync directories;
  /**
   * Messages up to this size are made durable through the delivery log; larger ones by an fsync of
   * each copy (with the log on, the bytes of a large message would otherwise be written twice).
   */
  public static final long LOG_CONTENT_LIMIT = 64 * 1024;

  public MaildirStore(Path root, String hostname) {
    this(root, hostname, Durability.Observer.NONE);
  }

  /** With every fsync reported to {@code fsyncs} (the service's meters). */
  public MaildirStore(Path root, String hostname, Durability.Observer fsyncs) {
    this(root, new MaildirNames(hostname), new Durability(fsyncs));
  }

  public MaildirStore(Path root, MaildirNames names, Durability durability) {
    this(root, names, durability, null, DeliveryLog.DEFAULT_CHECKPOINT_INTERVAL);
  }

  /**
   * With group commit: copies are written without fsync and made durable through a
   * {@link DeliveryLog} in {@code logDir} (null: every copy fsync'd on its own, as before).
   */
  public MaildirStore(Path root, String hostname, Durability.Observer fsyncs, Path logDir) {
    this(root, hostname, fsyncs, logDir, DeliveryLog.DEFAULT_CHECKPOINT_INTERVAL);
  }

  /** With another checkpoint interval (tests: long, so that no checkpoint runs unless asked for). */
  MaildirStore(Path root, String hostname, Durability.Observer fsyncs, Path logDir, Duration checkpointInterval) {
    this(root, new MaildirNames(hostname), new Durability(fsyncs), logDir, checkpointInterval);
  }

  private MaildirStore(Path root, MaildirNames names, Durability durability, Path logDir, Duration checkpointInterval) {
    this.root = root.toAbsolutePath().normalize();
    this.names = names;
    this.durability = durability;
    this.log = logDir == null ? null : new DeliveryLog(logDir, this.root, durability,
        DeliveryLog.syncfsOrFsync(durability), checkpointInterval);
    this.directories = new DirectorySync(durability);
  }

  public Path root() {
    return root;
  }

  /** The mailbox's Maildir directory (it may not exist). */
  public Path mailboxDir(MailboxName mailbox) {
    Path dir = root.resolve(mailbox.relativePath()).normalize();
    if (!dir.startsWith(root)) {
      // Cannot happen with a validated MailboxName; a last line of defence for the data directory.
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "mailbox outside the store");
    }
    return dir;
  }

  @Override
  public void open() {
    try {
      Files.createDirectories(root);
      if (log != null) {
        // Before anything is listed: acknowledged copies a crash lost are back in new/ first.
        log.open();
      }
      int removed = removeStaleTmpFiles(STALE_TMP_AGE);
      if (removed > 0) {
        LOG.info("Removed {} stale tmp file(s) of interrupted deliveries", removed);
      }
    } catch (IOException e) {
      throw storage("cannot open the mail directory " + root, e);
    }
  }

  /** Deletes files in every mailbox's tmp/ older than {@code age}; returns how many. */
  public int removeStaleTmpFiles(Duration age) throws IOException {
    long cutoff = System.currentTimeMillis() - age.toMillis();
    int removed = 0;
    for (Path domain : children(root)) {
      for (Path box : children(domain)) {
        for (Path f : children(box.resolve(TMP))) {
          try {
            BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
            if (a.isRegularFile() && a.lastModifiedTime().toMillis() < cutoff) {
              Files.deleteIfExists(f);
              removed++;
            }
          } catch (NoSuchFileException gone) {
            // Another process cleaned it up first.
          }
        }
      }
    }
    return removed;
  }

  private static List<Path> children(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      ds.forEach(out::add);
    }
    return out;
  }

  @Override
  public void close() {
    if (log != null) {
      log.close();
    }
  }

  @Override
  public void createMailbox(MailboxName mailbox) {
    Path dir = mailboxDir(mailbox);
    try {
      boolean existed = Files.isDirectory(dir.resolve(NEW));
      for (String sub : List.of(TMP, NEW, CUR)) {
        Files.createDirectories(dir.resolve(sub));
      }
      if (!existed) {
        // Make the new directory entries durable up to the root: a mailbox that vanished after a
        // crash would turn accepted mail into MAILBOX_NOT_FOUND.
        durability.syncDirectories(List.of(dir, dir.getParent(), root));
      }
    } catch (IOException e) {
      throw storage("cannot create mailbox " + mailbox, e);
    }
  }

  @Override
  public boolean exists(MailboxName mailbox) {
    return Files.isDirectory(mailboxDir(mailbox).resolve(NEW));
  }

  @Override
  public List<DeliverResult.Stored> deliver(String sender, List<MailboxName> rcpts, Buffer content) {
    return deliver(sender, rcpts, content, stored -> {});
  }

  @Override
  public List<DeliverResult.Stored> deliver(String sender, List<MailboxName> rcpts, Buffer content,
                                            Consumer<List<DeliverResult.Stored>> named) {
    try {
      return deliverAsync(sender, rcpts, content, named).join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
    }
  }

  /**
   * Writes the copies in the calling thread; the future completes once they are durable - at once
   * for messages fsync'd in place, on the delivery log's committer thread for the others.
   */
  @Override
  public CompletableFuture<List<DeliverResult.Stored>> deliverAsync(String sender, List<MailboxName> rcpts,
                                                                    Buffer content,
                                                                    Consumer<List<DeliverResult.Stored>> named) {
    byte[] header = MessageText.returnPath(sender);
    // A duplicated recipient gets one copy, as SMTP would give it.
    List<MailboxName> recipients = List.copyOf(new LinkedHashSet<>(rcpts));
    if (recipients.isEmpty()) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "no recipients");
    }
    for (MailboxName r : recipients) {
      if (!exists(r)) {
        throw new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, r.address());
      }
    }
    // NIO views of the message's own memory (no copy), written as they are for every recipient.
    ByteBuffer[] body = ((BufferInternal) content).getByteBuf().nioBuffers();
    long size = (long) header.length + content.length();
    List<Path> committed = new ArrayList<>();
    List<DeliverResult.Stored> stored = new ArrayList<>();
    Set<Path> newDirs = new LinkedHashSet<>();
    try {
      // Small messages go through the log (their cost is the fsync, shared by the batch); large ones
      // are fsync'd in place (their cost is the bytes, which the log would write twice).
      boolean viaLog = log != null && size <= LOG_CONTENT_LIMIT;
      for (MailboxName r : recipients) {
        Path dir = mailboxDir(r);
        String name = names.next(size);
        committed.add(writeNew(dir, name, header, body, !viaLog));
        newDirs.add(dir.resolve(NEW));
        stored.add(new DeliverResult.Stored(r.address(), name, size));
      }
      named.accept(List.copyOf(stored));
      if (viaLog) {
        // Group commit: one fdatasync of the log for every delivery queued meanwhile; the copies
        // themselves become durable at the next checkpoint, and recovery rewrites them until then.
        return log.commitAsync(committed, header, body).handle((ok, failed) -> {
          if (failed != null) {
            rollback(committed);
            throw storage("delivery failed, no copy kept", failed instanceof CompletionException c ? c.getCause() : failed);
          }
          return stored;
        });
      }
      // The renames are durable only once the directories are synced; only then may we answer.
      // Concurrent deliveries into the same directories share these fsyncs.
      directories.sync(newDirs);
      return CompletableFuture.completedFuture(stored);
    } catch (IOException | RuntimeException e) {
      rollback(committed);
      throw e instanceof MailstoreException me ? me : storage("delivery failed, no copy kept", e);
    }
  }

  /** tmp/name, written (and fsync'd if {@code sync}), then atomically renamed to new/name. Returns the new path. */
  private Path writeNew(Path dir, String name, byte[] header, ByteBuffer[] body, boolean sync) throws IOException {
    Path tmp = dir.resolve(TMP).resolve(name);
    Path target = dir.resolve(NEW).resolve(name);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer[] bufs = DeliveryLog.views(header, body);
        long left = DeliveryLog.remaining(bufs);
        while (left > 0) {
          left -= ch.write(bufs);
        }
        if (sync) {
          durability.syncFile(ch);
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      return target;
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException | RuntimeException ignored) {
        // tmp/ may itself be the broken part; a leftover is cleaned after 36 hours.
      }
      throw e;
    }
  }

  /** Removes copies already renamed into new/, so a failed delivery leaves nothing to duplicate. */
  private void rollback(List<Path> committed) {
    Set<Path> dirs = new LinkedHashSet<>();
    for (Path p : committed) {
      try {
        Files.deleteIfExists(p);
        dirs.add(p.getParent());
      } catch (IOException e) {
        LOG.error("Could not remove {} after a failed delivery: the sender's retry will duplicate it", p, e);
      }
    }
    try {
      durability.syncDirectories(dirs);
    } catch (IOException e) {
      LOG.warn("Could not sync directories after rollback", e);
    }
  }

  @Override
  public List<MessageInfo> list(MailboxName mailbox) {
    Path dir = requireMailbox(mailbox);
    record Entry(String id, long micros, long size) {}
    Map<String, Entry> byId = new LinkedHashMap<>();
    try {
      for (String sub : List.of(NEW, CUR)) {
        for (Path f : children(dir.resolve(sub))) {
          String fileName = f.getFileName().toString();
          if (fileName.startsWith(".")) {
            continue; // hidden files are not messages (Maildir rule)
          }
          BasicFileAttributes a;
          try {
            a = Files.readAttributes(f, BasicFileAttributes.class);
          } catch (NoSuchFileException gone) {
            continue; // deleted or moved while we listed
          }
          if (!a.isRegularFile()) {
            continue;
          }
          String id = baseName(fileName);
          long micros = MaildirNames.parseMicros(fileName);
          if (micros < 0) {
            micros = a.lastModifiedTime().to(java.util.concurrent.TimeUnit.MICROSECONDS);
          }
          // A file seen in both new/ and cur/ is one being moved by another reader: list it once.
          byId.putIfAbsent(id, new Entry(id, micros, a.size()));
        }
      }
    } catch (IOException e) {
      throw storage("cannot list " + mailbox, e);
    }
    return byId.values().stream()
        .sorted(Comparator.comparingLong(Entry::micros).thenComparing(Entry::id))
        .map(e -> new MessageInfo(e.id(), MessageIds.uid(e.id()), e.size(), e.micros() / 1000))
        .toList();
  }

  @Override
  public Buffer fetch(MailboxName mailbox, String id) {
    return read(mailbox, id, p -> Buffer.buffer(Files.readAllBytes(p)));
  }

  /**
   * A positional read of the range only ({@code FileChannel.read(ByteBuffer, position)}), never the
   * rest of the file. Files are never rewritten, so ranges are consistent; one deleted since the
   * previous range is MESSAGE_NOT_FOUND (an open file stays readable on POSIX until closed).
   */
  @Override
  public Buffer fetchRange(MailboxName mailbox, String id, long offset, int length) {
    MailStore.checkRange(offset, length);
    return read(mailbox, id, p -> {
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
        long size = ch.size();
        if (offset >= size || length == 0) {
          return Buffer.buffer(0);
        }
        ByteBuffer dst = ByteBuffer.allocate((int) Math.min(length, size - offset));
        while (dst.hasRemaining()) {
          if (ch.read(dst, offset + dst.position()) < 0) {
            break; // cannot happen to a file that is never rewritten; return what is there
          }
        }
        return Buffer.buffer(dst.position() == dst.capacity() ? dst.array() : Arrays.copyOf(dst.array(), dst.position()));
      }
    });
  }

  @Override
  public Buffer fetchTop(MailboxName mailbox, String id, int bodyLines) {
    if (bodyLines < 0) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "bodyLines must be >= 0");
    }
    return read(mailbox, id, p -> {
      try (InputStream in = new BufferedInputStream(Files.newInputStream(p), 8192)) {
        return MessageText.top(in, bodyLines);
      }
    });
  }

  private interface Reader {
    Buffer read(Path p) throws IOException;
  }

  private Buffer read(MailboxName mailbox, String id, Reader reader) {
    MessageIds.validate(id);
    Path dir = requireMailbox(mailbox);
    try {
      // Twice: another Maildir reader may move the file from new/ to cur/ between lookup and open.
      for (int attempt = 0; attempt < 2; attempt++) {
        Path p = locate(dir, id);
        if (p == null) {
          break;
        }
        try {
          return reader.read(p);
        } catch (NoSuchFileException moved) {
          // look again
        }
      }
    } catch (IOException e) {
      throw storage("cannot read " + id + " of " + mailbox, e);
    }
    throw new MailstoreException(MailstoreError.MESSAGE_NOT_FOUND, id);
  }

  /** new/id, or cur/id:2,flags (any suffix after ':'); null if absent. */
  private static Path locate(Path dir, String id) throws IOException {
    Path inNew = dir.resolve(NEW).resolve(id);
    if (Files.isRegularFile(inNew)) {
      return inNew;
    }
    for (Path f : children(dir.resolve(CUR))) {
      String n = f.getFileName().toString();
      if ((n.equals(id) || (n.startsWith(id) && n.length() > id.length() && n.charAt(id.length()) == ':'))
          && Files.isRegularFile(f)) {
        return f;
      }
    }
    return null;
  }

  @Override
  public DeleteResult delete(MailboxName mailbox, Collection<String> ids) {
    ids.forEach(MessageIds::validate); // all valid or nothing deleted
    Path dir = requireMailbox(mailbox);
    if (log != null) {
      try {
        // A copy still covered by the log would come back from it after a crash: checkpoint first.
        log.checkpoint();
      } catch (IOException e) {
        throw storage("cannot checkpoint the delivery log before deleting from " + mailbox, e);
      }
    }
    int deleted = 0;
    List<String> missing = new ArrayList<>();
    Set<Path> dirs = new LinkedHashSet<>();
    try {
      for (String id : new LinkedHashSet<>(ids)) {
        Path removed = remove(dir, id);
        if (removed != null) {
          deleted++;
          dirs.add(removed.getParent());
        } else {
          // Never there, or removed first by another instance sharing the directory: not an error.
          missing.add(id);
        }
      }
      // A deletion acknowledged to POP3 must not come back after a crash.
      durability.syncDirectories(dirs);
    } catch (IOException e) {
      throw storage("cannot delete from " + mailbox, e);
    }
    return new DeleteResult(deleted, missing);
  }

  /**
   * Unlinks the message; the path removed, or null when it is gone. Twice, like {@link #read}:
   * between lookup and unlink another Maildir reader may have moved it from new/ to cur/.
   */
  private static Path remove(Path dir, String id) throws IOException {
    for (int attempt = 0; attempt < 2; attempt++) {
      Path p = locate(dir, id);
      if (p == null) {
        return null;
      }
      if (Files.deleteIfExists(p)) {
        return p;
      }
    }
    return null;
  }

  @Override
  public boolean healthy() {
    return Files.isDirectory(root) && Files.isWritable(root);
  }

  private Path requireMailbox(MailboxName mailbox) {
    if (!exists(mailbox)) {
      throw new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, mailbox.address());
    }
    return mailboxDir(mailbox);
  }

  /** The message id of a Maildir file: its name without the {@code :2,flags} info part. */
  static String baseName(String fileName) {
    int colon = fileName.indexOf(':');
    return colon < 0 ? fileName : fileName.substring(0, colon);
  }

  private static MailstoreException storage(String msg, Throwable cause) {
    LOG.error("Storage failure: {}", msg, cause);
    String detail = cause instanceof NotDirectoryException ? "not a directory: " + cause.getMessage() : String.valueOf(cause);
    return new MailstoreException(MailstoreError.STORAGE_FAILURE, msg + " (" + detail + ")");
  }
}
