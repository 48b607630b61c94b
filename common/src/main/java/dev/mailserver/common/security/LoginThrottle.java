package dev.mailserver.common.security;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Slows down password guessing, per client IP and per account: after {@code freeFailures} failures
 * every further attempt waits a delay that doubles up to {@code maxDelayMs}; at
 * {@code lockoutFailures} the key is locked for {@code lockoutMs} (attempts fail without a password
 * check). Failures are forgotten {@code windowMs} after the last one; a success clears the account's
 * count (not the IP's, so one known password does not reset a guesser's address).
 *
 * <p>The caller applies the delay with a timer, never by sleeping, so other sessions are not
 * stalled. Thread-safe; memory is bounded by {@code maxKeys} (oldest entries are dropped). The state
 * is per process: in a cluster every node throttles on its own.
 */
public final class LoginThrottle {

  /** Tunables; {@link #defaults()} suits internet-facing mail ports. */
  public record Settings(int freeFailures, long baseDelayMs, long maxDelayMs, int lockoutFailures, long lockoutMs,
                         long windowMs, int maxKeys) {
    public static Settings defaults() {
      return new Settings(3, 500, 8_000, 10, 5 * 60_000L, 15 * 60_000L, 100_000);
    }
  }

  /** What to do with an attempt before checking its password. */
  public record Decision(boolean locked, long delayMs) {}

  private record State(int failures, long lastFailure, long lockedUntil) {}

  private final Settings settings;
  private final LongSupplier clockMs;
  private final Map<String, State> states;

  public LoginThrottle(Settings settings) {
    this(settings, System::currentTimeMillis);
  }

  public LoginThrottle(Settings settings, LongSupplier clockMs) {
    this.settings = settings;
    this.clockMs = clockMs;
    this.states = new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, State> eldest) {
        return size() > settings.maxKeys();
      }
    };
  }

  /** Before checking a password: is either key locked, and how long to wait first. */
  public synchronized Decision check(String ip, String account) {
    long now = clockMs.getAsLong();
    State a = current("ip:" + ip, now);
    State b = account == null ? null : current("acct:" + account, now);
    boolean locked = (a != null && a.lockedUntil() > now) || (b != null && b.lockedUntil() > now);
    long delay = Math.max(delayFor(a), delayFor(b));
    return new Decision(locked, delay);
  }

  /** After a failed attempt: the delay to apply before answering it. */
  public synchronized long failure(String ip, String account) {
    long now = clockMs.getAsLong();
    long d = bump("ip:" + ip, now);
    if (account != null) {
      d = Math.max(d, bump("acct:" + account, now));
    }
    return d;
  }

  /** After a successful login. */
  public synchronized void success(String ip, String account) {
    if (account != null) {
      states.remove("acct:" + account);
    }
  }

  private State current(String key, long now) {
    State s = states.get(key);
    if (s != null && s.lockedUntil() <= now && now - s.lastFailure() > settings.windowMs()) {
      states.remove(key);
      return null;
    }
    return s;
  }

  private long bump(String key, long now) {
    State s = current(key, now);
    int failures = s == null ? 1 : s.failures() + 1;
    long lockedUntil = s == null ? 0 : s.lockedUntil();
    if (failures >= settings.lockoutFailures()) {
      lockedUntil = now + settings.lockoutMs();
      failures = 0; // after the lockout the count starts again
    }
    State next = new State(failures, now, lockedUntil);
    states.put(key, next);
    return Math.max(delayFor(next), lockedUntil > now ? settings.maxDelayMs() : 0);
  }

  private long delayFor(State s) {
    if (s == null || s.failures() < settings.freeFailures()) {
      return 0;
    }
    int steps = Math.min(30, s.failures() - settings.freeFailures());
    return Math.min(settings.maxDelayMs(), settings.baseDelayMs() << steps);
  }
}
