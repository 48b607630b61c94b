package dev.mailserver.mailstore.journal;

import dev.mailserver.common.model.MailEvent;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event journal as files under {@code <dataDir>/events/}, shared safely by several mailstore
 * processes on one data directory (pods on a ReadWriteMany volume).
 *
 * <h2>Format</h2>
 * Segment files {@code <firstSeq>.jsonl} (e.g. {@code 1.jsonl}, {@code 1001.jsonl}) of UTF-8 JSON
 * lines, one event per line, each line the {@link MailEvent#toJson()} object with {@code eventId}
 * first and terminated by {@code \n}:
 * <pre>{"eventId":"42","type":"message.new","mailbox":"alice@example.test","messageId":"...","from":"...","subject":"...","size":123,"time":1700000000000,"deliveryId":"Q1"}</pre>
 * Ids are consecutive: the events of a segment are {@code firstSeq, firstSeq+1, ...}, and the next
 * segment starts where the previous one ended. {@code journal.lock} is only locked, never written.
 *
 * <h2>Appending</h2>
 * Under an exclusive {@link FileChannel#lock()} on {@code journal.lock} (plus an in-JVM lock, since
 * FileChannel locks belong to the whole JVM): list the segments, re-read the tail of the newest one
 * to learn the last id, write the new lines with the following ids, {@code fsync}, release. So ids
 * are strictly increasing and without holes across processes, and an id is returned (and then
 * published) only once its line is on disk. Concurrent appends in one process are committed
 * together, one write and one fsync for the whole group (group commit). A segment is closed and a
 * new one started when it holds {@link #segmentEvents} events or its first event is older than a
 * tenth of the age bound, so compaction can drop old events in reasonably fine steps.
 *
 * <h2>Crashes</h2>
 * A crash during an append can leave an unterminated last line. Readers only ever take
 * {@code \n}-terminated lines, so it is invisible to them. The next append, under the lock, seals
 * it: when the fragment happens to be a complete event with the next id (only its {@code \n} was
 * lost) it is kept, otherwise it is terminated as a garbage line that readers skip. Bytes once
 * written are never rewritten or truncated: readers take no lock, and truncating bytes that a
 * concurrent reader has already buffered could splice an old fragment onto a new line. The torn
 * event was never published (publishing happens after the fsync returned), so its id is safely
 * given to the next event.
 *
 * <h2>Retention</h2>
 * Let N be the newest id. An event is <b>protected</b> while it is within both bounds: among the
 * newest {@code maxCount} (id &gt; N - maxCount) <b>and</b> younger than {@code maxAge} (its time
 * &gt;= now - maxAge). {@link #compact()} removes whole segments, oldest first, only while every
 * event of the segment is unprotected, never the newest segment, and stops at the first segment it
 * must keep, so what remains is always a contiguous range of ids. Consequently a consumer whose
 * last seen event is younger than {@code maxAge} and which missed fewer than {@code maxCount}
 * events always gets everything it missed; anyone else may get {@code truncated}. Unprotected
 * events may survive for a while (a segment goes only as a whole), never the other way round.
 *
 * <h2>Reading</h2>
 * Without any lock: list the segments, open the one containing {@code afterId + 1}, stream its
 * complete lines, then the following segments. A segment removed by a concurrent compaction makes
 * the read start over with a fresh listing.
 *
 * <h2>Statistics</h2>
 * {@link #stats()} answers from memory what the journal holds (oldest and newest id, bytes of the
 * segments), for the meters. It is brought up to date by every append of this process (which
 * learns the newest id and the segment list anyway), by {@link #compact()} and by
 * {@link #refreshStats()}, which also picks up other processes' appends and compactions. Sizes of
 * segments that are no longer the newest never change, so they are read once each.
 */
public final class FileEventJournal implements EventJournal {
  private static final Logger log = LoggerFactory.getLogger(FileEventJournal.class);

  public static final String LOCK_FILE = "journal.lock";
  public static final String SUFFIX = ".jsonl";
  public static final int DEFAULT_SEGMENT_EVENTS = 1000;
  private static final Pattern SEGMENT = Pattern.compile("(\\d{1,18})\\.jsonl");
  private static final byte[] PREFIX = "{\"eventId\":\"".getBytes(StandardCharsets.US_ASCII);

  /** FileChannel locks belong to the JVM: instances in one JVM serialise on this first (see Accounts). */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  /**
   * What the journal held when last looked at (see Statistics).
   *
   * @param oldestId the first id of the oldest segment (0: no segment)
   * @param newestId the newest event id (0: none)
   * @param bytes    total size of the segment files
   * @param segments how many segment files
   */
  public record Stats(long oldestId, long newestId, long bytes, int segments) {
    /** Events retained: newest id minus oldest retained id, plus one (ids have no holes). */
    public long events() {
      return oldestId > 0 && newestId >= oldestId ? newestId - oldestId + 1 : 0;
    }
  }

  /** What compaction did. */
  public record Compaction(int segmentsRemoved, long eventsRemoved, long oldestRetained) {}

  /** An append request waiting for the group commit that carries it. */
  private static final class Pending {
    final List<MailEvent> events;
    final CompletableFuture<List<MailEvent>> done = new CompletableFuture<>();

    Pending(List<MailEvent> events) {
      this.events = events;
    }
  }

  /**
   * The end of a segment: the last valid id in it ({@code firstSeq - 1} if none), and the bytes
   * after its last {@code \n} (empty unless a write was torn or is in progress).
   */
  private record Tail(long lastSeq, byte[] fragment) {}

  /**
   * What this process's last successful append left on disk: the segments it knew, the last id
   * and the newest segment's size. Null when unknown. Guarded by {@link #jvmLock}.
   */
  private long[] cachedSegments;
  private long cachedLast;
  private long cachedNewestSize;

  private final Path dir;
  private final Path lockFile;
  private final long maxAgeMillis;
  private final long maxCount;
  private final int segmentEvents;
  private final Clock clock;
  private final ReentrantLock jvmLock;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private volatile boolean closed;
  private volatile LongConsumer fsyncObserver = nanos -> {};

  /** Group commits done (one write and one fsync each); for tests and diagnostics. */
  private final AtomicLong commits = new AtomicLong();
  /** First event time of the segment {@link #firstTimeSegment} (for rolling by age); guarded by jvmLock. */
  private long firstTimeSegment = -1;
  private long firstTime;
  /** Sizes of segments that are not the newest (final once a newer one exists), by first id; guarded by jvmLock. */
  private final Map<Long, Long> sealedSizes = new HashMap<>();
  /** The latest statistics, null until first known. */
  private volatile Stats stats;

  /**
   * @param dir           the journal directory ({@code <dataDir>/events}); created if missing
   * @param maxAgeMillis  the age bound (see Retention)
   * @param maxCount      the count bound (see Retention)
   * @param segmentEvents events per segment before a new one is started
   * @param clock         "now" for compaction and for rolling by age
   */
  public FileEventJournal(Path dir, long maxAgeMillis, long maxCount, int segmentEvents, Clock clock) {
    if (maxAgeMillis <= 0 || maxCount <= 0 || segmentEvents <= 0) {
      throw new IllegalArgumentException("bounds must be positive");
    }
    this.dir = dir.toAbsolutePath().normalize();
    this.lockFile = this.dir.resolve(LOCK_FILE);
    this.maxAgeMillis = maxAgeMillis;
    this.maxCount = maxCount;
    this.segmentEvents = segmentEvents;
    this.clock = clock;
    Path real;
    try {
      Files.createDirectories(this.dir);
      real = this.dir.toRealPath(); // one lock per directory even when reached through a symlink
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the event journal directory " + this.dir, e);
    }
    this.jvmLock = JVM_LOCKS.computeIfAbsent(real, k -> new ReentrantLock());
  }

  /**
   * The journal of a data directory with the configured bounds ({@code events.maxAgeHours},
   * {@code events.maxCount}). Segments hold a tenth of {@code maxCount} events, between 16 and
   * {@link #DEFAULT_SEGMENT_EVENTS}, so the count bound is exceeded by at most a segment or so.
   */
  public static FileEventJournal open(Path dataDir, long maxAgeHours, long maxCount) {
    long ageMillis = maxAgeHours > Long.MAX_VALUE / 3_600_000L ? Long.MAX_VALUE : maxAgeHours * 3_600_000L;
    int segment = (int) Math.max(16, Math.min(DEFAULT_SEGMENT_EVENTS, maxCount / 10));
    return new FileEventJournal(dataDir.resolve("events"), ageMillis, maxCount, segment, Clock.systemUTC());
  }

  /** Told the duration in nanoseconds of every fsync this journal issues (the service's meters). */
  public void observeFsyncs(LongConsumer observer) {
    fsyncObserver = Objects.requireNonNull(observer, "observer");
  }

  private void force(FileChannel ch, boolean metadata) throws IOException {
    long start = System.nanoTime();
    try {
      ch.force(metadata);
    } finally {
      fsyncObserver.accept(System.nanoTime() - start);
    }
  }

  public Path dir() {
    return dir;
  }

  // ------------------------------------------------------------------------------------ appending

  @Override
  public MailEvent append(MailEvent event) {
    return appendAll(List.of(event)).get(0);
  }

  /**
   * Group commit: the request is queued, and whichever thread holds the lock next writes
   * everything queued by then in one write and one fsync. A thread whose request was carried by
   * another's commit just collects its result.
   */
  @Override
  public List<MailEvent> appendAll(List<MailEvent> events) {
    if (events.isEmpty()) {
      return List.of();
    }
    ensureOpen();
    Pending mine = new Pending(List.copyOf(events));
    queue.add(mine);
    jvmLock.lock();
    try {
      if (!mine.done.isDone()) {
        List<Pending> batch = new ArrayList<>();
        for (Pending p; (p = queue.poll()) != null; ) {
          batch.add(p);
        }
        commit(batch);
      }
    } finally {
      jvmLock.unlock();
    }
    try {
      return mine.done.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw e;
    }
  }

  /** Writes a group under the file lock and completes each request; called holding jvmLock. */
  private void commit(List<Pending> batch) {
    commits.incrementAndGet();
    List<MailEvent> all = new ArrayList<>();
    batch.forEach(p -> all.addAll(p.events));
    try {
      List<MailEvent> written;
      try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        FileLock lock = lockChannel.lock(); // waits for other processes
        try {
          written = appendLocked(all);
        } finally {
          lock.release();
        }
      }
      int i = 0;
      for (Pending p : batch) {
        p.done.complete(written.subList(i, i + p.events.size()));
        i += p.events.size();
      }
    } catch (IOException | RuntimeException e) {
      RuntimeException failure = e instanceof IOException io
          ? new UncheckedIOException("cannot append to the event journal in " + dir + ": " + io.getMessage(), io)
          : (RuntimeException) e;
      batch.forEach(p -> p.done.completeExceptionally(failure));
    }
  }

  /** The body of an append, holding both locks: learn the last id from disk, write, fsync. */
  private List<MailEvent> appendLocked(List<MailEvent> events) throws IOException {
    // Fast path: if the newest segment still has the size our own last append left and nobody
    // rolled past it (the roller would have created segment last+1), the disk is as we left it:
    // skip the directory listing and the tail read (two stats instead).
    long[] segments = null;
    Tail known = null;
    if (cachedSegments != null && cachedSegments.length > 0) {
      Path newest = segment(cachedSegments[cachedSegments.length - 1]);
      if (sizeOrMinus1(newest) == cachedNewestSize && !Files.exists(segment(cachedLast + 1))) {
        segments = cachedSegments;
        known = new Tail(cachedLast, new byte[0]);
      }
    }
    cachedSegments = null; // valid again only once this append has succeeded
    if (segments == null) {
      segments = listSegments();
    }
    long now = clock.millis();
    long last;
    long targetFirst;
    boolean create;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (segments.length == 0) {
      last = 0;
      targetFirst = 1;
      create = true;
    } else {
      long newestFirst = segments[segments.length - 1];
      Path newest = segment(newestFirst);
      Tail tail = known != null ? known : readTail(newest, newestFirst);
      last = tail.lastSeq();
      byte[] seal = null;
      if (tail.fragment().length > 0) {
        MailEvent torn = parseLine(tail.fragment(), tail.fragment().length);
        if (torn != null && Long.parseLong(torn.eventId()) == last + 1) {
          seal = new byte[] {'\n'}; // complete but for its newline: a stored change, keep it
          last++;
          log.warn("Event journal {}: kept event {} whose line ending was lost (interrupted write)", newest, last);
        } else {
          // A complete-looking line with a wrong id gets a trailing '#' so that it cannot parse.
          seal = torn != null ? new byte[] {'#', '\n'} : new byte[] {'\n'};
          log.warn("Event journal {}: sealed an interrupted write ({} bytes) after event {}", newest, tail.fragment().length, last);
        }
      }
      long count = last - newestFirst + 1;
      boolean roll = count >= segmentEvents || (count > 0 && now - firstTime(newest, newestFirst) > maxAgeMillis / 10);
      if (roll) {
        if (seal != null) {
          try (FileChannel ch = FileChannel.open(newest, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            writeFully(ch, ByteBuffer.wrap(seal));
            force(ch, true);
          }
        }
        targetFirst = last + 1;
        create = true;
      } else {
        if (seal != null) {
          out.write(seal);
        }
        targetFirst = newestFirst;
        create = false;
      }
    }
    List<MailEvent> written = new ArrayList<>(events.size());
    for (MailEvent e : events) {
      MailEvent stored = EventJournal.withId(e, Long.toString(++last));
      out.write(stored.toJson().encode().getBytes(StandardCharsets.UTF_8));
      out.write('\n');
      written.add(stored);
    }
    StandardOpenOption[] opts = create
        ? new StandardOpenOption[] {StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE}
        : new StandardOpenOption[] {StandardOpenOption.WRITE, StandardOpenOption.APPEND};
    Path target = segment(targetFirst);
    long targetSize;
    try (FileChannel ch = FileChannel.open(target, opts)) {
      writeFully(ch, ByteBuffer.wrap(out.toByteArray()));
      // fdatasync: the lines and the file's new size; the timestamps need no flush of their own.
      force(ch, false);
      targetSize = ch.size();
    }
    if (create) {
      syncDirectory(); // the new segment's name must survive a crash too
    }
    long[] after = segments;
    if (create) {
      after = Arrays.copyOf(segments, segments.length + 1);
      after[segments.length] = targetFirst;
    }
    cachedSegments = after;
    cachedLast = last;
    cachedNewestSize = targetSize;
    try {
      updateStats(after, last, targetSize);
    } catch (IOException | RuntimeException e) {
      // Only the meters are behind; the events are durable and must be reported as appended.
      log.debug("Event journal statistics not updated after an append: {}", e.toString());
    }
    return written;
  }

  private static long sizeOrMinus1(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return -1;
    }
  }

  /** First event time of a segment, read once per segment. */
  private long firstTime(Path segment, long first) throws IOException {
    if (firstTimeSegment != first) {
      long t = clock.millis();
      try (InputStream in = Files.newInputStream(segment)) {
        LineReader r = new LineReader(in);
        for (byte[] line; (line = r.next()) != null; ) {
          MailEvent e = parseLine(line, r.length());
          if (e != null) {
            t = e.time();
            break;
          }
        }
      }
      firstTimeSegment = first;
      firstTime = t;
    }
    return firstTime;
  }

  // ------------------------------------------------------------------------------------ reading

  @Override
  public Scan scan(long afterId, String mailbox, int limit) {
    ensureOpen();
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be positive");
    }
    for (int attempt = 0; ; attempt++) {
      try {
        return scanOnce(afterId, mailbox, limit);
      } catch (NoSuchFileException e) {
        if (attempt >= 5) {
          throw new UncheckedIOException("event journal segments keep disappearing in " + dir, e);
        }
        // removed by a concurrent compaction between listing and opening: list again
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the event journal in " + dir + ": " + e.getMessage(), e);
      }
    }
  }

  private Scan scanOnce(long afterId, String mailbox, int limit) throws IOException {
    long[] segments = listSegments();
    if (segments.length == 0) {
      return new Scan(List.of(), 0, 0, 0, afterId > 0);
    }
    long newestFirst = segments[segments.length - 1];
    long last = readTail(segment(newestFirst), newestFirst).lastSeq();
    long oldest = segments[0];
    boolean reset = afterId > last;
    long from = reset ? -1 : afterId;
    boolean truncated = reset || (from >= 0 && from < oldest - 1);
    long scanned = truncated ? oldest - 1 : Math.max(from, 0);
    int start = 0;
    for (int i = 0; i < segments.length; i++) {
      if (segments[i] <= from + 1) {
        start = i;
      }
    }
    List<MailEvent> page = new ArrayList<>();
    long previous = from;
    outer:
    for (int i = start; i < segments.length; i++) {
      try (InputStream in = Files.newInputStream(segment(segments[i]))) {
        LineReader r = new LineReader(in);
        for (byte[] line; (line = r.next()) != null; ) {
          long quick = quickSeq(line, r.length());
          if (quick >= 0 && quick <= previous) {
            continue; // before the start, or not increasing (a garbage line): skipped unparsed
          }
          MailEvent e = parseLine(line, r.length());
          if (e == null) {
            continue;
          }
          long seq = Long.parseLong(e.eventId());
          if (seq <= previous) {
            continue;
          }
          previous = seq;
          scanned = seq;
          if (mailbox == null || mailbox.equals(e.mailbox())) {
            page.add(e);
            if (page.size() >= limit) {
              break outer;
            }
          }
        }
      }
    }
    return new Scan(page, scanned, Math.max(last, scanned), oldest, truncated);
  }

  @Override
  public String lastId() {
    ensureOpen();
    for (int attempt = 0; ; attempt++) {
      try {
        long[] segments = listSegments();
        if (segments.length == 0) {
          return "";
        }
        long newestFirst = segments[segments.length - 1];
        long last = readTail(segment(newestFirst), newestFirst).lastSeq();
        return last <= 0 ? "" : Long.toString(last);
      } catch (NoSuchFileException e) {
        if (attempt >= 5) {
          throw new UncheckedIOException(e);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the event journal in " + dir + ": " + e.getMessage(), e);
      }
    }
  }

  // ------------------------------------------------------------------------------------ compaction

  /**
   * Removes the oldest segments whose events are all unprotected (see Retention), never the
   * newest. Blocking; safe to run in several processes at once. Deciding reads segments without
   * the lock (an unprotected event stays unprotected: N only grows and time only passes); the
   * removal itself happens under the lock.
   */
  public Compaction compact() {
    ensureOpen();
    jvmLock.lock();
    try {
      cachedSegments = null; // the listing is about to change
    } finally {
      jvmLock.unlock();
    }
    try {
      long[] segments = listSegments();
      if (segments.length < 2) {
        refreshStatsQuietly();
        return new Compaction(0, 0, segments.length == 0 ? 0 : segments[0]);
      }
      long newestFirst = segments[segments.length - 1];
      long n = readTail(segment(newestFirst), newestFirst).lastSeq();
      long countLimit = n - maxCount; // ids <= this are beyond the newest maxCount
      long cutoff = clock.millis() - maxAgeMillis; // times < this are too old
      int drop = 0;
      for (int i = 0; i < segments.length - 1; i++) {
        long segmentLast = segments[i + 1] - 1;
        if (segmentLast <= countLimit || !anyProtected(segments[i], countLimit, cutoff)) {
          drop++;
        } else {
          break; // keep the retained ids contiguous
        }
      }
      if (drop == 0) {
        refreshStatsQuietly();
        return new Compaction(0, 0, segments[0]);
      }
      jvmLock.lock();
      try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        FileLock lock = lockChannel.lock();
        try {
          for (int i = 0; i < drop; i++) {
            Files.deleteIfExists(segment(segments[i]));
          }
          syncDirectory();
        } finally {
          lock.release();
        }
      } finally {
        jvmLock.unlock();
      }
      long removed = segments[drop] - segments[0];
      log.info("Event journal compacted: removed {} segment(s), events {}..{}; oldest retained is {}",
          drop, segments[0], segments[drop] - 1, segments[drop]);
      refreshStatsQuietly();
      return new Compaction(drop, removed, segments[drop]);
    } catch (NoSuchFileException e) {
      return new Compaction(0, 0, 0); // another process is compacting too; the next run catches up
    } catch (IOException e) {
      throw new UncheckedIOException("cannot compact the event journal in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Whether a segment holds an event within both bounds. */
  private boolean anyProtected(long first, long countLimit, long cutoff) throws IOException {
    try (InputStream in = Files.newInputStream(segment(first))) {
      LineReader r = new LineReader(in);
      for (byte[] line; (line = r.next()) != null; ) {
        long quick = quickSeq(line, r.length());
        if (quick >= 0 && quick <= countLimit) {
          continue;
        }
        MailEvent e = parseLine(line, r.length());
        if (e != null && Long.parseLong(e.eventId()) > countLimit && e.time() >= cutoff) {
          return true;
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------------ statistics

  /** The latest statistics (see Statistics), without any I/O; null until first known. Any thread. */
  public Stats stats() {
    return stats;
  }

  /**
   * Looks at the files (one listing, the newest segment's tail and size, the size of any segment
   * not seen before) and updates {@link #stats()}. Blocking; holds the in-JVM append lock for
   * that short time, so it never races an append of this process. After {@link #close()} it
   * returns what is known without looking.
   */
  public Stats refreshStats() {
    if (closed) {
      return stats;
    }
    jvmLock.lock();
    try {
      for (int attempt = 0; ; attempt++) {
        try {
          long[] segments = listSegments();
          if (segments.length == 0) {
            return updateStats(segments, 0, 0);
          }
          long newestFirst = segments[segments.length - 1];
          Path newest = segment(newestFirst);
          long last = readTail(newest, newestFirst).lastSeq();
          return updateStats(segments, last, Files.size(newest));
        } catch (NoSuchFileException e) {
          if (attempt >= 5) {
            throw new UncheckedIOException(e);
          }
          // compacted by another process between listing and reading: list again
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the event journal in " + dir + ": " + e.getMessage(), e);
        }
      }
    } finally {
      jvmLock.unlock();
    }
  }

  /** After a compaction: a failure only leaves the meters behind until the next refresh. */
  private void refreshStatsQuietly() {
    try {
      refreshStats();
    } catch (RuntimeException e) {
      log.debug("Event journal statistics not refreshed: {}", e.toString());
    }
  }

  /**
   * Records the statistics for these segments (ascending first ids), the newest id, and the size of
   * the newest segment; the other sizes come from {@link #sealedSizes} or one stat each. Holding jvmLock.
   */
  private Stats updateStats(long[] segments, long newestId, long newestSize) throws IOException {
    Set<Long> sealed = new HashSet<>();
    long bytes = newestSize;
    for (int i = 0; i < segments.length - 1; i++) {
      long first = segments[i];
      sealed.add(first);
      Long size = sealedSizes.get(first);
      if (size == null) {
        try {
          size = Files.size(segment(first));
          sealedSizes.put(first, size);
        } catch (NoSuchFileException gone) {
          size = 0L; // removed by another process's compaction since the listing
        }
      }
      bytes += size;
    }
    sealedSizes.keySet().retainAll(sealed);
    Stats s = new Stats(segments.length == 0 ? 0 : segments[0], Math.max(0, newestId), bytes, segments.length);
    stats = s;
    return s;
  }

  @Override
  public void close() {
    closed = true;
    jvmLock.lock(); // waits for a commit in progress
    jvmLock.unlock();
  }

  long commits() {
    return commits.get();
  }

  int queued() {
    return queue.size();
  }

  /** The in-JVM lock appends take first; a test holding it makes concurrent appends queue up. */
  ReentrantLock jvmLock() {
    return jvmLock;
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("event journal closed");
    }
  }

  // ------------------------------------------------------------------------------------ files

  Path segment(long first) {
    return dir.resolve(first + SUFFIX);
  }

  /** The first ids of the segments, ascending. */
  long[] listSegments() throws IOException {
    long[] found = new long[16];
    int n = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        Matcher m = SEGMENT.matcher(p.getFileName().toString());
        if (m.matches()) {
          if (n == found.length) {
            found = Arrays.copyOf(found, n * 2);
          }
          found[n++] = Long.parseLong(m.group(1));
        }
      }
    }
    long[] result = Arrays.copyOf(found, n);
    Arrays.sort(result);
    return result;
  }

  /**
   * Reads a segment backwards from its end until the last valid event (a window that doubles until
   * it holds one, or the whole file).
   */
  private static Tail readTail(Path segment, long first) throws IOException {
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.READ)) {
      long size = ch.size();
      int window = (int) Math.min(size, 8192);
      while (true) {
        byte[] buf = new byte[window];
        ByteBuffer bb = ByteBuffer.wrap(buf);
        long pos = size - window;
        while (bb.hasRemaining()) {
          int r = ch.read(bb, pos + bb.position());
          if (r < 0) {
            break; // shrank under us (cannot happen: never truncated); use what we have
          }
        }
        int end = bb.position();
        int lastNl = lastIndexOf(buf, end, (byte) '\n');
        byte[] fragment = Arrays.copyOfRange(buf, lastNl + 1, end);
        boolean wholeFile = pos == 0;
        if (lastNl < 0 && !wholeFile) {
          window = (int) Math.min(size, (long) window * 2);
          continue;
        }
        // complete lines end at lastNl; walk them backwards
        int lineEnd = lastNl;
        boolean needMore = false;
        while (lineEnd >= 0) {
          int prevNl = lastIndexOf(buf, lineEnd, (byte) '\n');
          if (prevNl < 0 && !wholeFile) {
            needMore = true; // the line may start before the window
            break;
          }
          int lineStart = prevNl + 1;
          MailEvent e = parseLine(Arrays.copyOfRange(buf, lineStart, lineEnd), lineEnd - lineStart);
          if (e != null) {
            return new Tail(Long.parseLong(e.eventId()), fragment);
          }
          lineEnd = prevNl;
        }
        if (needMore && window < size) {
          window = (int) Math.min(size, (long) window * 2);
          continue;
        }
        return new Tail(first - 1, fragment);
      }
    }
  }

  private static int lastIndexOf(byte[] buf, int endExclusive, byte b) {
    for (int i = endExclusive - 1; i >= 0; i--) {
      if (buf[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /** The id from a line's fixed prefix {@code {"eventId":"<digits>"} without parsing it; -1 if it has another shape. */
  static long quickSeq(byte[] line, int len) {
    if (len < PREFIX.length + 2) {
      return -1;
    }
    for (int i = 0; i < PREFIX.length; i++) {
      if (line[i] != PREFIX[i]) {
        return -1;
      }
    }
    long v = 0;
    int i = PREFIX.length;
    int digits = 0;
    for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
      if (++digits > 18) {
        return -1;
      }
      v = v * 10 + (line[i] - '0');
    }
    return digits > 0 && i < len && line[i] == '"' ? v : -1;
  }

  /** A line as an event, or null for anything that is not one complete, valid event object. */
  static MailEvent parseLine(byte[] line, int len) {
    if (len < 2 || line[0] != '{' || line[len - 1] != '}') {
      return null;
    }
    try {
      JsonObject j = new JsonObject(Buffer.buffer(len == line.length ? line : Arrays.copyOf(line, len)));
      MailEvent e = MailEvent.fromJson(j);
      if (e.eventId() == null || e.type() == null || e.mailbox() == null || e.messageId() == null) {
        return null;
      }
      long seq = EventJournal.parseId(e.eventId());
      return seq > 0 ? e : null;
    } catch (RuntimeException bad) {
      return null; // torn, sealed or corrupted: skipped
    }
  }

  private void syncDirectory() throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      force(d, true);
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /**
   * Splits a stream into {@code \n}-terminated lines (without the {@code \n}); bytes after the
   * last {@code \n} (a torn or in-progress write) are never returned. The returned array is reused:
   * valid up to {@link #length()} until the next call.
   */
  static final class LineReader {
    private final InputStream in;
    private final byte[] chunk = new byte[64 * 1024];
    private int pos;
    private int end;
    private byte[] line = new byte[512];
    private int len;

    LineReader(InputStream in) {
      this.in = in;
    }

    byte[] next() throws IOException {
      len = 0;
      while (true) {
        if (pos == end) {
          end = in.read(chunk);
          pos = 0;
          if (end <= 0) {
            end = 0;
            return null; // EOF: an unterminated rest is dropped
          }
        }
        int nl = -1;
        for (int i = pos; i < end; i++) {
          if (chunk[i] == '\n') {
            nl = i;
            break;
          }
        }
        int stop = nl < 0 ? end : nl;
        int n = stop - pos;
        if (len + n > line.length) {
          line = Arrays.copyOf(line, Math.max(line.length * 2, len + n));
        }
        System.arraycopy(chunk, pos, line, len, n);
        len += n;
        pos = stop;
        if (nl >= 0) {
          pos++;
          return line;
        }
      }
    }

    int length() {
      return len;
    }
  }
}
