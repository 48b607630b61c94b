package dev.mailserver.smtp;

import dev.mailserver.common.metrics.Meters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The SMTP service's meters, registered once per verticle on the process registry
 * ({@link Meters#registry}). Names as Micrometer writes them; Prometheus shows {@code .} as
 * {@code _}, counters with {@code _total}, and base units ({@code _seconds}, {@code _bytes}):
 *
 * <ul>
 *   <li>{@value #SESSIONS} (counter): connections accepted.</li>
 *   <li>{@value #SESSIONS_ACTIVE} (gauge): connections open now.</li>
 *   <li>{@value #SESSIONS_ENDED} (counter, tag {@code outcome}: quit, timeout, disconnect, shutdown,
 *       too_many_errors).</li>
 *   <li>{@value #MESSAGES_ACCEPTED} (counter): messages the store confirmed (each answered 250).</li>
 *   <li>{@value #MESSAGE_SIZE} (summary, bytes): size of each accepted message as received (before
 *       our Received header); its sum is the bytes received in accepted messages.</li>
 *   <li>{@value #REPLIES} (counter, tag {@code class}: 2xx, 3xx, 4xx, 5xx): every reply sent, the
 *       greeting included.</li>
 *   <li>{@value #REJECTIONS} (counter, tag {@code code}: the three-digit reply code): every 4xx/5xx
 *       reply. Codes are our own canned replies, so the tag has a handful of values.</li>
 *   <li>{@value #ACK_LATENCY} (timer with histogram buckets from 1 ms to 30 s, for
 *       {@code histogram_quantile} over any number of processes; tag {@code result}:
 *       stored, failed): from the end of DATA (the final dot) to writing the reply that answers it,
 *       i.e. the mailstore round trip. Only messages that went to the store count.</li>
 *   <li>{@value #AUTH} (counter, tag {@code result}: success, failure, locked, unavailable): AUTH
 *       attempts that reached a verdict (cancelled or malformed exchanges are not counted).</li>
 *   <li>{@value #TLS} (counter, tag {@code mode}: starttls, implicit): TLS sessions established.</li>
 *   <li>{@value #CONNECTIONS_REFUSED} (counter, tag {@code reason}: total, per_ip): connections
 *       turned away with 421 because a connection limit was reached.</li>
 * </ul>
 *
 * Thread-safe; shared by all sessions of a verticle.
 */
public final class SmtpMetrics {

  public static final String SESSIONS = "mail.smtp.sessions";
  public static final String SESSIONS_ACTIVE = "mail.smtp.sessions.active";
  public static final String SESSIONS_ENDED = "mail.smtp.sessions.ended";
  public static final String MESSAGES_ACCEPTED = "mail.smtp.messages.accepted";
  public static final String MESSAGE_SIZE = "mail.smtp.message.size";
  public static final String REPLIES = "mail.smtp.replies";
  public static final String REJECTIONS = "mail.smtp.rejections";
  public static final String ACK_LATENCY = "mail.smtp.ack.latency";
  public static final String AUTH = "mail.smtp.auth";
  public static final String TLS = "mail.smtp.tls";
  public static final String CONNECTIONS_REFUSED = "mail.smtp.connections.refused";

  /** Tag values of {@value #AUTH}. */
  public enum AuthResult {
    SUCCESS, FAILURE, LOCKED, UNAVAILABLE;

    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** How a session ended; the tag value is the lower-case name. */
  public enum Outcome {
    /** QUIT answered with 221. */
    QUIT,
    /** Idle too long: 421 4.4.2. */
    TIMEOUT,
    /** The client closed the connection (or it broke) without QUIT. */
    DISCONNECT,
    /** The service stopped: 421 4.3.2, or cut at the end of the shutdown grace. */
    SHUTDOWN,
    /** Too many protocol errors: 421 4.7.0. */
    TOO_MANY_ERRORS;

    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final MeterRegistry registry;
  private final Counter sessions;
  private final AtomicLong active;
  private final Map<Outcome, Counter> ended = new EnumMap<>(Outcome.class);
  private final Counter accepted;
  private final DistributionSummary size;
  private final Counter[] replies = new Counter[6];
  private final Map<Integer, Counter> rejections = new ConcurrentHashMap<>();
  private final Timer ackStored;
  private final Timer ackFailed;
  private final Map<AuthResult, Counter> auth = new EnumMap<>(AuthResult.class);
  private final Counter tlsStartTls;
  private final Counter tlsImplicit;
  private final Counter refusedTotal;
  private final Counter refusedPerIp;

  public SmtpMetrics(MeterRegistry registry) {
    this.registry = registry;
    sessions = Counter.builder(SESSIONS).description("SMTP connections accepted").register(registry);
    active = Meters.upDown(registry, SESSIONS_ACTIVE, "SMTP connections open now");
    for (Outcome o : Outcome.values()) {
      ended.put(o, Counter.builder(SESSIONS_ENDED).description("SMTP sessions ended, by how")
          .tag("outcome", o.tag()).register(registry));
    }
    accepted = Counter.builder(MESSAGES_ACCEPTED).description("Messages stored and answered 250").register(registry);
    size = DistributionSummary.builder(MESSAGE_SIZE).description("Size of accepted messages as received")
        .baseUnit("bytes")
        .serviceLevelObjectives(1024, 10 * 1024, 100 * 1024, 1024 * 1024, 10 * 1024 * 1024, 50 * 1024 * 1024)
        .register(registry);
    for (int c = 2; c <= 5; c++) {
      replies[c] = Counter.builder(REPLIES).description("SMTP replies sent, by class")
          .tag("class", c + "xx").register(registry);
    }
    ackStored = ackTimer("stored");
    ackFailed = ackTimer("failed");
    for (AuthResult r : AuthResult.values()) {
      auth.put(r, Counter.builder(AUTH).description("SMTP AUTH attempts, by result").tag("result", r.tag()).register(registry));
    }
    tlsStartTls = Counter.builder(TLS).description("SMTP TLS sessions established").tag("mode", "starttls").register(registry);
    tlsImplicit = Counter.builder(TLS).description("SMTP TLS sessions established").tag("mode", "implicit").register(registry);
    refusedTotal = Counter.builder(CONNECTIONS_REFUSED).description("SMTP connections refused by a connection limit")
        .tag("reason", "total").register(registry);
    refusedPerIp = Counter.builder(CONNECTIONS_REFUSED).description("SMTP connections refused by a connection limit")
        .tag("reason", "per_ip").register(registry);
  }

  /** Meters nobody reads (handlers built outside a verticle, in unit tests). */
  public static SmtpMetrics detached() {
    return new SmtpMetrics(new SimpleMeterRegistry());
  }

  private Timer ackTimer(String result) {
    return Timer.builder(ACK_LATENCY)
        .description("From the end of DATA to the reply that answers it: the mailstore round trip")
        .tag("result", result)
        .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
            Duration.ofSeconds(30))
        .register(registry);
  }

  void sessionOpened() {
    sessions.increment();
    active.incrementAndGet();
  }

  void sessionEnded(Outcome outcome) {
    active.decrementAndGet();
    ended.get(outcome).increment();
  }

  void replySent(int code) {
    int cls = code / 100;
    if (cls >= 2 && cls <= 5) {
      replies[cls].increment();
    }
    if (code >= 400 && code <= 599) {
      rejections.computeIfAbsent(code, c -> Counter.builder(REJECTIONS).description("SMTP 4xx/5xx replies, by code")
          .tag("code", String.valueOf(c)).register(registry)).increment();
    }
  }

  void accepted(long bytes) {
    accepted.increment();
    size.record(bytes);
  }

  void auth(AuthResult result) {
    auth.get(result).increment();
  }

  void tlsEstablished(boolean implicit) {
    (implicit ? tlsImplicit : tlsStartTls).increment();
  }

  void connectionRefused(boolean perIp) {
    (perIp ? refusedPerIp : refusedTotal).increment();
  }

  void acknowledged(long nanos, boolean stored) {
    (stored ? ackStored : ackFailed).record(nanos, TimeUnit.NANOSECONDS);
  }
}
