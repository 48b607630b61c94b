package dev.mailserver.mailstore.accounts;

import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mail accounts: address, bcrypt hash, creation time, persisted in {@code accounts.json}.
 *
 * <p>Several mailstore processes may share the file (pods on one ReadWriteMany volume):
 * <ul>
 *   <li>Reads use an in-memory copy. {@link #refreshIfDue()} compares the file's mtime, size and
 *   file key with the loaded version at most once per check interval (1 s) and reloads it when it
 *   changed, so an account created by another process is seen within about a second. Callers run
 *   it on a worker before answering ({@link #authenticate} does it itself); {@link #exists} never
 *   touches the disk and is safe on the event loop.</li>
 *   <li>Every change is a read-modify-write under an exclusive {@link FileChannel#lock()} on
 *   {@code accounts.lock} next to the file: the file is re-read inside the lock, changed, and
 *   replaced atomically. Concurrent writers in different processes therefore never lose each
 *   other's updates. The lock is held only for that, never while idle.</li>
 * </ul>
 * Everything that hashes, locks or reads the file blocks and belongs on a worker.
 */
public final class Accounts {
  private static final Logger log = LoggerFactory.getLogger(Accounts.class);

  public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofSeconds(1);
  public static final String LOCK_FILE = "accounts.lock";

  /**
   * A version whose mtime is this close to "now" is not trusted to be told apart from a rewrite by
   * its stamp alone: mtime granularity is coarse (jiffies locally, up to seconds on some NFS
   * servers) and a freed inode number can be reused by the next rename, so two quick rewrites of
   * equal size could carry equal stamps. Until the mtime is older than this, checks compare the
   * content as well (git calls this the "racily clean" problem).
   */
  static final Duration RACY_WINDOW = Duration.ofSeconds(3);

  /**
   * FileChannel locks belong to the whole JVM: a second channel of the same JVM asking for the
   * lock gets OverlappingFileLockException instead of waiting. Instances of this class in one JVM
   * (tests, or two verticles) therefore first take this per-file lock.
   */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  /** One account as persisted. */
  public record Account(String address, String passwordHash, Instant createdAt) {
    JsonObject toJson() {
      return new JsonObject().put("address", address).put("passwordHash", passwordHash).put("createdAt", createdAt.toString());
    }

    static Account fromJson(JsonObject j) {
      String created = j.getString("createdAt");
      // Tolerated when missing: hand-written files are common, and the field is informational.
      return new Account(j.getString("address"), j.getString("passwordHash"), created == null ? Instant.EPOCH : Instant.parse(created));
    }

    @Override
    public String toString() {
      return "Account[" + address + ", createdAt=" + createdAt + "]";
    }
  }

  /** What seeding changed. */
  public record SeedResult(List<String> created, List<String> updated) {}

  /** What identifies one version of the file cheaply: each atomic replace is a new file (key), a rewrite changes mtime or size. */
  private record Stamp(FileTime modified, long size, Object fileKey) {
    static final Stamp ABSENT = new Stamp(null, -1, null);
  }

  /** The file as read: its table, the stamp taken before reading, and a digest of the bytes (null when absent). */
  private record Version(Map<String, Account> table, Stamp stamp, byte[] digest, boolean racy) {
    static final Version NONE = new Version(Map.of(), Stamp.ABSENT, null, false);
  }

  /** A change applied to a copy of the current table, inside the lock. */
  @FunctionalInterface
  private interface Mutation<T> {
    T apply(Map<String, Account> table) throws IOException;
  }

  private final Path file;
  private final Path lockFile;
  private final MailStore store;
  private final Passwords passwords;
  private final long checkIntervalNanos;
  /** Serialises installing versions in this instance, so a slow reload never overwrites a newer update. */
  private final ReentrantLock tableLock = new ReentrantLock();
  /** System.nanoTime() from which the next change check is due. */
  private final AtomicLong nextCheck = new AtomicLong(System.nanoTime());
  /** Replaced wholesale on every change (copy on write), so readers never see a half-updated table. */
  private volatile Version current = Version.NONE;
  private volatile String dummyHash;
  /** The stamp of a version that could not be loaded, so a broken file is logged once, not every second. */
  private volatile Stamp reportedBroken;

  public Accounts(Path file, MailStore store) {
    this(file, store, new Passwords(Passwords.DEFAULT_COST));
  }

  public Accounts(Path file, MailStore store, Passwords passwords) {
    this(file, store, passwords, DEFAULT_CHECK_INTERVAL);
  }

  public Accounts(Path file, MailStore store, Passwords passwords, Duration checkInterval) {
    this.file = file.toAbsolutePath().normalize();
    this.lockFile = this.file.resolveSibling(LOCK_FILE);
    this.store = store;
    this.passwords = passwords;
    this.checkIntervalNanos = checkInterval.toNanos();
  }

  public Path file() {
    return file;
  }

  /**
   * Reads the file if it exists and makes sure every account has its mailbox. A file that cannot be
   * parsed stops the start: overwriting it would silently drop accounts.
   */
  public void load() throws IOException {
    tableLock.lock();
    try {
      Version v = read();
      install(v, true);
      nextCheck.set(System.nanoTime() + checkIntervalNanos);
    } finally {
      tableLock.unlock();
    }
    if (dummyHash == null) {
      // Prepared now (on the worker that loads) so that the first failed login is not slower than the rest.
      dummyHash = passwords.hash(Passwords.generate());
    }
    log.info("Loaded {} account(s) from {}", size(), file);
  }

  // ---------------------------------------------------------------- seeing other processes' changes

  /** Whether {@link #refreshIfDue()} would look at the file now; cheap, for the event loop. */
  public boolean checkDue() {
    return System.nanoTime() - nextCheck.get() >= 0;
  }

  /**
   * Reloads the file if it changed, looking at most once per check interval (concurrent callers
   * in between use the loaded table). Blocking (a stat, and a read when it changed); never throws.
   */
  public void refreshIfDue() {
    long due = nextCheck.get();
    long now = System.nanoTime();
    if (now - due < 0 || !nextCheck.compareAndSet(due, now + checkIntervalNanos)) {
      return;
    }
    refresh();
  }

  /**
   * Reloads the file now if its stamp (or, for a recent version, its content) differs from the
   * loaded one. Problems are logged and the loaded table is kept: a file that is missing or cannot
   * be parsed is an operator's mistake, and rejecting all mail for it would be worse.
   *
   * @return whether a different table was installed
   */
  public boolean refresh() {
    if (!tableLock.tryLock()) {
      return false; // this instance is updating the file and will install its newest content
    }
    try {
      Version v = current;
      Stamp stamp;
      try {
        stamp = stamp();
      } catch (IOException e) {
        log.warn("Cannot check {} for changes: {}", file, e.toString());
        return false;
      }
      if (stamp.equals(v.stamp()) && !v.racy()) {
        return false;
      }
      if (stamp.equals(Stamp.ABSENT)) {
        if (!stamp.equals(reportedBroken)) {
          reportedBroken = stamp;
          log.error("Accounts file {} disappeared; keeping the {} account(s) loaded", file, v.table().size());
        }
        return false;
      }
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(file);
      } catch (NoSuchFileException gone) {
        return false; // replaced between stat and read: the next check sees the new one
      }
      byte[] digest = digest(bytes);
      if (Arrays.equals(digest, v.digest())) {
        current = new Version(v.table(), stamp, digest, racy(stamp)); // same content (touched, or racy re-check)
        return false;
      }
      Map<String, Account> table;
      try {
        table = parse(bytes);
      } catch (IOException e) {
        if (!stamp.equals(reportedBroken)) {
          reportedBroken = stamp;
          log.error("Accounts file changed but cannot be loaded; keeping the {} account(s) loaded: {}", v.table().size(), e.getMessage());
        }
        return false;
      }
      Version next = new Version(table, stamp, digest, racy(stamp));
      install(next, false);
      log.info("Reloaded {} changed by another process: {} account(s)", file, table.size());
      return true;
    } catch (IOException | RuntimeException e) {
      log.warn("Cannot reload {}: {}", file, e.toString());
      return false;
    } finally {
      tableLock.unlock();
    }
  }

  // ---------------------------------------------------------------- changes

  /**
   * Creates configured accounts that are missing and updates a stored hash when the configured
   * password no longer matches it. Accounts that are not configured are kept.
   *
   * <p>The bcrypt work is done before taking the lock, against the file as read then; inside the
   * lock each planned change is applied only if that account is still as it was (otherwise it is
   * decided again). The lock is thus held for milliseconds, and not at all when nothing changes.
   */
  public SeedResult seed(List<AccountSeed> seeds) throws IOException {
    record Plan(String address, String password, String seenHash, String newHash) {}
    Map<String, Account> seen = reload().table();
    List<Plan> plans = new ArrayList<>();
    for (AccountSeed s : seeds) {
      String address = MailboxName.of(s.address()).address();
      Account existing = seen.get(address);
      String seenHash = existing == null ? null : existing.passwordHash();
      String newHash = existing == null || !matches(s.password(), seenHash) ? hashFor(s.password()) : null;
      plans.add(new Plan(address, s.password(), seenHash, newHash));
    }
    if (plans.stream().allMatch(p -> p.newHash() == null)) {
      return new SeedResult(List.of(), List.of());
    }
    List<String> created = new ArrayList<>();
    List<String> updated = new ArrayList<>();
    update(table -> {
      for (Plan p : plans) {
        Account cur = table.get(p.address());
        String curHash = cur == null ? null : cur.passwordHash();
        String newHash;
        if (Objects.equals(curHash, p.seenHash())) {
          newHash = p.newHash();
        } else {
          // Another process changed this account since we looked: decide on what is there now.
          newHash = cur == null || !matches(p.password(), curHash) ? hashFor(p.password()) : null;
        }
        if (newHash == null) {
          continue;
        }
        if (cur == null) {
          table.put(p.address(), new Account(p.address(), newHash, Instant.now()));
          created.add(p.address());
        } else {
          table.put(p.address(), new Account(p.address(), newHash, cur.createdAt()));
          updated.add(p.address());
        }
      }
      return null;
    });
    return new SeedResult(created, updated);
  }

  /** A configured hash matches when it is the stored one; a clear password when it verifies. */
  private boolean matches(String configured, String storedHash) {
    return Passwords.isBcryptHash(configured) ? configured.equals(storedHash) : passwords.verify(configured, storedHash);
  }

  private String hashFor(String configured) {
    return Passwords.isBcryptHash(configured) ? configured : passwords.hash(configured);
  }

  /** Creates one account; IllegalStateException if it exists (in the file, whoever created it). */
  public void create(String address, String password) throws IOException {
    String canonical = MailboxName.of(address).address();
    if (password == null || password.isEmpty()) {
      throw new IllegalArgumentException("empty password");
    }
    if (current.table().containsKey(canonical)) {
      throw new IllegalStateException("account exists: " + canonical); // fast path; the lock decides
    }
    String hash = hashFor(password);
    update(table -> {
      if (table.containsKey(canonical)) {
        throw new IllegalStateException("account exists: " + canonical);
      }
      table.put(canonical, new Account(canonical, hash, Instant.now()));
      return null;
    });
  }

  /**
   * Removes one account under the file lock (its mailbox directory is left to the caller: the
   * account table never deletes mail). Returns false if there was no such account.
   */
  public boolean delete(String address) throws IOException {
    String canonical = MailboxName.of(address).address();
    return update(table -> table.remove(canonical) != null);
  }

  /**
   * Replaces the password of an existing account under the file lock; the new one is always hashed
   * (a value that looks like a bcrypt hash is a password here, unlike in the configuration).
   * Returns false if there is no such account.
   */
  public boolean changePassword(String address, String password) throws IOException {
    String canonical = MailboxName.of(address).address();
    if (password == null || password.isEmpty()) {
      throw new IllegalArgumentException("empty password");
    }
    String hash = passwords.hash(password); // outside the lock: bcrypt is the slow part
    return update(table -> {
      Account a = table.get(canonical);
      if (a == null) {
        return false;
      }
      table.put(canonical, new Account(canonical, hash, a.createdAt()));
      return true;
    });
  }

  /**
   * When there is no account at all, creates {@code demo@<domain>} with a random password and
   * returns that password, so a fresh installation can be tried at once. Empty otherwise. The
   * emptiness is decided under the file lock: of several processes starting together on an empty
   * data directory, exactly one creates (and announces) the demo account.
   */
  public Optional<String> createDemoIfEmpty(String domain) throws IOException {
    if (!reload().table().isEmpty()) {
      return Optional.empty();
    }
    String address = MailboxName.of("demo@" + domain).address();
    String password = Passwords.generate();
    String hash = passwords.hash(password); // outside the lock: bcrypt is the slow part
    boolean created = update(table -> {
      if (!table.isEmpty()) {
        return false;
      }
      table.put(address, new Account(address, hash, Instant.now()));
      return true;
    });
    return created ? Optional.of(password) : Optional.empty();
  }

  /**
   * The read-modify-write every change goes through: in-process lock, then the exclusive lock on
   * {@code accounts.lock}; re-read the file; apply the mutation to a copy; if it changed anything,
   * create new mailboxes, then write the file atomically, then install it in memory (an account is
   * never visible without its mailbox). A file that cannot be parsed fails the change instead of
   * being overwritten.
   */
  private <T> T update(Mutation<T> mutation) throws IOException {
    Path dir = file.getParent();
    Files.createDirectories(dir);
    ReentrantLock jvmLock = JVM_LOCKS.computeIfAbsent(dir.toRealPath().resolve(LOCK_FILE), k -> new ReentrantLock());
    tableLock.lock();
    try {
      jvmLock.lock();
      try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        FileLock fileLock = ch.lock(); // waits for other processes; released before the channel closes
        try {
          return updateLocked(mutation);
        } finally {
          fileLock.release();
        }
      } finally {
        jvmLock.unlock();
      }
    } finally {
      tableLock.unlock();
    }
  }

  /** The body of {@link #update}, run while holding every lock. */
  private <T> T updateLocked(Mutation<T> mutation) throws IOException {
    Version before = read();
    Map<String, Account> next = new LinkedHashMap<>(before.table());
    T result = mutation.apply(next);
    if (next.equals(before.table())) {
      install(before, false);
      return result;
    }
    for (String a : next.keySet()) {
      if (!before.table().containsKey(a)) {
        store.createMailbox(MailboxName.of(a));
      }
    }
    byte[] bytes = persist(next);
    // Taken while we still hold the lock, so it is the stamp of exactly what we wrote.
    Stamp stamp = stamp();
    install(new Version(Collections.unmodifiableMap(next), stamp, digest(bytes), racy(stamp)), false);
    return result;
  }

  /** Reads the file strictly (a bad file throws) and installs it; the table as it is now. */
  private Version reload() throws IOException {
    tableLock.lock();
    try {
      Version v = read();
      install(v, true);
      return v;
    } finally {
      tableLock.unlock();
    }
  }

  /**
   * Makes {@code v} the current version. Mailboxes of accounts this instance did not know yet are
   * created (idempotent: normally their creator made them): with {@code strict} a failure throws,
   * otherwise it is logged and the account stays usable for the rest.
   */
  private void install(Version v, boolean strict) {
    Map<String, Account> known = current.table();
    for (String address : v.table().keySet()) {
      if (!known.containsKey(address)) {
        try {
          store.createMailbox(MailboxName.of(address));
        } catch (RuntimeException e) {
          if (strict) {
            throw e;
          }
          log.error("Cannot create the mailbox of {}: {}", address, e.getMessage());
        }
      }
    }
    current = v;
    reportedBroken = null;
  }

  /** The file's stamp taken before its bytes, then its table; a missing file is an empty table. */
  private Version read() throws IOException {
    Stamp stamp = stamp();
    if (stamp.equals(Stamp.ABSENT)) {
      return Version.NONE;
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException gone) {
      return Version.NONE;
    }
    return new Version(parse(bytes), stamp, digest(bytes), racy(stamp));
  }

  private Map<String, Account> parse(byte[] bytes) throws IOException {
    JsonObject root;
    try {
      root = new JsonObject(Buffer.buffer(bytes));
    } catch (DecodeException e) {
      throw new IOException("accounts file " + file + " is not valid JSON: " + e.getMessage(), e);
    }
    Map<String, Account> loaded = new LinkedHashMap<>();
    JsonArray arr;
    try {
      arr = root.getJsonArray("accounts", new JsonArray());
    } catch (ClassCastException e) {
      throw new IOException("accounts file " + file + ": \"accounts\" is not an array", e);
    }
    for (Object o : arr) {
      Account a;
      try {
        a = Account.fromJson((JsonObject) o);
      } catch (RuntimeException e) {
        throw new IOException("accounts file " + file + " has a malformed entry: " + e.getMessage(), e);
      }
      if (a.address() == null || !MailboxName.isValid(a.address()) || !Passwords.isWellFormedHash(a.passwordHash())) {
        throw new IOException("accounts file " + file + " has a malformed entry for " + a.address());
      }
      String canonical = MailboxName.of(a.address()).address();
      loaded.put(canonical, new Account(canonical, a.passwordHash(), a.createdAt()));
    }
    return Collections.unmodifiableMap(loaded);
  }

  private Stamp stamp() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new Stamp(a.lastModifiedTime(), a.size(), a.fileKey());
    } catch (NoSuchFileException e) {
      return Stamp.ABSENT;
    }
  }

  private static boolean racy(Stamp s) {
    if (s.modified() == null) {
      return false;
    }
    // Also true for an mtime in the future: the file server's clock may be ahead of ours.
    return System.currentTimeMillis() - s.modified().toMillis() < RACY_WINDOW.toMillis();
  }

  private static byte[] digest(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is mandatory in every JRE", e);
    }
  }

  /**
   * Write a temporary file, fsync, rename over the old one, fsync the directory. Called only under
   * the file lock, which is why one fixed temporary name is safe (and a crash leftover is simply
   * replaced next time). Returns the bytes written.
   */
  private byte[] persist(Map<String, Account> table) throws IOException {
    JsonArray arr = new JsonArray();
    table.values().forEach(a -> arr.add(a.toJson()));
    byte[] bytes = new JsonObject().put("accounts", arr).encodePrettily().getBytes(StandardCharsets.UTF_8);
    Path dir = file.getParent();
    Path tmp = dir.resolve(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        // Hashes are still secrets worth protecting from other local users.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      }
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
    return bytes;
  }

  // ---------------------------------------------------------------- lookups

  /**
   * Lock-free lookup of the in-memory table; safe on the event loop. At most one check interval
   * behind the file when {@link #refreshIfDue()} runs before it (as {@code MailstoreService} does).
   */
  public boolean exists(String address) {
    return MailboxName.isValid(address) && current.table().containsKey(MailboxName.of(address).address());
  }

  /**
   * Checks a password (blocking, ~200 ms), after {@link #refreshIfDue()} so that an account or
   * password changed by another process counts. An unknown or invalid address is checked against
   * a dummy hash so that the time taken does not reveal whether the account exists.
   *
   * @return the canonical address when the password is right
   */
  public Optional<String> authenticate(String address, String password) {
    refreshIfDue();
    String canonical = address != null && MailboxName.isValid(address) ? MailboxName.of(address).address() : null;
    Account a = canonical == null ? null : current.table().get(canonical);
    String pw = password == null ? "" : password;
    if (a == null) {
      String dummy = dummyHash;
      passwords.verify(pw, dummy != null ? dummy : passwords.hash(pw));
      return Optional.empty();
    }
    return passwords.verify(pw, a.passwordHash()) ? Optional.of(canonical) : Optional.empty();
  }

  public List<String> addresses() {
    return List.copyOf(current.table().keySet());
  }

  public Optional<Account> get(String address) {
    return MailboxName.isValid(address) ? Optional.ofNullable(current.table().get(MailboxName.of(address).address())) : Optional.empty();
  }

  public int size() {
    return current.table().size();
  }
}
