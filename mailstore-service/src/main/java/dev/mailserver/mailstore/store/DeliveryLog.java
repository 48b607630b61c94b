package dev.mailserver.mailstore.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for (small) deliveries: a write-ahead log of whole messages. A delivery writes its Maildir
 * copies without fsync, then appends one record (target names + the exact bytes) here; concurrent
 * deliveries share one write and one {@code fdatasync} of the log (one committer thread takes
 * everything queued while it flushed the previous batch). Only then may SMTP answer {@code 250}.
 *
 * <p>A checkpoint (every second, and before any deletion) makes the Maildir copies themselves
 * durable - one {@code syncfs} of the mail file system ({@code sync -f}), or an fsync of each copy
 * and its directory where that is not available - and then drops the log segments it covered.
 * After a crash, {@link #recover} replays the segments left over: every copy that is missing or
 * differs from the logged bytes is written again (fsync'd), so an acknowledged message is never
 * lost and never half stored. Deletions checkpoint first, so a message removed after its delivery
 * does not come back from the log.
 *
 * <p>Each instance writes its own segments and holds a lock on each until it is dropped; recovery
 * replays only segments nobody holds, so instances sharing a data directory leave each other's
 * live logs alone and the next one to start replays the log of one that died.
 */
public final class DeliveryLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeliveryLog.class);

  /** "MDL1": the start of every record, so a scan can tell a record from a torn tail. */
  static final int MAGIC = 0x4D444C31;
  static final String SUFFIX = ".log";
  /** A segment this large is checkpointed at once instead of waiting for the timer. */
  static final long SEGMENT_BYTES = 64L * 1024 * 1024;
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(1);

  /** How the copies written since the last checkpoint are made durable. */
  @FunctionalInterface
  public interface Syncer {
    void sync(Path mailRoot, Collection<Path> files) throws IOException;
  }

  private record Segment(Path path, FileChannel channel, FileLock lock) {}

  private record Pending(ByteBuffer[] buffers, List<Path> files, CompletableFuture<Void> done) {}

  private final Path dir;
  private final Path mailRoot;
  private final Durability durability;
  private final Syncer syncer;
  private final Duration interval;
  private final String prefix;
  private final AtomicLong seq = new AtomicLong();
  /** Deliveries waiting for the committer; guarded by itself for the check against {@link #closed}. */
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private Thread committer;
  /** Held by the committer while it writes a batch (and by a checkpoint while it swaps segments). */
  private final ReentrantLock commitLock = new ReentrantLock();
  /** One checkpoint at a time. */
  private final ReentrantLock checkpointLock = new ReentrantLock();
  private final AtomicLong commits = new AtomicLong();
  private final AtomicLong checkpoints = new AtomicLong();

  // Guarded by commitLock.
  private Segment current;
  private long currentBytes;
  private final List<Segment> sealed = new ArrayList<>();
  private List<Path> unsynced = new ArrayList<>();

  private ScheduledExecutorService timer;
  private volatile boolean closed;

  public DeliveryLog(Path dir, Path mailRoot, Durability durability) {
    this(dir, mailRoot, durability, syncfsOrFsync(durability), DEFAULT_CHECKPOINT_INTERVAL);
  }

  public DeliveryLog(Path dir, Path mailRoot, Durability durability, Syncer syncer, Duration interval) {
    this.dir = dir.toAbsolutePath().normalize();
    this.mailRoot = mailRoot.toAbsolutePath().normalize();
    this.durability = durability;
    this.syncer = syncer;
    this.interval = interval;
    this.prefix = System.currentTimeMillis() + "-" + ProcessHandle.current().pid() + "-"
        + Long.toHexString(Double.doubleToLongBits(Math.random()) & 0xffffffL) + "-";
  }

  /**
   * Replays what earlier (crashed) runs left, then opens a fresh segment and starts the periodic
   * checkpoint. Returns how many copies recovery had to write again.
   */
  public int open() throws IOException {
    Files.createDirectories(dir);
    int restored = recover();
    commitLock.lock();
    try {
      current = newSegment();
    } finally {
      commitLock.unlock();
    }
    committer = new Thread(this::runCommitter, "delivery-log-commit");
    committer.setDaemon(true);
    committer.start();
    timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "delivery-log-checkpoint");
      t.setDaemon(true);
      return t;
    });
    long ms = Math.max(1, interval.toMillis());
    timer.scheduleWithFixedDelay(this::checkpointQuietly, ms, ms, TimeUnit.MILLISECONDS);
    return restored;
  }

  /**
   * Appends the record of one delivery (its copies, already in {@code new/}, and their bytes) and
   * returns once it is durable in the log. Blocking; safe from many threads at once.
   */
  public void commit(List<Path> files, byte[] header, byte[] body) {
    try {
      commitAsync(files, header, new ByteBuffer[] {ByteBuffer.wrap(body)}).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Queues the record of one delivery for the committer thread; the future completes, on that
   * thread, once the record is durable (or fails if it could not be written). The body buffers are
   * only read, through views, and must not change until then. Never blocks.
   */
  public CompletableFuture<Void> commitAsync(List<Path> files, byte[] header, ByteBuffer[] body) {
    Pending mine = new Pending(encode(files, header, body), files, new CompletableFuture<>());
    synchronized (queue) {
      if (closed || committer == null) {
        mine.done.completeExceptionally(new IllegalStateException("delivery log not open"));
        return mine.done;
      }
      queue.add(mine);
    }
    return mine.done;
  }

  /**
   * The committer: whatever was queued while it wrote and flushed the previous batch becomes the
   * next batch (group commit), so a busy log flushes once per batch, not once per delivery.
   */
  private void runCommitter() {
    List<Pending> batch = new ArrayList<>();
    while (true) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (closed && queue.isEmpty()) {
            return;
          }
          continue;
        }
        batch.add(first);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      queue.drainTo(batch);
      commitLock.lock();
      try {
        writeBatch(batch);
      } finally {
        commitLock.unlock();
      }
      batch.clear();
    }
  }

  /** One gathering write and one fdatasync for the whole batch; holding commitLock. */
  private void writeBatch(List<Pending> batch) {
    commits.incrementAndGet();
    List<ByteBuffer> all = new ArrayList<>();
    long bytes = 0;
    for (Pending p : batch) {
      for (ByteBuffer b : p.buffers) {
        all.add(b);
        bytes += b.remaining();
      }
    }
    try {
      ByteBuffer[] bufs = all.toArray(ByteBuffer[]::new);
      long left = bytes;
      while (left > 0) {
        left -= current.channel.write(bufs);
      }
      durability.syncData(current.channel);
      currentBytes += bytes;
      for (Pending p : batch) {
        unsynced.addAll(p.files);
      }
      batch.forEach(p -> p.done.complete(null));
    } catch (IOException | RuntimeException e) {
      RuntimeException failure = new IllegalStateException("cannot write the delivery log in " + dir + ": " + e, e);
      batch.forEach(p -> p.done.completeExceptionally(failure));
      // A torn record ends the segment for recovery: later records go to a fresh one.
      try {
        sealed.add(current);
        current = newSegment();
        currentBytes = 0;
      } catch (IOException again) {
        log.error("Delivery log: cannot open a new segment after a failed write", again);
      }
      return;
    }
    if (currentBytes >= SEGMENT_BYTES && timer != null) {
      timer.execute(this::checkpointQuietly);
    }
  }

  private void checkpointQuietly() {
    try {
      checkpoint();
    } catch (IOException | RuntimeException e) {
      log.error("Delivery log checkpoint failed; the log is kept and the checkpoint retried: {}", e.toString());
    }
  }

  /**
   * Makes every copy committed so far durable in the Maildir and drops the log segments that
   * covered them. Blocking; cheap when nothing was committed since the last one.
   */
  public void checkpoint() throws IOException {
    checkpointLock.lock();
    try {
      List<Segment> drop;
      List<Path> files;
      commitLock.lock();
      try {
        if (current == null || (currentBytes == 0 && sealed.isEmpty())) {
          return;
        }
        if (currentBytes > 0) {
          sealed.add(current);
          current = newSegment();
          currentBytes = 0;
        }
        drop = List.copyOf(sealed);
        sealed.clear();
        files = unsynced;
        unsynced = new ArrayList<>();
      } finally {
        commitLock.unlock();
      }
      try {
        syncer.sync(mailRoot, files);
      } catch (IOException | RuntimeException e) {
        commitLock.lock();
        try {
          sealed.addAll(0, drop);
          files.addAll(unsynced);
          unsynced = files;
        } finally {
          commitLock.unlock();
        }
        throw e;
      }
      for (Segment s : drop) {
        closeQuietly(s);
        Files.deleteIfExists(s.path);
      }
      durability.syncDirectory(dir);
      checkpoints.incrementAndGet();
    } finally {
      checkpointLock.unlock();
    }
  }

  /** Group commits done (one write and one fdatasync each); for tests and diagnostics. */
  public long commits() {
    return commits.get();
  }

  public long checkpoints() {
    return checkpoints.get();
  }

  public Path dir() {
    return dir;
  }

  /** A last checkpoint, then the segments are closed (and empty ones removed). */
  @Override
  public void close() {
    synchronized (queue) {
      if (closed) {
        return;
      }
      closed = true; // no new record is queued from now on
    }
    if (committer != null) {
      // It commits what is queued, then ends.
      try {
        committer.join(60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (timer != null) {
      // Not shutdownNow: an interrupt would close the channels of a checkpoint in progress.
      timer.shutdown();
      try {
        timer.awaitTermination(1, TimeUnit.MINUTES);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      checkpoint();
    } catch (IOException | RuntimeException e) {
      log.error("Delivery log: final checkpoint failed; the next start replays the log: {}", e.toString());
    }
    commitLock.lock();
    try {
      if (current != null) {
        closeQuietly(current);
        if (currentBytes == 0 && sealed.isEmpty()) {
          Files.deleteIfExists(current.path);
        }
        current = null;
      }
      sealed.forEach(DeliveryLog::closeQuietly);
    } catch (IOException e) {
      log.warn("Delivery log: cannot remove an empty segment: {}", e.toString());
    } finally {
      commitLock.unlock();
    }
  }

  private Segment newSegment() throws IOException {
    Path p = dir.resolve(prefix + String.format("%010d", seq.incrementAndGet()) + SUFFIX);
    FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    try {
      FileLock lock = ch.lock();
      // The segment's name must be durable before a record in it is acknowledged.
      durability.syncDirectory(dir);
      return new Segment(p, ch, lock);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static void closeQuietly(Segment s) {
    try {
      s.channel.close(); // releases the lock as well
    } catch (IOException e) {
      log.warn("Delivery log: cannot close {}: {}", s.path, e.toString());
    }
  }

  // ------------------------------------------------------------------------------- record format

  /**
   * {@code MAGIC, length, crc32c(payload), payload}; payload = {@code count, count x (len, utf-8
   * path relative to the mail root), content length, header bytes, body bytes}.
   */
  private ByteBuffer[] encode(List<Path> files, byte[] header, ByteBuffer[] body) {
    List<byte[]> names = new ArrayList<>(files.size());
    int namesLen = 0;
    for (Path f : files) {
      byte[] n = mailRoot.relativize(f.toAbsolutePath().normalize()).toString().getBytes(StandardCharsets.UTF_8);
      names.add(n);
      namesLen += 4 + n.length;
    }
    ByteBuffer meta = ByteBuffer.allocate(4 + namesLen + 4);
    meta.putInt(files.size());
    for (byte[] n : names) {
      meta.putInt(n.length).put(n);
    }
    ByteBuffer[] content = views(header, body);
    long contentLength = remaining(content);
    if (contentLength > Integer.MAX_VALUE - meta.capacity()) {
      throw new IllegalArgumentException("message too large for the delivery log: " + contentLength);
    }
    meta.putInt((int) contentLength);
    meta.flip();
    CRC32C crc = new CRC32C();
    crc.update(meta.duplicate());
    for (ByteBuffer b : content) {
      crc.update(b.duplicate());
    }
    ByteBuffer head = ByteBuffer.allocate(12);
    head.putInt(MAGIC).putInt((int) (meta.remaining() + contentLength)).putInt((int) crc.getValue());
    head.flip();
    ByteBuffer[] out = new ByteBuffer[2 + content.length];
    out[0] = head;
    out[1] = meta;
    System.arraycopy(content, 0, out, 2, content.length);
    return out;
  }

  /** Fresh read views (own positions) of the header and body, so one body can be written many times. */
  static ByteBuffer[] views(byte[] header, ByteBuffer[] body) {
    ByteBuffer[] out = new ByteBuffer[1 + body.length];
    out[0] = ByteBuffer.wrap(header);
    for (int i = 0; i < body.length; i++) {
      out[i + 1] = body[i].duplicate();
    }
    return out;
  }

  static long remaining(ByteBuffer[] bufs) {
    long n = 0;
    for (ByteBuffer b : bufs) {
      n += b.remaining();
    }
    return n;
  }

  /** A decoded record: the copies it names and their content. */
  record Record(List<String> files, byte[] content) {}

  /** The complete records of a segment, up to the first torn or corrupt one (a crash's tail). */
  static List<Record> decode(byte[] data) {
    List<Record> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(data);
    while (b.remaining() >= 12) {
      int magic = b.getInt();
      int len = b.getInt();
      int crc = b.getInt();
      if (magic != MAGIC || len < 8 || len > b.remaining()) {
        break;
      }
      CRC32C c = new CRC32C();
      c.update(data, b.position(), len);
      if ((int) c.getValue() != crc) {
        break;
      }
      ByteBuffer p = b.slice(b.position(), len);
      b.position(b.position() + len);
      int count = p.getInt();
      if (count < 0 || count > 100_000) {
        break;
      }
      List<String> files = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        int n = p.getInt();
        byte[] name = new byte[n];
        p.get(name);
        files.add(new String(name, StandardCharsets.UTF_8));
      }
      byte[] content = new byte[p.getInt()];
      p.get(content);
      out.add(new Record(files, content));
    }
    return out;
  }

  // ------------------------------------------------------------------------------------ recovery

  /** Replays every segment no live instance holds; returns how many copies were written again. */
  int recover() throws IOException {
    List<Path> segments = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      ds.forEach(segments::add);
    }
    segments.sort(null);
    int restored = 0;
    for (Path seg : segments) {
      try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        FileLock lock;
        try {
          lock = ch.tryLock();
        } catch (OverlappingFileLockException mine) {
          continue; // held by a live log in this JVM
        }
        if (lock == null) {
          continue; // held by a live instance in another process
        }
        byte[] data = Files.readAllBytes(seg);
        int n = 0;
        for (Record r : decode(data)) {
          for (String f : r.files) {
            if (restore(f, r.content)) {
              n++;
            }
          }
        }
        if (n > 0) {
          log.warn("Delivery log {}: wrote {} acknowledged cop(ies) again that were missing or incomplete after a crash", seg, n);
        }
        restored += n;
      } catch (NoSuchFileException gone) {
        continue; // another instance replayed and removed it first
      }
      Files.deleteIfExists(seg);
    }
    if (!segments.isEmpty()) {
      durability.syncDirectory(dir);
    }
    return restored;
  }

  /** Makes sure {@code rel} (root-relative, in a new/ directory) holds exactly {@code content}. */
  private boolean restore(String rel, byte[] content) throws IOException {
    Path target = mailRoot.resolve(rel).normalize();
    Path newDir = target.getParent();
    if (!target.startsWith(mailRoot) || newDir == null || !newDir.getFileName().toString().equals("new")) {
      log.error("Delivery log: ignoring a record naming {} (not a new/ file under the mail root)", rel);
      return false;
    }
    Path box = newDir.getParent();
    if (!Files.isDirectory(newDir)) {
      log.error("Delivery log: the mailbox of {} no longer exists; that copy cannot be restored", rel);
      return false;
    }
    String name = target.getFileName().toString();
    Path existing = Files.isRegularFile(target) ? target : inCur(box.resolve("cur"), name);
    if (existing != null && sameContent(existing, content)) {
      return false;
    }
    Path dest = existing != null ? existing : target;
    Path tmp = box.resolve("tmp").resolve(name + ".recovered");
    Files.createDirectories(tmp.getParent());
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      durability.syncFile(ch);
    }
    Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    durability.syncDirectory(dest.getParent());
    return true;
  }

  /** A copy another Maildir reader moved to cur/ ({@code name} or {@code name:2,flags}), or null. */
  private static Path inCur(Path cur, String name) throws IOException {
    if (!Files.isDirectory(cur)) {
      return null;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(cur)) {
      for (Path f : ds) {
        String n = f.getFileName().toString();
        if (n.equals(name) || (n.startsWith(name) && n.length() > name.length() && n.charAt(name.length()) == ':')) {
          return f;
        }
      }
    }
    return null;
  }

  private static boolean sameContent(Path p, byte[] content) throws IOException {
    try {
      return Files.size(p) == content.length && Arrays.equals(Files.readAllBytes(p), content);
    } catch (NoSuchFileException gone) {
      return false;
    }
  }

  // ------------------------------------------------------------------------------------- syncers

  /**
   * {@code sync -f} (syncfs(2): one flush of the whole mail file system, however many copies) when
   * the platform has it, else an fsync of every copy and of each directory holding one.
   */
  public static Syncer syncfsOrFsync(Durability durability) {
    Syncer fsync = fsyncEach(durability);
    return new Syncer() {
      private volatile boolean syncfsWorks = true;

      @Override
      public void sync(Path mailRoot, Collection<Path> files) throws IOException {
        if (files.isEmpty()) {
          return;
        }
        if (syncfsWorks) {
          long start = System.nanoTime();
          try {
            Process p = new ProcessBuilder("sync", "-f", mailRoot.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
              p.destroyForcibly();
              throw new IOException("sync -f did not finish within 5 minutes");
            }
            if (p.exitValue() == 0) {
              durability.observeSync(true, System.nanoTime() - start);
              return;
            }
            log.warn("Delivery log: 'sync -f' exited {}; making copies durable one by one from now on", p.exitValue());
          } catch (IOException e) {
            log.warn("Delivery log: 'sync -f' unavailable ({}); making copies durable one by one from now on", e.toString());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while syncing the mail file system", e);
          }
          syncfsWorks = false;
        }
        fsync.sync(mailRoot, files);
      }
    };
  }

  /** An fsync of every copy (those since moved or deleted are skipped) and of their directories. */
  public static Syncer fsyncEach(Durability durability) {
    return (mailRoot, files) -> {
      Set<Path> dirs = new LinkedHashSet<>();
      for (Path f : files) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
          durability.syncFile(ch);
          dirs.add(f.getParent());
        } catch (NoSuchFileException gone) {
          // Deleted (after a checkpoint) or moved to cur/ by its reader, who made that durable.
        }
      }
      durability.syncDirectories(dirs);
    };
  }
}
