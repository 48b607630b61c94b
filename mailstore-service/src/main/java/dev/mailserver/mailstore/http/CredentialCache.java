package dev.mailserver.mailstore.http;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Remembers recently verified Basic credentials so that a client polling the API does not cost a
 * bcrypt (~200 ms of CPU on a two-thread pool) per request. Entries are keyed by HMAC-SHA256 of
 * address and password under a random per-process key: neither the password nor a hash that could
 * be attacked offline is kept in memory. Entries live {@code ttl} (60 s by default); a password
 * change or account deletion through this API drops the account's entries at once (a change made
 * by another instance is noticed when the entry expires). Bounded, least recently used evicted.
 * Thread-safe.
 */
final class CredentialCache {

  private record Entry(String canonical, long expiresAt) {}

  private final long ttlMillis;
  private final LongSupplier clockMillis;
  private final SecretKeySpec key;
  private final Map<String, Entry> entries;

  CredentialCache(Duration ttl, int maxEntries) {
    this(ttl, maxEntries, () -> System.nanoTime() / 1_000_000);
  }

  CredentialCache(Duration ttl, int maxEntries, LongSupplier clockMillis) {
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
  synchronized String get(String address, String password) {
    if (ttlMillis <= 0) {
      return null;
    }
    String k = key(address, password);
    Entry e = entries.get(k);
    if (e == null) {
      return null;
    }
    if (e.expiresAt() - clockMillis.getAsLong() <= 0) {
      entries.remove(k);
      return null;
    }
    return e.canonical();
  }

  synchronized void put(String address, String password, String canonical) {
    if (ttlMillis > 0) {
      entries.put(key(address, password), new Entry(canonical, clockMillis.getAsLong() + ttlMillis));
    }
  }

  /** Forgets every entry of the account (password changed, account deleted). */
  synchronized void invalidate(String canonical) {
    for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
      if (it.next().canonical().equals(canonical)) {
        it.remove();
      }
    }
  }

  synchronized int size() {
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
