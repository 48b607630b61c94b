package dev.mailserver.pop3;

import io.vertx.core.json.JsonObject;

/**
 * Settings of the POP3 service, read from the whole system configuration:
 * {@code hostname} (top level, used in the greeting) and the {@code pop3} section.
 *
 * @param hostname           name in the greeting and sign-off lines
 * @param host               interface to bind
 * @param port               TCP port; 0 picks an ephemeral one
 * @param storeTimeoutMs     timeout of every mailstore request on the event bus
 * @param idleTimeoutSeconds inactivity after which the connection is closed without UPDATE
 * @param lockLeaseSeconds   lease of the maildrop lock ({@link MaildropLock}): renewed every third of
 *                           it while the session lives; after a node dies its maildrops come free
 *                           within this long
 */
public record Pop3Options(String hostname, String host, int port, long storeTimeoutMs, int idleTimeoutSeconds,
                          int lockLeaseSeconds) {

  public static final String DEFAULT_HOSTNAME = "localhost";
  public static final String DEFAULT_HOST = "0.0.0.0";
  public static final int DEFAULT_PORT = 2110;
  public static final long DEFAULT_STORE_TIMEOUT_MS = 30_000;
  /** RFC 1939 section 3: an inactivity autologout timer must be at least 10 minutes. */
  public static final int DEFAULT_IDLE_TIMEOUT_SECONDS = 600;
  /**
   * RFC 1939 section 8 lock as a lease: long enough that renewing every 10 s costs nothing, short
   * enough that a user whose POP3 node crashed is not locked out of the maildrop for long.
   */
  public static final int DEFAULT_LOCK_LEASE_SECONDS = 30;
  /** Same bound as the launcher's config validation. */
  public static final int MAX_LOCK_LEASE_SECONDS = 3_600;

  public Pop3Options {
    if (hostname == null || hostname.isBlank() || hostname.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
      throw new IllegalArgumentException("hostname must be a non-empty name without spaces or control characters, got " + hostname);
    }
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("pop3.host must be a non-empty interface address, got " + host);
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("pop3.port must be in 0..65535 (0 = ephemeral), got " + port);
    }
    if (storeTimeoutMs <= 0) {
      throw new IllegalArgumentException("pop3.storeTimeoutMs must be positive, got " + storeTimeoutMs);
    }
    if (idleTimeoutSeconds <= 0) {
      throw new IllegalArgumentException("pop3.idleTimeoutSeconds must be positive, got " + idleTimeoutSeconds);
    }
    if (lockLeaseSeconds < 1 || lockLeaseSeconds > MAX_LOCK_LEASE_SECONDS) {
      throw new IllegalArgumentException("pop3.lockLeaseSeconds must be in 1.." + MAX_LOCK_LEASE_SECONDS + ", got "
          + lockLeaseSeconds);
    }
  }

  /** The lease in milliseconds, as the lease map's TTL wants it. */
  public long lockLeaseMs() {
    return lockLeaseSeconds * 1_000L;
  }

  public static Pop3Options defaults() {
    return fromConfig(new JsonObject());
  }

  /** Reads the whole system config; missing keys take the defaults; wrong types or ranges throw IllegalArgumentException. */
  public static Pop3Options fromConfig(JsonObject config) {
    JsonObject root = config == null ? new JsonObject() : config;
    Object section = root.getValue("pop3");
    if (section != null && !(section instanceof JsonObject)) {
      throw new IllegalArgumentException("pop3 must be a JSON object, got " + section);
    }
    JsonObject pop3 = section == null ? new JsonObject() : (JsonObject) section;
    return new Pop3Options(
        string(root, "hostname", "hostname", DEFAULT_HOSTNAME),
        string(pop3, "host", "pop3.host", DEFAULT_HOST),
        (int) integer(pop3, "port", "pop3.port", DEFAULT_PORT, Integer.MIN_VALUE, Integer.MAX_VALUE),
        integer(pop3, "storeTimeoutMs", "pop3.storeTimeoutMs", DEFAULT_STORE_TIMEOUT_MS, Long.MIN_VALUE, Long.MAX_VALUE),
        (int) integer(pop3, "idleTimeoutSeconds", "pop3.idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT_SECONDS,
            Integer.MIN_VALUE, Integer.MAX_VALUE),
        (int) integer(pop3, "lockLeaseSeconds", "pop3.lockLeaseSeconds", DEFAULT_LOCK_LEASE_SECONDS,
            Integer.MIN_VALUE, Integer.MAX_VALUE));
  }

  private static String string(JsonObject o, String key, String path, String def) {
    Object v = o.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException(path + " must be a string, got " + v);
    }
    return s;
  }

  private static long integer(JsonObject o, String key, String path, long def, long min, long max) {
    Object v = o.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte)) {
      throw new IllegalArgumentException(path + " must be an integer, got " + v);
    }
    long l = ((Number) v).longValue();
    if (l < min || l > max) {
      throw new IllegalArgumentException(path + " is out of range: " + v);
    }
    return l;
  }
}
