package dev.mailserver.pop3;

import dev.mailserver.common.metrics.Meters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The POP3 service's meters, registered once per verticle on the process registry
 * ({@link Meters#registry}). Prometheus shows {@code .} as {@code _} and counters with {@code _total}:
 *
 * <ul>
 *   <li>{@value #SESSIONS} (counter) and {@value #SESSIONS_ACTIVE} (gauge): connections accepted, open now.</li>
 *   <li>{@value #SESSIONS_ENDED} (counter, tag {@code outcome}: quit, timeout, disconnect, shutdown,
 *       lock_lost, errors (closed after {@code pop3.maxErrors} bad commands)).</li>
 *   <li>{@value #CONNECTIONS_REJECTED} (counter, tag {@code reason}: total, per_ip): connections
 *       refused by {@code pop3.maxConnections} / {@code pop3.maxConnectionsPerIp}.</li>
 *   <li>{@value #LOGINS} (counter, tag {@code result}: success; or the failure: auth (wrong user or
 *       password), in_use (maildrop locked by another session), temp (store or lock map unavailable),
 *       perm (store refused), aborted (the client left during the login), locked (refused by the
 *       login throttle without a password check)).</li>
 *   <li>{@value #LOCK_CONFLICTS} (counter): logins refused [IN-USE]; {@value #LOCK_LOST} (counter):
 *       sessions that lost their maildrop lease.</li>
 *   <li>{@value #RETRIEVALS} (counter, tag {@code command}: retr, top) and {@value #RETRIEVED}
 *       (counter, bytes, same tag): messages sent and their octets (before byte-stuffing).</li>
 *   <li>{@value #DELETIONS} (counter): messages removed in UPDATE (after QUIT).</li>
 * </ul>
 *
 * Thread-safe; shared by all sessions of a verticle.
 */
public final class Pop3Metrics {

  public static final String SESSIONS = "mail.pop3.sessions";
  public static final String SESSIONS_ACTIVE = "mail.pop3.sessions.active";
  public static final String SESSIONS_ENDED = "mail.pop3.sessions.ended";
  public static final String LOGINS = "mail.pop3.logins";
  public static final String LOCK_CONFLICTS = "mail.pop3.lock.conflicts";
  public static final String LOCK_LOST = "mail.pop3.lock.lost";
  public static final String RETRIEVALS = "mail.pop3.retrievals";
  public static final String RETRIEVED = "mail.pop3.retrieved";
  public static final String DELETIONS = "mail.pop3.deletions";
  public static final String CONNECTIONS_REJECTED = "mail.pop3.connections.rejected";

  /** How a session ended; the tag value is the lower-case name. */
  public enum Outcome {
    /** QUIT answered (UPDATE ran if the session was logged in). */
    QUIT,
    /** No command for {@code pop3.idleTimeoutSeconds}: closed without UPDATE (RFC 1939 section 3). */
    TIMEOUT,
    /** The client closed the connection (or it broke) without QUIT. */
    DISCONNECT,
    /** The service stopped: {@code -ERR [SYS/TEMP] server shutting down}, or cut at the end of the grace. */
    SHUTDOWN,
    /** The maildrop lease was lost: closed without UPDATE. */
    LOCK_LOST,
    /** Closed after {@code pop3.maxErrors} bad commands, without UPDATE. */
    ERRORS;

    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Login results; the tag value is the lower-case name. */
  public enum Login {
    SUCCESS, AUTH, IN_USE, TEMP, PERM, ABORTED, LOCKED;

    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Counter sessions;
  private final AtomicLong active;
  private final Map<Outcome, Counter> ended = new EnumMap<>(Outcome.class);
  private final Map<Login, Counter> logins = new EnumMap<>(Login.class);
  private final Counter lockConflicts;
  private final Counter lockLost;
  private final Counter retr;
  private final Counter top;
  private final Counter retrBytes;
  private final Counter topBytes;
  private final Counter deletions;
  private final Counter rejectedTotal;
  private final Counter rejectedPerIp;

  public Pop3Metrics(MeterRegistry registry) {
    sessions = Counter.builder(SESSIONS).description("POP3 connections accepted").register(registry);
    active = Meters.upDown(registry, SESSIONS_ACTIVE, "POP3 connections open now");
    for (Outcome o : Outcome.values()) {
      ended.put(o, Counter.builder(SESSIONS_ENDED).description("POP3 sessions ended, by how")
          .tag("outcome", o.tag()).register(registry));
    }
    for (Login l : Login.values()) {
      logins.put(l, Counter.builder(LOGINS).description("POP3 PASS attempts, by result")
          .tag("result", l.tag()).register(registry));
    }
    lockConflicts = Counter.builder(LOCK_CONFLICTS).description("POP3 logins refused because the maildrop was locked")
        .register(registry);
    lockLost = Counter.builder(LOCK_LOST).description("POP3 sessions that lost their maildrop lease").register(registry);
    retr = retrievals(registry, "retr");
    top = retrievals(registry, "top");
    retrBytes = retrieved(registry, "retr");
    topBytes = retrieved(registry, "top");
    deletions = Counter.builder(DELETIONS).description("Messages removed in POP3 UPDATE").register(registry);
    rejectedTotal = Counter.builder(CONNECTIONS_REJECTED).description("POP3 connections refused by a connection limit")
        .tag("reason", "total").register(registry);
    rejectedPerIp = Counter.builder(CONNECTIONS_REJECTED).description("POP3 connections refused by a connection limit")
        .tag("reason", "per_ip").register(registry);
  }

  void connectionRejected(boolean perIp) {
    (perIp ? rejectedPerIp : rejectedTotal).increment();
  }

  /** Meters nobody reads (handlers built outside a verticle, in unit tests). */
  public static Pop3Metrics detached() {
    return new Pop3Metrics(new SimpleMeterRegistry());
  }

  private static Counter retrievals(MeterRegistry registry, String command) {
    return Counter.builder(RETRIEVALS).description("Messages sent by RETR and TOP").tag("command", command).register(registry);
  }

  private static Counter retrieved(MeterRegistry registry, String command) {
    return Counter.builder(RETRIEVED).description("Octets of messages sent by RETR and TOP, before byte-stuffing")
        .baseUnit("bytes").tag("command", command).register(registry);
  }

  void sessionOpened() {
    sessions.increment();
    active.incrementAndGet();
  }

  void sessionEnded(Outcome outcome) {
    active.decrementAndGet();
    ended.get(outcome).increment();
  }

  void login(Login result) {
    logins.get(result).increment();
    if (result == Login.IN_USE) {
      lockConflicts.increment();
    }
  }

  void lockLost() {
    lockLost.increment();
  }

  void retrieved(boolean isTop, long bytes) {
    (isTop ? top : retr).increment();
    (isTop ? topBytes : retrBytes).increment(bytes);
  }

  void deleted(int n) {
    deletions.increment(n);
  }
}
