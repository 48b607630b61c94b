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
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mail accounts: address, bcrypt hash, creation time, persisted in {@code accounts.json}. Reads
 * ({@link #exists}) are lock-free and safe on the event loop; everything that hashes or writes the
 * file blocks and belongs on a worker. One process owns the file: do not run two mailstores on the
 * same data directory with different account configurations.
 */
public final class Accounts {
  private static final Logger log = LoggerFactory.getLogger(Accounts.class);

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

  private final Path file;
  private final MailStore store;
  private final Passwords passwords;
  /** Replaced wholesale on every change (copy on write), so readers never see a half-updated table. */
  private volatile Map<String, Account> accounts = Map.of();
  private volatile String dummyHash;

  public Accounts(Path file, MailStore store) {
    this(file, store, new Passwords(Passwords.DEFAULT_COST));
  }

  public Accounts(Path file, MailStore store, Passwords passwords) {
    this.file = file.toAbsolutePath();
    this.store = store;
    this.passwords = passwords;
  }

  public Path file() {
    return file;
  }

  /**
   * Reads the file if it exists and makes sure every account has its mailbox. A file that cannot be
   * parsed stops the start: overwriting it would silently drop accounts.
   */
  public synchronized void load() throws IOException {
    Map<String, Account> loaded = new LinkedHashMap<>();
    if (Files.exists(file)) {
      JsonObject root;
      try {
        root = new JsonObject(Buffer.buffer(Files.readAllBytes(file)));
      } catch (DecodeException e) {
        throw new IOException("accounts file " + file + " is not valid JSON: " + e.getMessage(), e);
      }
      for (Object o : root.getJsonArray("accounts", new JsonArray())) {
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
    }
    for (String address : loaded.keySet()) {
      store.createMailbox(MailboxName.of(address));
    }
    accounts = Collections.unmodifiableMap(loaded);
    // Prepared now (on the worker that loads) so that the first failed login is not slower than the rest.
    dummyHash = passwords.hash(Passwords.generate());
    log.info("Loaded {} account(s) from {}", loaded.size(), file);
  }

  /**
   * Creates configured accounts that are missing and updates a stored hash when the configured
   * password no longer matches it. Accounts that are not configured are kept.
   */
  public synchronized SeedResult seed(List<AccountSeed> seeds) throws IOException {
    Map<String, Account> next = new LinkedHashMap<>(accounts);
    List<String> created = new ArrayList<>();
    List<String> updated = new ArrayList<>();
    for (AccountSeed s : seeds) {
      String address = MailboxName.of(s.address()).address();
      Account existing = next.get(address);
      if (existing == null) {
        next.put(address, new Account(address, hashFor(s.password()), Instant.now()));
        created.add(address);
      } else if (!matches(s.password(), existing.passwordHash())) {
        next.put(address, new Account(address, hashFor(s.password()), existing.createdAt()));
        updated.add(address);
      }
    }
    if (!created.isEmpty() || !updated.isEmpty()) {
      commit(next, created);
    }
    return new SeedResult(created, updated);
  }

  /** A configured hash matches when it is the stored one; a clear password when it verifies. */
  private boolean matches(String configured, String storedHash) {
    return Passwords.isBcryptHash(configured) ? configured.equals(storedHash) : passwords.verify(configured, storedHash);
  }

  private String hashFor(String configured) {
    return Passwords.isBcryptHash(configured) ? configured : passwords.hash(configured);
  }

  /** Creates one account; IllegalStateException if it exists. */
  public synchronized void create(String address, String password) throws IOException {
    String canonical = MailboxName.of(address).address();
    if (accounts.containsKey(canonical)) {
      throw new IllegalStateException("account exists: " + canonical);
    }
    if (password == null || password.isEmpty()) {
      throw new IllegalArgumentException("empty password");
    }
    Map<String, Account> next = new LinkedHashMap<>(accounts);
    next.put(canonical, new Account(canonical, hashFor(password), Instant.now()));
    commit(next, List.of(canonical));
  }

  /**
   * When there is no account at all, creates {@code demo@<domain>} with a random password and
   * returns that password, so a fresh installation can be tried at once. Empty otherwise.
   */
  public synchronized Optional<String> createDemoIfEmpty(String domain) throws IOException {
    if (!accounts.isEmpty()) {
      return Optional.empty();
    }
    String password = Passwords.generate();
    create("demo@" + domain, password);
    return Optional.of(password);
  }

  /** Mailboxes first, then the file, then the in-memory table: an account is never visible without its mailbox. */
  private void commit(Map<String, Account> next, List<String> createdAddresses) throws IOException {
    for (String a : createdAddresses) {
      store.createMailbox(MailboxName.of(a));
    }
    persist(next);
    accounts = Collections.unmodifiableMap(next);
  }

  /** Write a temporary file, fsync, rename over the old one, fsync the directory. */
  private void persist(Map<String, Account> table) throws IOException {
    JsonArray arr = new JsonArray();
    table.values().forEach(a -> arr.add(a.toJson()));
    byte[] bytes = new JsonObject().put("accounts", arr).encodePrettily().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Path dir = file.getParent();
    Files.createDirectories(dir);
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
  }

  /** Lock-free lookup of the in-memory table; safe on the event loop. */
  public boolean exists(String address) {
    return MailboxName.isValid(address) && accounts.containsKey(MailboxName.of(address).address());
  }

  /**
   * Checks a password (blocking, ~200 ms). An unknown or invalid address is checked against a dummy
   * hash so that the time taken does not reveal whether the account exists.
   *
   * @return the canonical address when the password is right
   */
  public Optional<String> authenticate(String address, String password) {
    String canonical = address != null && MailboxName.isValid(address) ? MailboxName.of(address).address() : null;
    Account a = canonical == null ? null : accounts.get(canonical);
    String pw = password == null ? "" : password;
    if (a == null) {
      String dummy = dummyHash;
      passwords.verify(pw, dummy != null ? dummy : passwords.hash(pw));
      return Optional.empty();
    }
    return passwords.verify(pw, a.passwordHash()) ? Optional.of(canonical) : Optional.empty();
  }

  public List<String> addresses() {
    return List.copyOf(accounts.keySet());
  }

  public Optional<Account> get(String address) {
    return MailboxName.isValid(address) ? Optional.ofNullable(accounts.get(MailboxName.of(address).address())) : Optional.empty();
  }

  public int size() {
    return accounts.size();
  }
}
