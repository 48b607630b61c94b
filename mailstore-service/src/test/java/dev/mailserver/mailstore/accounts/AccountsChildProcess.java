package dev.mailserver.mailstore.accounts;

import dev.mailserver.mailstore.store.MaildirStore;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;

/**
 * A second mailstore "instance" in its own JVM, started by {@link AccountsCrossProcessTest}: only a
 * separate process contends for the {@code FileChannel} lock the way another pod would. Prints
 * results on stdout, one per line, prefixed so log lines cannot be mistaken for them.
 *
 * <ul>
 *   <li>{@code seed <dataDir> <prefix> <count>}: loads, waits for {@code <dataDir>/go}, then seeds
 *   {@code <prefix>0..count-1@example.test} one at a time (each a separate read-modify-write).</li>
 *   <li>{@code demo <dataDir>}: as the verticle starts: load, wait for go, createDemoIfEmpty.</li>
 *   <li>{@code trylock <lockFile>}: whether the lock can be taken right now.</li>
 * </ul>
 */
public final class AccountsChildProcess {

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "seed" -> {
        Accounts accounts = open(Path.of(args[1]));
        awaitGo(Path.of(args[1]));
        for (int i = 0; i < Integer.parseInt(args[3]); i++) {
          accounts.seed(List.of(new AccountSeed(args[2] + i + "@example.test", "pw-" + args[2] + i)));
        }
        System.out.println("RESULT done");
      }
      case "demo" -> {
        Accounts accounts = open(Path.of(args[1]));
        awaitGo(Path.of(args[1]));
        Optional<String> pw = accounts.createDemoIfEmpty("example.test");
        System.out.println("RESULT " + pw.map(p -> "demo " + p).orElse("none"));
      }
      case "trylock" -> {
        try (FileChannel ch = FileChannel.open(Path.of(args[1]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock l = ch.tryLock()) {
          System.out.println("RESULT " + (l != null ? "free" : "busy"));
        }
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
    System.out.flush();
    System.exit(0);
  }

  private static Accounts open(Path dataDir) throws Exception {
    MaildirStore store = new MaildirStore(dataDir.resolve("mail"), "child");
    store.open();
    Accounts accounts = new Accounts(dataDir.resolve("accounts.json"), store, new Passwords(4));
    accounts.load();
    System.out.println("RESULT loaded");
    System.out.flush();
    return accounts;
  }

  /** Both children start their writes at the same moment, after their (slow) JVM start-up. */
  private static void awaitGo(Path dataDir) throws InterruptedException {
    Path go = dataDir.resolve("go");
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (!Files.exists(go)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no go signal");
      }
      Thread.sleep(1); // not a spin: with few cores it would slow down the other child's start
    }
  }
}
