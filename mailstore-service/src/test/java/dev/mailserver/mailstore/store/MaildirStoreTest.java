package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What only the Maildir implementation promises: layout, names, crash safety, foreign files. */
class MaildirStoreTest {

  static final Buffer MSG = Buffer.buffer("Subject: hi\r\n\r\nbody\r\n");

  @TempDir
  Path tmp;
  Path root;
  MaildirStore store;
  final MailboxName alice = MailboxName.of("alice@example.test");
  final MailboxName bob = MailboxName.of("bob@example.test");

  @BeforeEach
  void setUp() {
    root = tmp.resolve("mail");
    store = new MaildirStore(root, "host.example");
    store.open();
    store.createMailbox(alice);
    store.createMailbox(bob);
  }

  Path dir(MailboxName m, String sub) {
    return root.resolve(m.domain()).resolve(m.localPart()).resolve(sub);
  }

  static List<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void layoutIsDomainThenLocalPartWithTmpNewCur() {
    for (String sub : List.of("tmp", "new", "cur")) {
      assertThat(root.resolve("example.test/alice/" + sub)).isDirectory();
    }
  }

  @Test
  void deliveredFilesAreInNewWithAMaildirNameAndNothingIsLeftInTmp() throws IOException {
    DeliverResult.Stored s = store.deliver("s@example.org", List.of(alice, bob), MSG).get(0);

    assertThat(files(dir(alice, "tmp"))).isEmpty();
    assertThat(files(dir(bob, "tmp"))).isEmpty();
    assertThat(files(dir(alice, "new"))).containsExactly(s.messageId());
    long size = Files.size(dir(alice, "new").resolve(s.messageId()));
    assertThat(s.messageId()).matches("\\d+\\.M\\d{6}P\\d+Q\\d+R[0-9a-f]{8}\\.host\\.example,S=" + size);
  }

  @Test
  void strayFileInTmpFromAnInterruptedWriteIsNeverListed() throws IOException {
    Files.writeString(dir(alice, "tmp").resolve("1700000000.M1P1Q1.host,S=10"), "Subject: half");
    assertThat(store.list(alice)).isEmpty();
    assertThatThrownBy(() -> store.fetch(alice, "1700000000.M1P1Q1.host,S=10")).isInstanceOf(MailstoreException.class);
  }

  @Test
  void staleTmpFilesAreRemovedOnOpenAndFreshOnesKept() throws IOException {
    Path stale = dir(alice, "tmp").resolve("stale");
    Path fresh = dir(alice, "tmp").resolve("fresh");
    Files.writeString(stale, "x");
    Files.writeString(fresh, "x");
    Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(37))));
    Files.setLastModifiedTime(fresh, FileTime.from(Instant.now().minus(Duration.ofHours(35))));

    new MaildirStore(root, "host.example").open();

    assertThat(stale).doesNotExist();
    assertThat(fresh).exists();
  }

  @Test
  void namesAreUniqueUnderConcurrentDeliveriesAndAllAreListed() throws Exception {
    int threads = 8;
    int perThread = 200;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<List<String>>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      futures.add(pool.submit(() -> {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < perThread; i++) {
          ids.add(store.deliver("s@example.org", List.of(alice), MSG).get(0).messageId());
        }
        return ids;
      }));
    }
    Set<String> all = new HashSet<>();
    for (Future<List<String>> f : futures) {
      all.addAll(f.get(60, TimeUnit.SECONDS));
    }
    pool.shutdown();

    assertThat(all).hasSize(threads * perThread);
    List<MessageInfo> list = store.list(alice);
    assertThat(list).extracting(MessageInfo::id).containsExactlyInAnyOrderElementsOf(all);
    assertThat(list).extracting(MessageInfo::uid).doesNotHaveDuplicates();
    assertThat(files(dir(alice, "tmp"))).isEmpty();
  }

  @Test
  void deliveryIsAllOrNothingWhenOneMailboxCannotBeWritten() throws IOException {
    // Replacing tmp/ with a regular file breaks writes even for root, where permissions would not.
    Path bobTmp = dir(bob, "tmp");
    Files.delete(bobTmp);
    Files.writeString(bobTmp, "not a directory");

    assertThatThrownBy(() -> store.deliver("s@example.org", List.of(alice, bob), MSG))
        .isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(MailstoreError.STORAGE_FAILURE));

    assertThat(files(dir(alice, "new"))).isEmpty();
    assertThat(files(dir(alice, "tmp"))).isEmpty();
    assertThat(store.list(alice)).isEmpty();
  }

  /** Records the fsync points, which a test cannot otherwise observe without pulling the plug. */
  static final class RecordingDurability extends Durability {
    final List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public void syncFile(java.nio.channels.FileChannel channel) throws IOException {
      calls.add("file");
      super.syncFile(channel);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
      calls.add("dir " + dir.getParent().getFileName() + "/" + dir.getFileName());
      super.syncDirectory(dir);
    }
  }

  @Test
  void everyCopyIsFsyncedAndThenItsNewDirectoryBeforeDeliverReturns() {
    RecordingDurability d = new RecordingDurability();
    MaildirStore recorded = new MaildirStore(root, new MaildirNames("h"), d);

    recorded.deliver("s@example.org", List.of(alice, bob), MSG);
    assertThat(d.calls).containsExactly("file", "file", "dir alice/new", "dir bob/new");

    d.calls.clear();
    String id = recorded.list(alice).get(0).id();
    recorded.delete(alice, List.of(id));
    assertThat(d.calls).containsExactly("dir alice/new");
  }

  @Test
  void failingDirectorySyncRollsBackTheRenamedCopies() {
    MaildirStore failing = new MaildirStore(root, new MaildirNames("h"), new Durability() {
      @Override
      public void syncDirectories(Collection<Path> dirs) throws IOException {
        if (dirs.stream().anyMatch(d -> d.endsWith("new"))) {
          throw new IOException("injected fsync failure");
        }
      }
    });

    assertThatThrownBy(() -> failing.deliver("s@example.org", List.of(alice, bob), MSG))
        .isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(MailstoreError.STORAGE_FAILURE));
    assertThat(store.list(alice)).isEmpty();
    assertThat(store.list(bob)).isEmpty();
  }

  @Test
  void foreignMaildirNamesAndCurFilesWithFlagsAreListedFetchedAndDeleted() throws IOException {
    // Written by other Maildir programs: qmail-style, Courier-style, and a file already seen (cur, flags).
    Files.writeString(dir(alice, "new").resolve("1600000000.12345_1.otherhost"), "Subject: qmail\r\n\r\nq\r\n");
    Files.writeString(dir(alice, "cur").resolve("1500000000.M123456P9.h,S=26:2,RS"), "Subject: seen\r\n\r\nseen!\r\n");
    Path noTime = dir(alice, "new").resolve("weird-name");
    Files.writeString(noTime, "Subject: weird\r\n\r\n");
    Files.setLastModifiedTime(noTime, FileTime.from(Instant.ofEpochSecond(1_550_000_000L)));
    Files.writeString(dir(alice, "new").resolve(".hidden"), "not a message");

    List<MessageInfo> list = store.list(alice);

    assertThat(list).extracting(MessageInfo::id)
        .containsExactly("1500000000.M123456P9.h,S=26", "weird-name", "1600000000.12345_1.otherhost");
    assertThat(list.get(0).receivedAt()).isEqualTo(1_500_000_000_123L);
    assertThat(list.get(1).receivedAt()).isEqualTo(1_550_000_000_000L);
    assertThat(list.get(2).receivedAt()).isEqualTo(1_600_000_000_000L);
    assertThat(list.get(0).size()).isEqualTo("Subject: seen\r\n\r\nseen!\r\n".length());
    assertThat(store.fetch(alice, "1500000000.M123456P9.h,S=26").toString()).isEqualTo("Subject: seen\r\n\r\nseen!\r\n");

    DeleteResult r = store.delete(alice, List.of("1500000000.M123456P9.h,S=26"));
    assertThat(r.deleted()).isEqualTo(1);
    assertThat(files(dir(alice, "cur"))).isEmpty();
  }

  /**
   * A range is a positional read of that range only: a (sparse) file of 3 GiB, which no whole
   * fetch can even hold in one array, serves a range beyond 2 GiB at once.
   */
  @Test
  void fetchRangeReadsOnlyTheRangeEvenBeyondTwoGigabytes() throws IOException {
    long size = 3L * 1024 * 1024 * 1024;
    long at = size - 1000;
    Path big = dir(alice, "new").resolve("1600000000.big.h");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(size);
      f.seek(at);
      f.write("marker\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    assertThat(store.list(alice).get(0).size()).isEqualTo(size);

    Buffer marker;
    try {
      marker = store.fetchRange(alice, "1600000000.big.h", at, 8);
    } catch (OutOfMemoryError e) {
      // "Required array size too large": the whole file was being read. JUnit would abort the run
      // on this error; fail this test only.
      throw new AssertionError("fetchRange read the whole file: " + e);
    }
    assertThat(marker.toString()).isEqualTo("marker\r\n");
    assertThat(store.fetchRange(alice, "1600000000.big.h", size - 2, 1000).toString()).isEqualTo("\0\0");
    assertThat(store.fetchRange(alice, "1600000000.big.h", size, 1000).length()).isZero();
  }

  /** Another Maildir reader moving the file to cur/ (adding flags) between ranges changes nothing. */
  @Test
  void rangesFollowAMessageMovedToCurBetweenThem() throws IOException {
    String id = store.deliver("", List.of(alice), Buffer.buffer("Subject: move\r\n\r\n0123456789\r\n")).get(0).messageId();
    String first = store.fetchRange(alice, id, 0, 20).toString();
    Files.move(dir(alice, "new").resolve(id), dir(alice, "cur").resolve(id + ":2,S"));
    String rest = store.fetchRange(alice, id, 20, 1000).toString();
    assertThat(first + rest).isEqualTo("Return-Path: <>\r\nSubject: move\r\n\r\n0123456789\r\n");
  }

  @Test
  void messageInBothNewAndCurIsListedOnce() throws IOException {
    Files.writeString(dir(alice, "new").resolve("1600000000.x.h"), "a");
    Files.writeString(dir(alice, "cur").resolve("1600000000.x.h:2,"), "a");
    assertThat(store.list(alice)).hasSize(1);
  }

  @Test
  void longIdsGetAStableShortUid() throws IOException {
    String longName = "1600000000.M1P1Q1." + "h".repeat(100) + ",S=1";
    Files.writeString(dir(alice, "new").resolve(longName), "x");

    String uid = store.list(alice).get(0).uid();
    assertThat(uid).hasSize(43).matches("[A-Za-z0-9_-]+");
    assertThat(store.list(alice).get(0).uid()).isEqualTo(uid);
    assertThat(MessageIds.uid("short.id")).isEqualTo("short.id");
  }

  @Test
  void mailboxDirectoriesStayInsideTheRoot() {
    assertThat(store.mailboxDir(alice)).startsWith(root.toAbsolutePath());
  }

  @Test
  void removedMailboxDirectoryIsAStorageOrNotFoundFailureNotACrash() throws IOException {
    Path box = root.resolve("example.test/bob");
    try (Stream<Path> s = Files.walk(box)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    assertThatThrownBy(() -> store.list(bob)).isInstanceOfSatisfying(MailstoreException.class,
        e -> assertThat(e.error()).isEqualTo(MailstoreError.MAILBOX_NOT_FOUND));
  }

  @Test
  void contentIsWrittenOnlyOnceAsTheFileNameSizeSays() throws IOException {
    String id = store.deliver("", List.of(alice), Buffer.buffer("x".repeat(100_000), StandardCharsets.UTF_8.name()))
        .get(0).messageId();
    long size = Files.size(dir(alice, "new").resolve(id));
    assertThat(size).isEqualTo("Return-Path: <>\r\n".length() + 100_000);
    assertThat(id).endsWith(",S=" + size);
  }

  @Test
  void twoStoresOnOneRootSeeEachOthersMailAndDeletingTheSameMessagesDeletesEachOnce() throws Exception {
    // Two instances (pods) on one volume: no cache between them, and a race on delete is no error.
    MaildirStore other = new MaildirStore(root, "other.host");
    other.open();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      MaildirStore writer = i % 2 == 0 ? store : other;
      ids.add(writer.deliver("s@example.org", List.of(alice), MSG).get(0).messageId());
    }
    assertThat(store.list(alice)).extracting(MessageInfo::id).containsExactlyElementsOf(ids);
    assertThat(other.list(alice)).extracting(MessageInfo::id).containsExactlyElementsOf(ids);

    // Same ids, same order, same moment: the two constantly race between lookup and unlink, and
    // each id must be counted as deleted by exactly one of them.
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      java.util.concurrent.CyclicBarrier go = new java.util.concurrent.CyclicBarrier(2);
      List<Future<List<DeleteResult>>> runs = new ArrayList<>();
      for (MaildirStore s : List.of(store, other)) {
        runs.add(pool.submit(() -> {
          go.await(10, TimeUnit.SECONDS);
          List<DeleteResult> results = new ArrayList<>();
          for (String id : ids) {
            results.add(s.delete(alice, List.of(id)));
          }
          return results;
        }));
      }
      List<DeleteResult> first = runs.get(0).get(30, TimeUnit.SECONDS);
      List<DeleteResult> second = runs.get(1).get(30, TimeUnit.SECONDS);
      for (int i = 0; i < ids.size(); i++) {
        DeleteResult a = first.get(i);
        DeleteResult b = second.get(i);
        assertThat(a.deleted() + b.deleted()).as("deletions of %s", ids.get(i)).isEqualTo(1);
        assertThat(a.deleted() == 1 ? b.missing() : a.missing()).containsExactly(ids.get(i));
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(store.list(alice)).isEmpty();
    assertThat(other.list(alice)).isEmpty();
  }
}
