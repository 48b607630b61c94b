package dev.mailserver.mailstore.http;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Slows down password guessing over HTTP Basic (and admin-token guessing), per client IP and per
 * account, without ever blocking a thread: callers wait with timers.
 *
 * <p>Policy, for each key (the client IP, and the account named in the attempt):
 * <ul>
 *   <li>the k-th failure within {@link Policy#forgetAfter} is answered 401 only after
 *   {@code baseDelay * 2^(k-1)}, capped at {@code maxDelay} (0.5 s, 1 s, 2 s, ... 8 s by default),
 *   the larger of the two keys' counts deciding;</li>
 *   <li>an attempt made before that delay has passed since the last failure (i.e. in parallel
 *   rather than after waiting for the answer) is refused at once with 429 and Retry-After, before
 *   any password is checked, so parallel guessing gains nothing and costs no bcrypt;</li>
 *   <li>from {@code lockoutAfter} failures on (10 by default) the key is locked for
 *   {@code lockout} (5 minutes): every attempt gets 429 with Retry-After;</li>
 *   <li>a success resets the account's count but not the IP's (a client with one valid account
 *   must not be able to reset its IP's count between guesses at others); an IP's count decays
 *   when it has had no failure for {@code forgetAfter}.</li>
 * </ul>
 * The table is bounded ({@link Policy#maxEntries}, least recently used evicted). Thread-safe.
 */
final class AuthThrottle {

  /** Tunable numbers; {@link #DEFAULT} unless the configuration says otherwise. */
  record Policy(Duration baseDelay, Duration maxDelay, int lockoutAfter, Duration lockout, Duration forgetAfter,
                int maxEntries) {
    static final Policy DEFAULT = new Policy(Duration.ofMillis(500), Duration.ofSeconds(8), 10,
        Duration.ofMinutes(5), Duration.ofMinutes(15), 10_000);

    Policy {
      if (baseDelay.isNegative() || maxDelay.compareTo(baseDelay) < 0 || lockoutAfter < 1 || lockout.isNegative()
          || maxEntries < 1) {
        throw new IllegalArgumentException("invalid throttle policy: " + baseDelay + ", " + maxDelay + ", " + lockoutAfter);
      }
    }
  }

  /** Failures of one key. */
  private static final class State {
    int failures;
    long lastFailure;
    long notBefore;
    long lockedUntil;
  }

  private final Policy policy;
  private final LongSupplier clockMillis;
  private final Map<String, State> states;

  AuthThrottle(Policy policy) {
    this(policy, () -> System.nanoTime() / 1_000_000);
  }

  AuthThrottle(Policy policy, LongSupplier clockMillis) {
    this.policy = policy;
    this.clockMillis = clockMillis;
    this.states = new LinkedHashMap<>(256, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, State> eldest) {
        return size() > policy.maxEntries();
      }
    };
  }

  Policy policy() {
    return policy;
  }

  static String ipKey(String ip) {
    return "ip:" + ip;
  }

  static String accountKey(String account) {
    return "account:" + account;
  }

  /** Milliseconds the caller must still wait before an attempt for these keys is considered; 0 = go ahead. */
  synchronized long retryAfterMillis(String... keys) {
    long now = clockMillis.getAsLong();
    long wait = 0;
    for (String k : keys) {
      State s = fresh(k, now);
      if (s != null) {
        wait = Math.max(wait, Math.max(s.lockedUntil - now, s.notBefore - now));
      }
    }
    return Math.max(0, wait);
  }

  /** Records a failed attempt; returns how long to hold back its 401 (ms). */
  synchronized long failure(String... keys) {
    long now = clockMillis.getAsLong();
    int n = 0;
    State[] touched = new State[keys.length];
    for (int i = 0; i < keys.length; i++) {
      State s = fresh(keys[i], now);
      if (s == null) {
        s = new State();
        states.put(keys[i], s);
      }
      s.failures++;
      s.lastFailure = now;
      touched[i] = s;
      n = Math.max(n, s.failures);
    }
    long delay = delayFor(n);
    for (State s : touched) {
      s.notBefore = now + delay;
      if (s.failures >= policy.lockoutAfter()) {
        s.lockedUntil = Math.max(s.lockedUntil, now + policy.lockout().toMillis());
      }
    }
    return delay;
  }

  /** A correct password: the account starts over (the IP does not, see the class comment). */
  synchronized void success(String accountKey) {
    states.remove(accountKey);
  }

  long delayFor(int failures) {
    long base = policy.baseDelay().toMillis();
    long max = policy.maxDelay().toMillis();
    int shift = Math.min(Math.max(failures - 1, 0), 30);
    return Math.min(max, base << shift);
  }

  /** The key's state, or null when it has none or it has expired (then it is dropped). */
  private State fresh(String key, long now) {
    State s = states.get(key);
    if (s != null && s.lockedUntil <= now && now - s.lastFailure > policy.forgetAfter().toMillis()) {
      states.remove(key);
      return null;
    }
    return s;
  }

  synchronized int size() {
    return states.size();
  }
}
