package dev.mailserver.pop3;

import io.vertx.core.json.JsonObject;

/**
 * Settings of the POP3 service, read from the whole system configuration:
 * {@code hostname} (top level, used in the greeting), the {@code pop3} section and
 * {@code tls.enabled} (the certificate itself is loaded by the verticle through
 * {@code TlsSupport}, which may block; this record stays a pure value).
 *
 * @param hostname            name in the greeting and sign-off lines
 * @param host                interface to bind
 * @param port                TCP port of the plain listener (STLS when TLS is enabled); 0 picks an
 *                            ephemeral one
 * @param pop3sPort           implicit-TLS port (RFC 8314 section 3.3, "POP3S"); -1 turns it off, 0 picks an
 *                            ephemeral one; ignored when TLS is disabled
 * @param storeTimeoutMs      timeout of every mailstore request on the event bus
 * @param idleTimeoutSeconds  inactivity after which the connection is closed without UPDATE
 * @param lockLeaseSeconds    lease of the maildrop lock ({@link MaildropLock}): renewed every third of
 *                            it while the session lives; after a node dies its maildrops come free
 *                            within this long
 * @param allowPlaintextAuth  accept USER/PASS and AUTH PLAIN on a connection without TLS (RFC 2595
 *                            section 2.1 asks servers to be configurable to refuse them; off by default)
 * @param maxConnections      open connections per deployment (both listeners together)
 * @param maxConnectionsPerIp open connections per client address
 * @param maxErrors           bad commands (unknown, wrong state, syntax, over-long lines, bad SASL data)
 *                            after which the session is closed
 * @param tlsEnabled          {@code tls.enabled}: when false there is neither STLS nor a POP3S listener
 */
public record Pop3Options(String hostname, String host, int port, int pop3sPort, long storeTimeoutMs,
                          int idleTimeoutSeconds, int lockLeaseSeconds, boolean allowPlaintextAuth,
                          int maxConnections, int maxConnectionsPerIp, int maxErrors, boolean tlsEnabled) {

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
  /** RFC 8314 section 3.3 names 995; the unprivileged default mirrors 2110 for 110. */
  public static final int DEFAULT_POP3S_PORT = 2995;
  public static final int DEFAULT_MAX_CONNECTIONS = 1_000;
  public static final int DEFAULT_MAX_CONNECTIONS_PER_IP = 20;
  public static final int DEFAULT_MAX_ERRORS = 20;
  /** Same bounds as the launcher's config validation. */
  public static final int MAX_CONNECTIONS_LIMIT = 1_000_000;
  public static final int MAX_ERRORS_LIMIT = 10_000;

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
    if (pop3sPort < -1 || pop3sPort > 65_535) {
      throw new IllegalArgumentException("pop3.pop3sPort must be in -1..65535 (-1 = off, 0 = ephemeral), got " + pop3sPort);
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
    if (maxConnections < 1 || maxConnections > MAX_CONNECTIONS_LIMIT) {
      throw new IllegalArgumentException("pop3.maxConnections must be in 1.." + MAX_CONNECTIONS_LIMIT + ", got " + maxConnections);
    }
    if (maxConnectionsPerIp < 1 || maxConnectionsPerIp > MAX_CONNECTIONS_LIMIT) {
      throw new IllegalArgumentException("pop3.maxConnectionsPerIp must be in 1.." + MAX_CONNECTIONS_LIMIT + ", got "
          + maxConnectionsPerIp);
    }
    if (maxErrors < 1 || maxErrors > MAX_ERRORS_LIMIT) {
      throw new IllegalArgumentException("pop3.maxErrors must be in 1.." + MAX_ERRORS_LIMIT + ", got " + maxErrors);
    }
  }

  /** The POP3S listener is wanted: TLS on and a port given. */
  public boolean pop3sEnabled() {
    return tlsEnabled && pop3sPort >= 0;
  }

  /** USER/PASS and AUTH PLAIN may run on this connection (RFC 2595 section 2.1). */
  public boolean plaintextAuthAllowed(boolean tlsActive) {
    return tlsActive || allowPlaintextAuth;
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
    Object tlsSection = root.getValue("tls");
    if (tlsSection != null && !(tlsSection instanceof JsonObject)) {
      throw new IllegalArgumentException("tls must be a JSON object, got " + tlsSection);
    }
    JsonObject tls = tlsSection == null ? new JsonObject() : (JsonObject) tlsSection;
    return new Pop3Options(
        string(root, "hostname", "hostname", DEFAULT_HOSTNAME),
        string(pop3, "host", "pop3.host", DEFAULT_HOST),
        int32(pop3, "port", "pop3.port", DEFAULT_PORT),
        int32(pop3, "pop3sPort", "pop3.pop3sPort", DEFAULT_POP3S_PORT),
        integer(pop3, "storeTimeoutMs", "pop3.storeTimeoutMs", DEFAULT_STORE_TIMEOUT_MS, Long.MIN_VALUE, Long.MAX_VALUE),
        int32(pop3, "idleTimeoutSeconds", "pop3.idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT_SECONDS),
        int32(pop3, "lockLeaseSeconds", "pop3.lockLeaseSeconds", DEFAULT_LOCK_LEASE_SECONDS),
        bool(pop3, "allowPlaintextAuth", "pop3.allowPlaintextAuth", false),
        int32(pop3, "maxConnections", "pop3.maxConnections", DEFAULT_MAX_CONNECTIONS),
        int32(pop3, "maxConnectionsPerIp", "pop3.maxConnectionsPerIp", DEFAULT_MAX_CONNECTIONS_PER_IP),
        int32(pop3, "maxErrors", "pop3.maxErrors", DEFAULT_MAX_ERRORS),
        bool(tls, "enabled", "tls.enabled", true));
  }

  private static int int32(JsonObject o, String key, String path, int def) {
    return (int) integer(o, key, path, def, Integer.MIN_VALUE, Integer.MAX_VALUE);
  }

  private static boolean bool(JsonObject o, String key, String path, boolean def) {
    Object v = o.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw new IllegalArgumentException(path + " must be true or false, got " + v);
    }
    return b;
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
