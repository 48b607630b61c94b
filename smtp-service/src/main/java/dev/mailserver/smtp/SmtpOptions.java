package dev.mailserver.smtp;

import dev.mailserver.smtp.protocol.BareLineEndings;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The SMTP service's settings, read from the whole system config:
 * {@code hostname}, {@code domains} and the {@code smtp} section. Missing keys take the defaults below.
 *
 * @param hostname           our name in the greeting, EHLO reply and Received header (default "localhost")
 * @param domains            the local domains, lower-case; mail for any other domain is relaying and refused
 *                           (default none: every recipient is refused)
 * @param host               bind address (default "0.0.0.0")
 * @param port               TCP port, 0 = ephemeral (default 2525)
 * @param maxMessageSize     the largest message accepted, in octets after dot-unstuffing, not counting our
 *                           Received header; advertised as EHLO SIZE (default 26214400)
 * @param maxRecipients      distinct recipients per transaction (default 100, the minimum RFC 5321
 *                           section 4.5.3.1.8 asks servers to buffer)
 * @param bareLineEndings    policy for bare CR/LF inside DATA (default normalize)
 * @param storeTimeoutMs     how long to wait for the mailstore before answering 451 (default 30000)
 * @param idleTimeoutSeconds close an idle connection with 421 after this long (default 300, RFC 5321
 *                           section 4.5.3.2.7)
 * @param shutdownGraceSeconds how long an undeploy waits for open transactions to finish before it
 *                           closes the remaining connections (default 30, 1..3600; see {@link SmtpVerticle#stop()})
 * @param submissionPort     message submission port (RFC 6409), STARTTLS then AUTH; -1 = off, 0 = ephemeral
 *                           (default 2587)
 * @param smtpsPort          submission over implicit TLS (RFC 8314 section 3.3); -1 = off, 0 = ephemeral
 *                           (default 2465)
 * @param allowPlaintextAuth offer and accept AUTH PLAIN/LOGIN on connections without TLS (default false:
 *                           RFC 4954 section 4 and RFC 8314 section 3 want credentials encrypted)
 * @param maxConnections     open connections per verticle instance over all listeners; more get 421 4.7.0
 *                           (default 1000)
 * @param maxConnectionsPerIp open connections per client IP and verticle instance (default 20)
 * @param maxErrors          protocol errors (500-503, 555) before the session is closed with 421 4.7.0
 *                           (default 20, like Postfix's smtpd_hard_error_limit)
 */
public record SmtpOptions(String hostname, List<String> domains, String host, int port, long maxMessageSize,
                          int maxRecipients, BareLineEndings bareLineEndings, long storeTimeoutMs,
                          int idleTimeoutSeconds, int shutdownGraceSeconds, int submissionPort, int smtpsPort,
                          boolean allowPlaintextAuth, int maxConnections, int maxConnectionsPerIp, int maxErrors) {

  public static final String DEFAULT_HOSTNAME = "localhost";
  public static final String DEFAULT_HOST = "0.0.0.0";
  public static final int DEFAULT_PORT = 2525;
  public static final long DEFAULT_MAX_MESSAGE_SIZE = 26_214_400L;
  public static final int DEFAULT_MAX_RECIPIENTS = 100;
  public static final long DEFAULT_STORE_TIMEOUT_MS = 30_000L;
  public static final int DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
  public static final int DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;
  public static final int DEFAULT_SUBMISSION_PORT = 2587;
  public static final int DEFAULT_SMTPS_PORT = 2465;
  public static final int DEFAULT_MAX_CONNECTIONS = 1000;
  public static final int DEFAULT_MAX_CONNECTIONS_PER_IP = 20;
  public static final int DEFAULT_MAX_ERRORS = 20;
  /** A port value that switches a listener off. */
  public static final int OFF = -1;
  /** The launcher's upper bound too: a drain longer than an hour is a hung shutdown, not a grace. */
  public static final int MAX_SHUTDOWN_GRACE_SECONDS = 3600;
  /** Messages are held in one Buffer (int-indexed): leave room for the trace header. */
  public static final long MAX_MESSAGE_SIZE_LIMIT = Integer.MAX_VALUE - 1_048_576L;

  public SmtpOptions {
    if (hostname == null || hostname.isBlank() || !hostname.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException("hostname must be a non-empty ASCII host name, not \"" + hostname + "\"");
    }
    List<String> lower = new ArrayList<>();
    for (String d : domains) {
      if (d == null || d.isBlank() || d.chars().anyMatch(c -> c <= 0x20 || c == '@')) {
        throw new IllegalArgumentException("domains must hold domain names, not \"" + d + "\"");
      }
      lower.add(d.toLowerCase(Locale.ROOT));
    }
    domains = List.copyOf(lower);
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("smtp.host must not be empty");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("smtp.port must be 0..65535, not " + port);
    }
    if (maxMessageSize < 1 || maxMessageSize > MAX_MESSAGE_SIZE_LIMIT) {
      throw new IllegalArgumentException("smtp.maxMessageSize must be 1.." + MAX_MESSAGE_SIZE_LIMIT + ", not " + maxMessageSize);
    }
    if (maxRecipients < 1) {
      throw new IllegalArgumentException("smtp.maxRecipients must be at least 1, not " + maxRecipients);
    }
    if (bareLineEndings == null) {
      throw new IllegalArgumentException("smtp.bareLineEndings must be set");
    }
    if (storeTimeoutMs < 1) {
      throw new IllegalArgumentException("smtp.storeTimeoutMs must be positive, not " + storeTimeoutMs);
    }
    if (idleTimeoutSeconds < 1) {
      throw new IllegalArgumentException("smtp.idleTimeoutSeconds must be positive, not " + idleTimeoutSeconds);
    }
    if (shutdownGraceSeconds < 1 || shutdownGraceSeconds > MAX_SHUTDOWN_GRACE_SECONDS) {
      throw new IllegalArgumentException("smtp.shutdownGraceSeconds must be 1.." + MAX_SHUTDOWN_GRACE_SECONDS
          + ", not " + shutdownGraceSeconds);
    }
    if (submissionPort < OFF || submissionPort > 65535) {
      throw new IllegalArgumentException("smtp.submissionPort must be -1 (off) or 0..65535, not " + submissionPort);
    }
    if (smtpsPort < OFF || smtpsPort > 65535) {
      throw new IllegalArgumentException("smtp.smtpsPort must be -1 (off) or 0..65535, not " + smtpsPort);
    }
    if (submissionPort > 0 && (submissionPort == port || submissionPort == smtpsPort)) {
      throw new IllegalArgumentException("smtp.submissionPort " + submissionPort + " is already used by another SMTP listener");
    }
    if (smtpsPort > 0 && smtpsPort == port) {
      throw new IllegalArgumentException("smtp.smtpsPort " + smtpsPort + " is already used by smtp.port");
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("smtp.maxConnections must be at least 1, not " + maxConnections);
    }
    if (maxConnectionsPerIp < 1) {
      throw new IllegalArgumentException("smtp.maxConnectionsPerIp must be at least 1, not " + maxConnectionsPerIp);
    }
    if (maxErrors < 1) {
      throw new IllegalArgumentException("smtp.maxErrors must be at least 1, not " + maxErrors);
    }
  }

  /** All defaults, for the given host name and local domains. */
  public static SmtpOptions defaults(String hostname, List<String> domains) {
    return new SmtpOptions(hostname, domains, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_MESSAGE_SIZE,
        DEFAULT_MAX_RECIPIENTS, BareLineEndings.NORMALIZE, DEFAULT_STORE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_SECONDS,
        DEFAULT_SHUTDOWN_GRACE_SECONDS, DEFAULT_SUBMISSION_PORT, DEFAULT_SMTPS_PORT, false, DEFAULT_MAX_CONNECTIONS,
        DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_ERRORS);
  }

  /**
   * Reads the whole system config ({@code hostname}, {@code domains}, {@code smtp.*}); other sections
   * are ignored. Throws IllegalArgumentException naming the key on a missing-type or out-of-range value.
   */
  public static SmtpOptions fromConfig(JsonObject config) {
    JsonObject root = config == null ? new JsonObject() : config;
    Object smtpSection = root.getValue("smtp");
    if (smtpSection != null && !(smtpSection instanceof JsonObject)) {
      throw new IllegalArgumentException("smtp must be an object");
    }
    JsonObject smtp = smtpSection == null ? new JsonObject() : (JsonObject) smtpSection;
    return new SmtpOptions(
        string(root, "hostname", "hostname", DEFAULT_HOSTNAME),
        domains(root),
        string(smtp, "host", "smtp.host", DEFAULT_HOST),
        intNumber(smtp, "port", "smtp.port", DEFAULT_PORT),
        number(smtp, "maxMessageSize", "smtp.maxMessageSize", DEFAULT_MAX_MESSAGE_SIZE),
        intNumber(smtp, "maxRecipients", "smtp.maxRecipients", DEFAULT_MAX_RECIPIENTS),
        BareLineEndings.parse(string(smtp, "bareLineEndings", "smtp.bareLineEndings", "normalize")),
        number(smtp, "storeTimeoutMs", "smtp.storeTimeoutMs", DEFAULT_STORE_TIMEOUT_MS),
        intNumber(smtp, "idleTimeoutSeconds", "smtp.idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT_SECONDS),
        intNumber(smtp, "shutdownGraceSeconds", "smtp.shutdownGraceSeconds", DEFAULT_SHUTDOWN_GRACE_SECONDS),
        intNumber(smtp, "submissionPort", "smtp.submissionPort", DEFAULT_SUBMISSION_PORT),
        intNumber(smtp, "smtpsPort", "smtp.smtpsPort", DEFAULT_SMTPS_PORT),
        bool(smtp, "allowPlaintextAuth", "smtp.allowPlaintextAuth", false),
        intNumber(smtp, "maxConnections", "smtp.maxConnections", DEFAULT_MAX_CONNECTIONS),
        intNumber(smtp, "maxConnectionsPerIp", "smtp.maxConnectionsPerIp", DEFAULT_MAX_CONNECTIONS_PER_IP),
        intNumber(smtp, "maxErrors", "smtp.maxErrors", DEFAULT_MAX_ERRORS));
  }

  /** Whether mail for this domain is ours (case-insensitive, RFC 5321 section 2.4). */
  public boolean isLocalDomain(String domain) {
    return domain != null && domains.contains(domain.toLowerCase(Locale.ROOT));
  }

  private static List<String> domains(JsonObject root) {
    Object v = root.getValue("domains");
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof JsonArray arr)) {
      throw new IllegalArgumentException("domains must be an array of domain names");
    }
    List<String> out = new ArrayList<>();
    for (Object o : arr) {
      if (!(o instanceof String s)) {
        throw new IllegalArgumentException("domains must hold strings, not " + o);
      }
      out.add(s);
    }
    return out;
  }

  private static String string(JsonObject o, String key, String name, String dflt) {
    Object v = o.getValue(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException(name + " must be a string, not " + v);
    }
    return s;
  }

  private static boolean bool(JsonObject o, String key, String name, boolean dflt) {
    Object v = o.getValue(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Boolean b)) {
      throw new IllegalArgumentException(name + " must be true or false, not " + v);
    }
    return b;
  }

  private static int intNumber(JsonObject o, String key, String name, int dflt) {
    long v = number(o, key, name, dflt);
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + " is out of range: " + v);
    }
    return (int) v;
  }

  private static long number(JsonObject o, String key, String name, long dflt) {
    Object v = o.getValue(key);
    if (v == null) {
      return dflt;
    }
    if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
      return n.longValue();
    }
    throw new IllegalArgumentException(name + " must be an integer, not " + v);
  }
}
