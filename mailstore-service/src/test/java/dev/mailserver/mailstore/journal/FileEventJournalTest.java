package dev.mailserver.mailstore.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileEventJournalTest extends EventJournalContractTest {

  static final long HOUR = 3_600_000L;

  @TempDir
  Path tmp;

  @Override
  EventJournal create() {
    return new FileEventJournal(tmp.resolve("contract"), 168 * HOUR, 100_000, 1000, Clock.systemUTC());
  }

  /** A clock the test moves by hand. */
  static final class MutableClock extends Clock {
    final AtomicLong millis;

    MutableClock(long start) {
      millis = new AtomicLong(start);
    }

    void advance(long ms) {
      millis.addAndGet(ms);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  FileEventJournal open(Path dir, long maxAgeMillis, long maxCount, int segmentEvents, Clock clock) {
    return new FileEventJournal(dir, maxAgeMillis, maxCount, segmentEvents, clock);
  }

  static List<String> segmentNames(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jsonl"))
          .sorted((a, b) -> Long.compare(Long.parseLong(a.replace(".jsonl", "")), Long.parseLong(b.replace(".jsonl", ""))))
          .toList();
    }
  }

  /** Every retained event, paging through the journal. */
  static List<MailEvent> all(EventJournal j) {
    List<MailEvent> out = new ArrayList<>();
    String after = "";
    while (true) {
      EventPage p = j.since(after, null, 37);
      if (p.events().isEmpty()) {
        return out;
      }
      out.addAll(p.events());
      after = p.events().get(p.events().size() - 1).eventId();
    }
  }

  static List<Long> idsOf(List<MailEvent> events) {
    return events.stream().map(e -> Long.parseLong(e.eventId())).toList();
  }

  @Test
  void twoWritersOnOneDirectoryInterleavingAppendsAndRollsNeverReuseAnId() throws Exception {
    // Each writer remembers what its own last append left on disk; the other's appends and
    // rolls must send it back to reading the directory and the tail.
    Path dir = tmp.resolve("shared");
    FileEventJournal a = open(dir, 168 * HOUR, 100_000, 3, Clock.systemUTC());
    FileEventJournal b = open(dir, 168 * HOUR, 100_000, 3, Clock.systemUTC());
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      FileEventJournal w = (i % 3 == 0) ? b : a; // runs of two on a, then one on b
      ids.add(Long.parseLong(w.append(new MailEvent("", MailEvent.TYPE_NEW, "a@example.test", "m" + i, "", "", 1, 0, "")).eventId()));
    }
    assertThat(ids).isEqualTo(java.util.stream.LongStream.rangeClosed(1, 20).boxed().toList());
    assertThat(idsOf(all(a))).isEqualTo(ids);
    assertThat(all(b)).extracting(MailEvent::messageId)
        .isEqualTo(java.util.stream.IntStream.range(0, 20).mapToObj(i -> "m" + i).toList());
    assertThat(segmentNames(dir)).hasSizeGreaterThan(5);
  }

  @Test
  void linesAreJsonObjectsWithTheIdFirstInSegmentsNamedByTheirFirstId() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 168 * HOUR, 100_000, 3, Clock.systemUTC());
    for (int i = 1; i <= 7; i++) {
      j.append(event("alice@example.test", "m" + i));
    }
    assertThat(segmentNames(dir)).containsExactly("1.jsonl", "4.jsonl", "7.jsonl");
    List<String> lines = Files.readAllLines(dir.resolve("4.jsonl"));
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).startsWith("{\"eventId\":\"4\",\"type\":\"message.new\",\"mailbox\":\"alice@example.test\"").endsWith("}");
    assertThat(Files.readString(dir.resolve("4.jsonl"))).endsWith("}\n");
  }

  @Test
  void idsContinueInANewInstanceAndReadsFindTheRightSegment() {
    Path dir = tmp.resolve("events");
    FileEventJournal a = open(dir, 168 * HOUR, 100_000, 3, Clock.systemUTC());
    for (int i = 1; i <= 8; i++) {
      a.append(event("alice@example.test", "m" + i));
    }
    a.close();
    // as after a restart: nothing is known but the files
    FileEventJournal b = open(dir, 168 * HOUR, 100_000, 3, Clock.systemUTC());
    assertThat(b.lastId()).isEqualTo("8");
    assertThat(b.append(event("alice@example.test", "m9")).eventId()).isEqualTo("9");
    assertThat(idsOf(all(b))).containsExactlyElementsOf(range(1, 9));
    assertThat(ids(b.since("5", null, 100))).containsExactly(6L, 7L, 8L, 9L);
    assertThat(ids(b.since("3", null, 1))).containsExactly(4L);
  }

  @Test
  void twoInstancesOnOneDirectoryAppendingConcurrentlyGetDistinctConsecutiveIds() throws Exception {
    // Two journals on one directory, as two processes would have (the cross-process file lock is
    // exercised with real child JVMs in JournalCrossProcessTest). Without re-reading the tail
    // inside the lock, both would hand out the same ids.
    Path dir = tmp.resolve("events");
    FileEventJournal a = open(dir, 168 * HOUR, 100_000, 16, Clock.systemUTC());
    FileEventJournal b = open(dir, 168 * HOUR, 100_000, 16, Clock.systemUTC());
    Map<String, Long> assigned = new ConcurrentHashMap<>();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    int perThread = 40;
    for (int t = 0; t < 8; t++) {
      FileEventJournal j = t % 2 == 0 ? a : b;
      String tag = "t" + t;
      threads.add(new Thread(() -> {
        try {
          long previous = 0;
          for (int i = 0; i < perThread; i += 2) {
            List<MailEvent> got = j.appendAll(List.of(event("alice@example.test", tag + "-" + i),
                event("bob@example.test", tag + "-" + (i + 1))));
            for (MailEvent e : got) {
              long id = Long.parseLong(e.eventId());
              assertThat(id).as("ids one thread gets only grow").isGreaterThan(previous);
              previous = id;
              assigned.put(e.messageId(), id);
            }
            // the two events of one appendAll are consecutive
            assertThat(Long.parseLong(got.get(1).eventId())).isEqualTo(Long.parseLong(got.get(0).eventId()) + 1);
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(60));
    }
    assertThat(failures).isEmpty();
    int total = 8 * perThread;
    assertThat(assigned).hasSize(total);
    assertThat(assigned.values()).containsExactlyInAnyOrderElementsOf(range(1, total));
    List<MailEvent> onDisk = all(open(dir, 168 * HOUR, 100_000, 16, Clock.systemUTC()));
    assertThat(idsOf(onDisk)).containsExactlyElementsOf(range(1, total));
    for (MailEvent e : onDisk) {
      assertThat(assigned.get(e.messageId())).as("id returned for %s is the one on disk", e.messageId())
          .isEqualTo(Long.parseLong(e.eventId()));
    }
  }

  @Test
  void concurrentAppendsWaitingForTheLockAreWrittenByOneCommit() throws Exception {
    FileEventJournal j = open(tmp.resolve("events"), 168 * HOUR, 100_000, 1000, Clock.systemUTC());
    j.append(event("alice@example.test", "first"));
    long before = j.commits();
    List<Thread> threads = new ArrayList<>();
    List<String> ids = new CopyOnWriteArrayList<>();
    j.jvmLock().lock(); // as if a commit were in progress: the next appends queue up behind it
    try {
      for (int t = 0; t < 8; t++) {
        int n = t;
        threads.add(new Thread(() -> ids.add(j.append(event("alice@example.test", "m" + n)).eventId())));
      }
      threads.forEach(Thread::start);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (j.queued() < 8 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(j.queued()).isEqualTo(8);
    } finally {
      j.jvmLock().unlock();
    }
    for (Thread t : threads) {
      t.join(10_000);
    }
    assertThat(ids).containsExactlyInAnyOrder("2", "3", "4", "5", "6", "7", "8", "9");
    assertThat(j.commits() - before).as("one write + fsync for the eight of them").isEqualTo(1);
  }

  @Test
  void aTornLastLineIsInvisibleAndTheNextAppendSealsItWithoutRewritingBytes() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 168 * HOUR, 100_000, 1000, Clock.systemUTC());
    for (int i = 1; i <= 3; i++) {
      j.append(event("alice@example.test", "m" + i));
    }
    Path seg = dir.resolve("1.jsonl");
    String torn = "{\"eventId\":\"4\",\"type\":\"message.new\",\"mailb"; // a crash in the middle of a write
    Files.writeString(seg, torn, StandardOpenOption.APPEND);
    byte[] before = Files.readAllBytes(seg);

    FileEventJournal restarted = open(dir, 168 * HOUR, 100_000, 1000, Clock.systemUTC());
    assertThat(restarted.lastId()).isEqualTo("3");
    assertThat(ids(restarted.since("", null, 10))).containsExactly(1L, 2L, 3L);

    MailEvent next = restarted.append(event("bob@example.test", "after-crash"));
    assertThat(next.eventId()).as("the torn event never got its id; the next one does").isEqualTo("4");
    List<MailEvent> events = all(restarted);
    assertThat(idsOf(events)).containsExactly(1L, 2L, 3L, 4L);
    assertThat(events.get(3).messageId()).isEqualTo("after-crash");
    byte[] after = Files.readAllBytes(seg);
    assertThat(new String(after, 0, before.length, StandardCharsets.UTF_8)).as("append-only: earlier bytes unchanged")
        .isEqualTo(new String(before, StandardCharsets.UTF_8));
    assertThat(Files.readString(seg)).contains(torn + "\n{\"eventId\":\"4\"");
    assertThat(ids(restarted.since("3", null, 10))).containsExactly(4L);
  }

  @Test
  void aLastLineMissingOnlyItsNewlineIsKeptAsTheEventItIs() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 168 * HOUR, 100_000, 1000, Clock.systemUTC());
    j.append(event("alice@example.test", "m1"));
    j.append(event("alice@example.test", "m2"));
    Path seg = dir.resolve("1.jsonl");
    // The whole line of event 3 reached the disk but its '\n' did not: the change it records is
    // stored (the journal is written after the store), so it is kept rather than dropped.
    Files.writeString(seg, EventJournal.withId(event("alice@example.test", "m3"), "3").toJson().encode(), StandardOpenOption.APPEND);
    assertThat(ids(j.since("", null, 10))).as("unterminated: not visible yet").containsExactly(1L, 2L);

    assertThat(j.append(event("alice@example.test", "m4")).eventId()).isEqualTo("4");
    assertThat(all(j)).extracting(MailEvent::messageId).containsExactly("m1", "m2", "m3", "m4");
  }

  @Test
  void anUnterminatedLineWithAWrongIdIsSealedSoThatItNeverParses() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 168 * HOUR, 100_000, 1000, Clock.systemUTC());
    j.append(event("alice@example.test", "m1"));
    Files.writeString(dir.resolve("1.jsonl"),
        EventJournal.withId(event("alice@example.test", "stray"), "9").toJson().encode(), StandardOpenOption.APPEND);
    assertThat(j.append(event("alice@example.test", "m2")).eventId()).isEqualTo("2");
    assertThat(all(j)).extracting(MailEvent::messageId).containsExactly("m1", "m2");
    assertThat(j.lastId()).isEqualTo("2");
  }

  @Test
  void compactionByCountKeepsExactlyTheSegmentsHoldingTheNewestMaxCount() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 1000 * HOUR, 10, 4, Clock.systemUTC());
    for (int i = 1; i <= 30; i++) {
      j.append(event("alice@example.test", "m" + i));
    }
    assertThat(segmentNames(dir)).containsExactly("1.jsonl", "5.jsonl", "9.jsonl", "13.jsonl", "17.jsonl", "21.jsonl",
        "25.jsonl", "29.jsonl");

    FileEventJournal.Compaction c = j.compact();

    // 21..30 are the newest 10; 21 shares its segment with 22..24, 17..20 is all beyond the bound.
    assertThat(c.segmentsRemoved()).isEqualTo(5);
    assertThat(c.oldestRetained()).isEqualTo(21);
    assertThat(segmentNames(dir)).containsExactly("21.jsonl", "25.jsonl", "29.jsonl");
    assertThat(idsOf(all(j))).containsExactlyElementsOf(range(21, 30));
    // truncated: a consumer that saw 19 missed 20, which is gone; one that saw 20 missed nothing
    EventPage from19 = j.since("19", null, 100);
    assertThat(from19.truncated()).isTrue();
    assertThat(ids(from19)).containsExactlyElementsOf(range(21, 30));
    assertThat(j.since("20", null, 100).truncated()).isFalse();
    assertThat(j.since("", null, 100).truncated()).as("from the oldest retained is never truncated").isFalse();
    assertThat(j.compact().segmentsRemoved()).as("nothing more to drop").isZero();
  }

  @Test
  void compactionByAgeDropsOnlySegmentsWhoseEventsAreAllOldAndNeverTheNewest() throws Exception {
    Path dir = tmp.resolve("events");
    long t0 = 1_700_000_000_000L;
    MutableClock clock = new MutableClock(t0);
    FileEventJournal j = open(dir, HOUR, 1_000_000, 4, clock);
    for (int i = 1; i <= 8; i++) {
      j.append(event("alice@example.test", "old" + i, t0));
    }
    clock.advance(2 * HOUR);
    j.append(event("alice@example.test", "new9", clock.millis()));
    j.append(event("alice@example.test", "new10", clock.millis()));
    j.append(event("alice@example.test", "new11", clock.millis()));
    // segment 9 mixes an old event with young ones: it must stay for the young ones' sake
    j.append(event("alice@example.test", "old12", t0));
    j.append(event("alice@example.test", "new13", clock.millis()));
    assertThat(segmentNames(dir)).containsExactly("1.jsonl", "5.jsonl", "9.jsonl", "13.jsonl");

    j.compact();
    assertThat(segmentNames(dir)).containsExactly("9.jsonl", "13.jsonl");
    assertThat(idsOf(all(j))).containsExactly(9L, 10L, 11L, 12L, 13L);

    // Everything is old now, but the newest segment stays: it carries the sequence on.
    clock.advance(10 * HOUR);
    j.compact();
    assertThat(segmentNames(dir)).containsExactly("13.jsonl");
    assertThat(idsOf(all(j))).containsExactly(13L);
    assertThat(j.append(event("alice@example.test", "later", clock.millis())).eventId()).isEqualTo("14");
  }

  @Test
  void aSegmentIsClosedWhenItsFirstEventIsOlderThanATenthOfTheAgeBound() throws Exception {
    // Otherwise a quiet system would pile weeks of events into one segment that age compaction
    // could only drop once its newest event were old.
    Path dir = tmp.resolve("events");
    long t0 = 1_700_000_000_000L;
    MutableClock clock = new MutableClock(t0);
    FileEventJournal j = open(dir, 10 * HOUR, 1_000_000, 1000, clock);
    j.append(event("alice@example.test", "a", t0));
    clock.advance(HOUR / 2);
    j.append(event("alice@example.test", "b", clock.millis()));
    assertThat(segmentNames(dir)).containsExactly("1.jsonl");
    clock.advance(HOUR);
    j.append(event("alice@example.test", "c", clock.millis()));
    assertThat(segmentNames(dir)).containsExactly("1.jsonl", "3.jsonl");
  }

  @Test
  void compactionNeverLosesAnEventWithinBothBounds() throws Exception {
    // Randomised: times jump around (several processes' clocks), bounds and segment sizes vary,
    // compaction runs at random moments. After every run: every event that is among the newest
    // maxCount AND younger than maxAge is still there, unchanged, and what is retained is a
    // contiguous run of ids ending at the newest.
    long removedOverall = 0;
    for (int round = 0; round < 25; round++) {
      Random rnd = new Random(round);
      Path dir = tmp.resolve("round" + round);
      long t0 = 1_700_000_000_000L;
      MutableClock clock = new MutableClock(t0);
      long maxAge = (1 + rnd.nextInt(10)) * HOUR;
      long maxCount = 1 + rnd.nextInt(40);
      FileEventJournal j = open(dir, maxAge, maxCount, 1 + rnd.nextInt(8), clock);
      Map<Long, MailEvent> appended = new HashMap<>();
      int n = rnd.nextInt(120);
      for (int i = 0; i < n; i++) {
        clock.advance(rnd.nextInt((int) (HOUR / 4)));
        long time = clock.millis() - (rnd.nextInt(10) == 0 ? rnd.nextInt((int) (3 * HOUR)) : 0);
        MailEvent e = j.append(event("alice@example.test", "m" + i, time));
        appended.put(Long.parseLong(e.eventId()), e);
        if (rnd.nextInt(10) == 0) {
          removedOverall += j.compact().segmentsRemoved();
          checkRetention(j, appended, maxCount, clock.millis() - maxAge, round);
        }
      }
      removedOverall += j.compact().segmentsRemoved();
      checkRetention(j, appended, maxCount, clock.millis() - maxAge, round);
    }
    assertThat(removedOverall).as("the rounds did exercise compaction").isGreaterThan(30);
  }

  private static void checkRetention(FileEventJournal j, Map<Long, MailEvent> appended, long maxCount, long cutoff, int round) {
    List<MailEvent> retained = all(j);
    long newest = appended.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    List<Long> ids = idsOf(retained);
    if (!ids.isEmpty()) {
      assertThat(ids).as("round %d: contiguous up to the newest", round).containsExactlyElementsOf(range(ids.get(0), newest));
    }
    for (MailEvent e : retained) {
      assertThat(e).isEqualTo(appended.get(Long.parseLong(e.eventId())));
    }
    for (MailEvent e : appended.values()) {
      long id = Long.parseLong(e.eventId());
      if (id > newest - maxCount && e.time() >= cutoff) {
        assertThat(ids).as("round %d: event %d is within both bounds", round, id).contains(id);
      }
    }
  }

  @Test
  void readsRunningWhileCompactionRemovesSegmentsStayConsistent() throws Exception {
    Path dir = tmp.resolve("events");
    FileEventJournal j = open(dir, 1000 * HOUR, 1_000_000, 5, Clock.systemUTC());
    for (int i = 1; i <= 300; i++) {
      j.append(event("alice@example.test", "m" + i));
    }
    FileEventJournal compactor = open(dir, 1000 * HOUR, 20, 5, Clock.systemUTC());
    AtomicBoolean stop = new AtomicBoolean();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    Thread reader = new Thread(() -> {
      try {
        while (!stop.get()) {
          EventPage p = j.since("", null, 1000);
          List<Long> ids = ids(p);
          assertThat(ids).isNotEmpty();
          assertThat(ids).containsExactlyElementsOf(range(ids.get(0), 300));
        }
      } catch (Throwable e) {
        failures.add(e);
      }
    });
    reader.start();
    for (int step = 0; step < 60; step++) {
      // tightening the count bound step by step drops a segment at a time under the reader
      new FileEventJournal(dir, 1000 * HOUR, Math.max(20, 300 - step * 5), 5, Clock.systemUTC()).compact();
    }
    compactor.compact();
    stop.set(true);
    reader.join(10_000);
    assertThat(failures).isEmpty();
    assertThat(idsOf(all(j))).containsExactlyElementsOf(range(281, 300));
  }
}
