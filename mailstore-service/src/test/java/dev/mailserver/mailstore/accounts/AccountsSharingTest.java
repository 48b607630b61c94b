package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.mailstore.store.InMemoryStore;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several {@link Accounts} on one file, as several mailstore instances on one data directory. In
 * one JVM the instances share the per-file in-process lock, so these tests exercise the re-read
 * under the lock and the change detection; {@link AccountsCrossProcessTest} exercises the file lock
 * between real processes. bcrypt cost 4 keeps them fast.
 */
class AccountsSharingTest {

  @TempDir
  Path tmp;
  Path file;
  final Passwords passwords = new Passwords(4);
  ExecutorService pool;

  @BeforeEach
  void setUp() {
    file = tmp.resolve("accounts.json");
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterEach
  void tearDown() {
    pool.shutdownNow();
  }

  Accounts open(MailStore store, Duration checkInterval) throws IOException {
    Accounts a = new Accounts(file, store, passwords, checkInterval);
    a.load();
    return a;
  }

  static List<String> addressesInFile(Path file) throws IOException {
    return new JsonObject(Files.readString(file)).getJsonArray("accounts").stream()
        .map(o -> ((JsonObject) o).getString("address")).toList();
  }

  @Test
  void anAccountCreatedByAnotherInstanceIsSeenAfterTheCheckIntervalWithItsMailbox() throws Exception {
    MailStore storeA = new InMemoryStore();
    Accounts a = open(storeA, Duration.ofMillis(300));
    Accounts b = open(new InMemoryStore(), Duration.ofMillis(300));

    b.seed(List.of(new AccountSeed("bob@example.test", "bob-pw")));

    // Lookups are in memory: nothing changes until a check, and checks are at most one per interval.
    assertThat(a.exists("bob@example.test")).isFalse();
    a.refreshIfDue();
    assertThat(a.exists("bob@example.test")).isFalse();
    Thread.sleep(350);
    assertThat(a.checkDue()).isTrue();
    a.refreshIfDue();
    assertThat(a.exists("bob@example.test")).isTrue();
    assertThat(a.checkDue()).isFalse();
    // The reload gives the account its mailbox in this instance's store too (listable at once).
    assertThat(storeA.exists(MailboxName.of("bob@example.test"))).isTrue();

    // authenticate checks by itself (it runs on a worker anyway).
    b.seed(List.of(new AccountSeed("carol@example.test", "carol-pw")));
    Thread.sleep(350);
    assertThat(a.authenticate("carol@example.test", "carol-pw")).contains("carol@example.test");
  }

  @Test
  void theCheckIsThrottledButAnExplicitRefreshLooksAtOnce() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ofHours(1));
    open(new InMemoryStore(), Duration.ofHours(1)).seed(List.of(new AccountSeed("bob@example.test", "pw")));

    a.refreshIfDue();
    assertThat(a.exists("bob@example.test")).as("no check before the interval is over").isFalse();
    assertThat(a.refresh()).isTrue();
    assertThat(a.exists("bob@example.test")).isTrue();
    assertThat(a.refresh()).as("unchanged file: nothing to reload").isFalse();
  }

  @Test
  void aPasswordChangedByAnotherInstanceCountsAfterTheCheck() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ofMillis(200));
    a.seed(List.of(new AccountSeed("bob@example.test", "old-pw")));
    // The other instance's configuration says otherwise (same file size: bcrypt hashes have one length).
    open(new InMemoryStore(), Duration.ofMillis(200)).seed(List.of(new AccountSeed("bob@example.test", "new-pw")));

    Thread.sleep(250);
    assertThat(a.authenticate("bob@example.test", "new-pw")).isPresent();
    assertThat(a.authenticate("bob@example.test", "old-pw")).isEmpty();
  }

  @Test
  void aRewriteKeepingSizeFileAndMtimeIsStillNoticedWhileTheMtimeIsRecent() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ZERO);
    a.seed(List.of(new AccountSeed("bob@example.test", "pw")));
    String json = Files.readString(file);
    FileTime mtime = Files.getLastModifiedTime(file);

    // In place (same inode), same length, mtime put back: the stamp alone cannot tell.
    String rewritten = json.replace("bob@example.test", "bib@example.test");
    assertThat(rewritten).hasSameSizeAs(json);
    Files.writeString(file, rewritten, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    Files.setLastModifiedTime(file, mtime);

    assertThat(a.refresh()).isTrue();
    assertThat(a.exists("bib@example.test")).isTrue();
    assertThat(a.exists("bob@example.test")).isFalse();
  }

  @Test
  void aBrokenOrMissingFileOnReloadKeepsTheLoadedAccounts() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ZERO);
    a.seed(List.of(new AccountSeed("bob@example.test", "pw")));

    Files.writeString(file, "{ half written by hand");
    assertThat(a.refresh()).isFalse();
    assertThat(a.exists("bob@example.test")).isTrue();

    Files.delete(file);
    assertThat(a.refresh()).isFalse();
    assertThat(a.exists("bob@example.test")).isTrue();
  }

  @Test
  void aWriteReReadsTheFileInsideTheLockSoNoUpdateIsLost() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ofHours(1));
    Accounts b = open(new InMemoryStore(), Duration.ofHours(1));
    // Sequential, and neither has refreshed: a stale in-memory table must not be written back.
    a.seed(List.of(new AccountSeed("a@example.test", "pw")));
    b.seed(List.of(new AccountSeed("b@example.test", "pw")));
    b.create("c@example.test", "pw");
    a.create("d@example.test", "pw");

    assertThat(addressesInFile(file)).containsExactlyInAnyOrder("a@example.test", "b@example.test", "c@example.test", "d@example.test");
    // Each writer also installed what it read under the lock.
    assertThat(a.addresses()).containsExactlyInAnyOrder("a@example.test", "b@example.test", "c@example.test", "d@example.test");
  }

  @Test
  void concurrentSeedingOfDifferentAccountsKeepsBoth() throws Exception {
    // Many rounds: a lost update needs the two read-modify-writes to interleave, which one round may not.
    for (int round = 0; round < 20; round++) {
      Files.deleteIfExists(file);
      Accounts a = open(new InMemoryStore(), Duration.ofHours(1));
      Accounts b = open(new InMemoryStore(), Duration.ofHours(1));
      String x = "x" + round + "@example.test";
      String y = "y" + round + "@example.test";
      CyclicBarrier start = new CyclicBarrier(2);
      List<Future<Accounts.SeedResult>> results = runTogether(start,
          () -> a.seed(List.of(new AccountSeed(x, "pw-x"))),
          () -> b.seed(List.of(new AccountSeed(y, "pw-y"))));

      assertThat(results.get(0).get().created()).containsExactly(x);
      assertThat(results.get(1).get().created()).containsExactly(y);
      assertThat(addressesInFile(file)).as("round %d", round).containsExactlyInAnyOrder(x, y);
    }
  }

  @Test
  void concurrentDemoCreationMakesExactlyOneAccount() throws Exception {
    for (int round = 0; round < 20; round++) {
      Files.deleteIfExists(file);
      Accounts a = open(new InMemoryStore(), Duration.ofHours(1));
      Accounts b = open(new InMemoryStore(), Duration.ofHours(1));
      CyclicBarrier start = new CyclicBarrier(2);
      List<Future<Optional<String>>> results = runTogether(start,
          () -> a.createDemoIfEmpty("example.test"),
          () -> b.createDemoIfEmpty("example.test"));

      List<String> passwords = new ArrayList<>();
      for (Future<Optional<String>> f : results) {
        f.get().ifPresent(passwords::add);
      }
      assertThat(passwords).as("round %d: demo passwords announced", round).hasSize(1);
      assertThat(addressesInFile(file)).containsExactly("demo@example.test");
      Accounts fresh = open(new InMemoryStore(), Duration.ofHours(1));
      assertThat(fresh.authenticate("demo@example.test", passwords.get(0))).isPresent();
    }
  }

  @Test
  void theLockFileIsSeparateAndStaysUnlockedBetweenUpdates() throws Exception {
    Accounts a = open(new InMemoryStore(), Duration.ofHours(1));
    a.seed(List.of(new AccountSeed("bob@example.test", "pw")));
    Path lock = tmp.resolve(Accounts.LOCK_FILE);
    assertThat(lock).exists();
    assertThat(Files.readString(file, StandardCharsets.UTF_8)).contains("bob@example.test");
    // Not held while idle: another process could take it right now (tryLock from another JVM is
    // what matters; in this JVM the channel lock would overlap, so check via a child process).
    assertThat(AccountsCrossProcessTest.canLockFromAnotherProcess(lock)).isTrue();
  }

  @SafeVarargs
  final <T> List<Future<T>> runTogether(CyclicBarrier start, Callable<T>... tasks) throws Exception {
    List<Future<T>> futures = new ArrayList<>();
    for (Callable<T> t : tasks) {
      futures.add(pool.submit(() -> {
        start.await(10, TimeUnit.SECONDS);
        return t.call();
      }));
    }
    for (Future<T> f : futures) {
      f.get(30, TimeUnit.SECONDS);
    }
    return futures;
  }
}
