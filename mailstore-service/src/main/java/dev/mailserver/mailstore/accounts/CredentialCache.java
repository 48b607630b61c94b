package dev.mailserver.mailstore.accounts;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.LongSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Remembers recently verified credentials so that a POP3/SMTP login or an HTTP Basic request does
 * not cost a bcrypt (~200 ms of CPU on a two-thread pool) each time; used by
 * {@code MailstoreService.authenticate}, so bus and HTTP logins share it. Entries are keyed by
 * HMAC-SHA256 of address and password under a random per-process key: neither the password nor a
 * hash that could be attacked offline is kept in memory. Only successes are stored. Entries live
 * {@code ttl} (60 s by default); a password change or account deletion through this process drops
 * the account's entries at once (a change made by another instance is noticed when the entry
 * expires). A check that began before such a drop cannot put its (now stale) result back: see
 * {@link #epoch()}. Bounded, least recently used evicted. Thread-safe.
 */
public final class CredentialCache {

  public static final Duration DEFAULT_TTL = Duration.ofSeconds(60);
  public static final int DEFAULT_MAX_ENTRIES = 10_000;

  /** {@code version}: what the credentials were verified against (the password hash), or null. */
  private record Entry(String canonical, String version, long expiresAt) {}

  private final long ttlMillis;
  private final LongSupplier clockMillis;
  private final SecretKeySpec key;
  private final Map<String, Entry> entries;
  /** Incremented by every {@link #invalidate}. */
  private long epoch;

  public CredentialCache(Duration ttl, int maxEntries) {
    this(ttl, maxEntries, () -> System.nanoTime() / 1_000_000);
  }

  public CredentialCache(Duration ttl, int maxEntries, LongSupplier clockMillis) {
    this.ttlMillis = ttl.toMillis();
    this.clockMillis = clockMillis;
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    this.key = new SecretKeySpec(k, "HmacSHA256");
    this.entries = new LinkedHashMap<>(64, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
        return size() > maxEntries;
      }
    };
  }

  /** The canonical address when these exact credentials were verified less than ttl ago; else null. */
  public synchronized String get(String address, String password) {
    return get(address, password, null);
  }

  /**
   * Like {@link #get(String, String)}, and only while {@code currentVersion} (canonical address to
   * the account's current password hash, null if gone) still gives the version stored with the
   * entry: so a change another process made is honoured as soon as the account table has it.
   */
  public synchronized String get(String address, String password, Function<String, String> currentVersion) {
    if (ttlMillis <= 0) {
      return null;
    }
    String k = key(address, password);
    Entry e = entries.get(k);
    if (e == null) {
      return null;
    }
    if (e.expiresAt() - clockMillis.getAsLong() <= 0
        || currentVersion != null && !Objects.equals(currentVersion.apply(e.canonical()), e.version())) {
      entries.remove(k);
      return null;
    }
    return e.canonical();
  }

  /** Stores a verified success, unconditionally (the caller knows no invalidation can have raced it). */
  public synchronized void put(String address, String password, String canonical) {
    if (ttlMillis > 0) {
      entries.put(key(address, password), new Entry(canonical, null, clockMillis.getAsLong() + ttlMillis));
    }
  }

  /**
   * The invalidation counter: read it before starting a password check and hand it to
   * {@link #put(String, String, String, long)}, so a check that overlapped a password change or
   * account deletion does not cache the credentials that change just revoked.
   */
  public synchronized long epoch() {
    return epoch;
  }

  /**
   * Stores a verified success, with the version (password hash) it was verified against, unless an
   * invalidation happened since {@code epochAtStart}.
   */
  public synchronized void put(String address, String password, String canonical, String version, long epochAtStart) {
    if (ttlMillis > 0 && epoch == epochAtStart) {
      entries.put(key(address, password), new Entry(canonical, version, clockMillis.getAsLong() + ttlMillis));
    }
  }

  /** Forgets every entry of the account (password changed, account deleted). */
  public synchronized void invalidate(String canonical) {
    epoch++;
    for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
      if (it.next().canonical().equals(canonical)) {
        it.remove();
      }
    }
  }

  public synchronized int size() {
    return entries.size();
  }

  private String key(String address, String password) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      mac.update(address.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
      mac.update((byte) 0);
      return Base64.getEncoder().encodeToString(mac.doFinal(password.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is mandatory in every JRE", e);
    }
  }
}
