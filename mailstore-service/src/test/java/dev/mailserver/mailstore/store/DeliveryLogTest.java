package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.DeliverResult;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The delivery log's promise: an acknowledged delivery survives the loss of its unsynced Maildir
 * copy (a crash before the checkpoint), a torn log tail is ignored, a deleted message does not come
 * back, and concurrent deliveries share fsyncs. A "crash" here is simulated by copying the data
 * directory while the store is open (what a power cut leaves, at worst: the log, not the copies).
 */
class DeliveryLogTest {

  @TempDir
  Path tmp;
  final MailboxName alice = MailboxName.of("alice@example.test");
  final List<MaildirStore> open = new ArrayList<>();
  final AtomicInteger fileSyncs = new AtomicInteger();
  final AtomicInteger dirSyncs = new AtomicInteger();

  @AfterEach
  void closeAll() {
    open.forEach(MaildirStore::close);
  }

  MaildirStore store(Path data) {
    // No timed checkpoint: each test decides when one happens (a stray one would drop the log
    // the crash tests replay and add syncs the counting tests do not expect).
    MaildirStore s = new MaildirStore(data.resolve("mail"), "test.host",
        (dir, nanos) -> (dir ? dirSyncs : fileSyncs).incrementAndGet(), data.resolve("deliverylog"), Duration.ofHours(1));
    s.open();
    s.createMailbox(alice);
    open.add(s);
    return s;
  }

  static Buffer msg(String text) {
    return Buffer.buffer("Subject: " + text + "\r\n\r\n" + text + "\r\n");
  }

  Path newDir(Path data) {
    return data.resolve("mail/example.test/alice/new");
  }

  static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  /** Copies the data directory as it is now: the "disk" after a crash, with the log not yet checkpointed. */
  static void crashCopy(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  @Test
  void aCopyLostBeforeTheCheckpointIsWrittenAgainFromTheLog() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    DeliverResult.Stored kept = s.deliver("bob@example.test", List.of(alice), msg("kept")).get(0);
    DeliverResult.Stored lost = s.deliver("bob@example.test", List.of(alice), msg("lost")).get(0);
    byte[] lostBytes = s.fetch(alice, lost.messageId()).getBytes();

    Path crashed = tmp.resolve("crashed");
    crashCopy(data, crashed);
    // The crash lost one unsynced copy entirely and tore the other.
    Files.delete(newDir(crashed).resolve(lost.messageId()));
    Files.write(newDir(crashed).resolve(kept.messageId()), new byte[] {'R', 'e'});

    MaildirStore after = store(crashed);
    assertThat(after.fetch(alice, lost.messageId()).getBytes()).isEqualTo(lostBytes);
    assertThat(after.fetch(alice, kept.messageId()).toString(StandardCharsets.ISO_8859_1)).endsWith("kept\r\n").contains("Return-Path: <bob@example.test>");
    assertThat(after.list(alice)).hasSize(2);
    // Recovery consumed the old segments; only the new run's own segment is left.
    assertThat(files(crashed.resolve("deliverylog"))).hasSize(1);
  }

  @Test
  void aTornRecordAtTheEndOfTheLogIsIgnoredAndEverythingBeforeItRecovered() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    DeliverResult.Stored first = s.deliver("bob@example.test", List.of(alice), msg("first")).get(0);
    Path crashed = tmp.resolve("crashed");
    crashCopy(data, crashed);
    Files.delete(newDir(crashed).resolve(first.messageId()));
    Path segment = files(crashed.resolve("deliverylog")).get(0);
    // Half a record after the complete one: what an interrupted append leaves.
    Files.write(segment, new byte[] {0x4D, 0x44, 0x4C, 0x31, 0, 0, 1, 0, 1, 2}, java.nio.file.StandardOpenOption.APPEND);

    MaildirStore after = store(crashed);
    assertThat(after.list(alice)).extracting(m -> m.id()).containsExactly(first.messageId());
  }

  @Test
  void aMessageDeletedAfterDeliveryDoesNotComeBackFromTheLog() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    DeliverResult.Stored gone = s.deliver("bob@example.test", List.of(alice), msg("gone")).get(0);
    s.delete(alice, List.of(gone.messageId()));
    DeliverResult.Stored later = s.deliver("bob@example.test", List.of(alice), msg("later")).get(0);

    Path crashed = tmp.resolve("crashed");
    crashCopy(data, crashed);
    MaildirStore after = store(crashed);
    assertThat(after.list(alice)).extracting(m -> m.id()).containsExactly(later.messageId());
  }

  @Test
  void aCheckpointMakesTheCopiesDurableAndEmptiesTheLog() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    List<Path> copies = new ArrayList<>();
    List<Path> synced = new ArrayList<>();
    DeliveryLog log = new DeliveryLog(data.resolve("log2"), data.resolve("mail"), new Durability(),
        (root, files) -> synced.addAll(files), Duration.ofHours(1));
    log.open();
    for (int i = 0; i < 3; i++) {
      DeliverResult.Stored st = s.deliver("bob@example.test", List.of(alice), msg("m" + i)).get(0);
      Path p = newDir(data).resolve(st.messageId());
      copies.add(p);
      log.commit(List.of(p), new byte[0], Files.readAllBytes(p));
    }
    assertThat(Files.size(files(data.resolve("log2")).get(0))).isPositive();
    log.checkpoint();
    assertThat(synced).containsExactlyElementsOf(copies);
    // The covered segment is gone; the fresh one is empty.
    assertThat(files(data.resolve("log2"))).hasSize(1).allSatisfy(p -> assertThat(p).isEmptyFile());
    log.checkpoint(); // nothing new: nothing synced again
    assertThat(synced).hasSize(3);
    log.close();
    assertThat(files(data.resolve("log2"))).isEmpty();
  }

  @Test
  void theFsyncFallbackSyncsEveryCopyAndItsDirectory() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    DeliverResult.Stored st = s.deliver("bob@example.test", List.of(alice), msg("x")).get(0);
    int files0 = fileSyncs.get();
    int dirs0 = dirSyncs.get();
    DeliveryLog.fsyncEach(new Durability((dir, nanos) -> (dir ? dirSyncs : fileSyncs).incrementAndGet()))
        .sync(data.resolve("mail"), List.of(newDir(data).resolve(st.messageId()), newDir(data).resolve("vanished")));
    assertThat(fileSyncs.get() - files0).isEqualTo(1);
    assertThat(dirSyncs.get() - dirs0).isEqualTo(1);
  }

  @Test
  void concurrentDeliveriesShareLogFsyncs() throws Exception {
    Path data = tmp.resolve("a");
    // A slow "disk": every fdatasync takes 20 ms, so deliveries arriving meanwhile must queue into one commit.
    Durability slow = new Durability((dir, nanos) -> {}) {
      @Override
      public void syncData(java.nio.channels.FileChannel ch) throws IOException {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        super.syncData(ch);
      }
    };
    DeliveryLog log = new DeliveryLog(data.resolve("log"), data.resolve("mail"), slow, (root, files) -> {}, Duration.ofHours(1));
    log.open();
    int n = 40;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] body = ("message " + i).getBytes(StandardCharsets.US_ASCII);
      Path f = data.resolve("mail/example.test/alice/new/m" + i);
      done.add(pool.submit(() -> {
        start.await();
        log.commit(List.of(f), new byte[0], body);
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : done) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertThat(log.commits()).isLessThan(n / 2);
    byte[] all = Files.readAllBytes(files(data.resolve("log")).get(0));
    List<DeliveryLog.Record> records = DeliveryLog.decode(all);
    assertThat(records).hasSize(n);
    assertThat(records).extracting(r -> new String(r.content(), StandardCharsets.US_ASCII))
        .containsExactlyInAnyOrderElementsOf(java.util.stream.IntStream.range(0, n).mapToObj(i -> "message " + i).toList());
    log.close();
  }

  @Test
  void deliveriesThroughTheLogFsyncNoCopyOnTheAckPath() {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    int files0 = fileSyncs.get();
    int dirs0 = dirSyncs.get();
    for (int i = 0; i < 5; i++) {
      s.deliver("bob@example.test", List.of(alice), msg("m" + i));
    }
    // One fdatasync of the log per (here sequential) delivery, no file or directory fsync of the copies.
    assertThat(fileSyncs.get() - files0).isEqualTo(5);
    assertThat(dirSyncs.get() - dirs0).isZero();
  }

  @Test
  void aLargeMessageIsFsyncdInPlaceNotCopiedIntoTheLog() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore s = store(data);
    MailboxName bob = MailboxName.of("bob@example.test");
    s.createMailbox(bob);
    int files0 = fileSyncs.get();
    int dirs0 = dirSyncs.get();
    byte[] big = new byte[(int) MaildirStore.LOG_CONTENT_LIMIT + 1];
    java.util.Arrays.fill(big, (byte) 'x');
    List<DeliverResult.Stored> stored = s.deliver("carol@example.test", List.of(alice, bob), Buffer.buffer(big));
    // One fsync per copy and one per new/ directory, as without the log; the log gets no record.
    assertThat(fileSyncs.get() - files0).isEqualTo(2);
    assertThat(dirSyncs.get() - dirs0).isEqualTo(2);
    for (Path seg : files(data.resolve("deliverylog"))) {
      assertThat(seg).isEmptyFile();
    }
    assertThat(s.fetch(bob, stored.get(1).messageId()).length()).isEqualTo(stored.get(1).size());
  }

  @Test
  void concurrentInPlaceDeliveriesShareTheDirectoryFsync() throws Exception {
    AtomicInteger dirFsyncs = new AtomicInteger();
    Durability slow = new Durability((dir, nanos) -> {}) {
      @Override
      public void syncDirectory(Path dir) throws IOException {
        dirFsyncs.incrementAndGet();
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        super.syncDirectory(dir);
      }
    };
    Path dir = tmp.resolve("d");
    Files.createDirectories(dir);
    DirectorySync sync = new DirectorySync(slow);
    int n = 30;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      done.add(pool.submit(() -> {
        start.await();
        sync.sync(List.of(dir));
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : done) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertThat(dirFsyncs.get()).isPositive().isLessThan(n / 2);
  }

  @Test
  void aSegmentHeldByALiveLogIsNotReplayedByAnotherStore() throws IOException {
    Path data = tmp.resolve("a");
    MaildirStore first = store(data);
    DeliverResult.Stored st = first.deliver("bob@example.test", List.of(alice), msg("live")).get(0);
    Files.delete(newDir(data).resolve(st.messageId())); // pretend: not written back yet
    MaildirStore second = store(data); // shares the data directory, as a second instance would
    assertThat(second.list(alice)).isEmpty();
    Collection<Path> segs = files(data.resolve("deliverylog"));
    assertThat(segs).hasSize(2);
  }
}
