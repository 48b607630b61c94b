package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.mailstore.store.InMemoryStore;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Account writes from separate JVMs on one data directory, as pods on a shared volume: only
 * between processes does the {@code FileChannel} lock on {@code accounts.lock} do the work (inside
 * one JVM an in-process lock serialises first). The children are {@link AccountsChildProcess}.
 */
class AccountsCrossProcessTest {

  @TempDir
  Path tmp;
  final List<Child> children = new ArrayList<>();

  @AfterEach
  void tearDown() {
    children.forEach(c -> c.process.destroyForcibly());
  }

  /** A child JVM; its "RESULT ..." lines in order, everything else kept for failure messages. */
  static final class Child {
    final Process process;
    final BlockingQueue<String> results = new LinkedBlockingQueue<>();
    final StringBuffer output = new StringBuffer();

    Child(Process process) {
      this.process = process;
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            output.append(line).append('\n');
            if (line.startsWith("RESULT ")) {
              results.add(line.substring("RESULT ".length()));
            }
          }
        } catch (IOException ignored) {
          // process gone
        }
      }, "child-output");
      t.setDaemon(true);
      t.start();
    }

    /** The next result; fails at once if the child died without giving it. */
    String next() throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      boolean exited = false;
      while (System.nanoTime() < deadline) {
        String r = results.poll(50, TimeUnit.MILLISECONDS);
        if (r != null) {
          return r;
        }
        if (exited) {
          break; // one more poll after the exit, for output still being read
        }
        exited = !process.isAlive();
      }
      throw new AssertionError("no result from the child; its output:\n" + output);
    }

    void awaitExit() throws InterruptedException {
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("child exited; output:%n%s", output).isTrue();
      assertThat(process.exitValue()).as("child exit code; output:%n%s", output).isZero();
    }
  }

  static Child start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    String logback = System.getProperty("logback.configurationFile");
    if (logback != null) {
      cmd.add("-Dlogback.configurationFile=" + logback);
    }
    cmd.add(AccountsChildProcess.class.getName());
    cmd.addAll(List.of(args));
    return new Child(new ProcessBuilder(cmd).redirectErrorStream(true).start());
  }

  /** Whether another process can take the lock on {@code lockFile} right now. */
  static boolean canLockFromAnotherProcess(Path lockFile) throws Exception {
    Child c = start("trylock", lockFile.toString());
    String r = c.next();
    c.awaitExit();
    return r.equals("free");
  }

  static List<String> addressesInFile(Path file) throws IOException {
    return new JsonObject(Files.readString(file)).getJsonArray("accounts").stream()
        .map(o -> ((JsonObject) o).getString("address")).toList();
  }

  @Test
  void twoProcessesSeedingManyAccountsAtOnceLoseNone() throws Exception {
    // Each process does 15 separate read-modify-writes as fast as it can, at the same time, and
    // that twice: without the lock (or without re-reading inside it) writes interleave and
    // accounts get lost. (Few rounds of many writes: a JVM start costs seconds, a write milliseconds.)
    int perProcess = 15;
    for (int round = 0; round < 2; round++) {
      Path dataDir = Files.createDirectories(tmp.resolve("round" + round));
      List<Child> writers = List.of(start("seed", dataDir.toString(), "a", "" + perProcess),
          start("seed", dataDir.toString(), "b", "" + perProcess));
      children.addAll(writers);
      for (Child c : writers) {
        assertThat(c.next()).isEqualTo("loaded");
      }
      Files.createFile(dataDir.resolve("go"));
      for (Child c : writers) {
        assertThat(c.next()).isEqualTo("done");
        c.awaitExit();
      }

      List<String> expected = new ArrayList<>();
      for (String prefix : List.of("a", "b")) {
        IntStream.range(0, perProcess).forEach(i -> expected.add(prefix + i + "@example.test"));
      }
      assertThat(addressesInFile(dataDir.resolve("accounts.json"))).as("round %d", round).containsExactlyInAnyOrderElementsOf(expected);
      assertThat(dataDir.resolve("mail/example.test/a" + (perProcess - 1) + "/new")).isDirectory();
      assertThat(dataDir.resolve("mail/example.test/b" + (perProcess - 1) + "/new")).isDirectory();
    }
  }

  @Test
  void processesStartingTogetherOnAnEmptyDirectoryCreateOneDemoAccount() throws Exception {
    // Three at once, all past their JVM start-up and load, released by one signal: they reach the
    // emptiness check within milliseconds of each other. (One round: a JVM start costs seconds.)
    for (int round = 0; round < 1; round++) {
      Path dataDir = Files.createDirectories(tmp.resolve("round" + round));
      List<Child> starting = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        starting.add(start("demo", dataDir.toString()));
      }
      children.addAll(starting);
      for (Child c : starting) {
        assertThat(c.next()).isEqualTo("loaded");
      }
      Files.createFile(dataDir.resolve("go"));
      List<String> outcomes = new ArrayList<>();
      for (Child c : starting) {
        outcomes.add(c.next());
        c.awaitExit();
      }

      assertThat(outcomes).as("round %d", round).filteredOn(o -> o.startsWith("demo ")).hasSize(1);
      assertThat(outcomes).filteredOn(o -> o.equals("none")).hasSize(2);
      assertThat(addressesInFile(dataDir.resolve("accounts.json"))).containsExactly("demo@example.test");
      String password = outcomes.stream().filter(o -> o.startsWith("demo ")).findFirst().orElseThrow().substring(5);
      Accounts check = new Accounts(dataDir.resolve("accounts.json"), new InMemoryStore(), new Passwords(4), Duration.ofHours(1));
      check.load();
      assertThat(check.authenticate("demo@example.test", password)).as("the announced password is the stored one").isPresent();
    }
  }

  @Test
  void aWriterWaitsForTheLockAndThenBuildsOnWhatTheHolderWrote() throws Exception {
    Path dataDir = tmp;
    Path file = dataDir.resolve("accounts.json");
    Child child = start("seed", dataDir.toString(), "c", "1");
    children.add(child);
    assertThat(child.next()).isEqualTo("loaded"); // it has read the (empty) file before we change it

    try (FileChannel ch = FileChannel.open(dataDir.resolve(Accounts.LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileLock held = ch.lock();
      assertThat(held.isValid()).isTrue();
      Files.createFile(dataDir.resolve("go"));
      // While we hold the lock the child cannot write...
      assertThat(child.results.poll(700, TimeUnit.MILLISECONDS)).as("child finished while the lock was held").isNull();
      assertThat(file).doesNotExist();
      // ...and what we write under it is what the child must re-read and keep.
      Accounts us = new Accounts(file, new InMemoryStore(), new Passwords(4), Duration.ofHours(1));
      Files.writeString(file, "{\"accounts\":[{\"address\":\"held@example.test\",\"passwordHash\":\""
          + new Passwords(4).hash("pw") + "\",\"createdAt\":\"2024-01-01T00:00:00Z\"}]}");
      us.load();
      assertThat(us.exists("held@example.test")).isTrue();
      held.release();
    }
    assertThat(child.next()).isEqualTo("done");
    child.awaitExit();
    assertThat(addressesInFile(file)).containsExactlyInAnyOrder("held@example.test", "c0@example.test");
    assertThat(canLockFromAnotherProcess(dataDir.resolve(Accounts.LOCK_FILE))).as("released after the write").isTrue();
  }
}
