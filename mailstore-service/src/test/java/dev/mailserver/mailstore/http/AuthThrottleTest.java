package dev.mailserver.mailstore.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The default policy's numbers, on a fake clock. */
class AuthThrottleTest {

  final AtomicLong now = new AtomicLong(1_000_000);
  final AuthThrottle t = new AuthThrottle(AuthThrottle.Policy.DEFAULT, now::get);
  static final String IP = AuthThrottle.ipKey("10.0.0.1");
  static final String ACC = AuthThrottle.accountKey("alice@example.test");

  @Test
  void delaysDoubleFromHalfASecondUpToEight() {
    long[] expected = {500, 1000, 2000, 4000, 8000, 8000};
    for (long e : expected) {
      assertThat(t.retryAfterMillis(IP, ACC)).isZero();
      assertThat(t.failure(IP, ACC)).isEqualTo(e);
      // an attempt before the delay has passed must wait for the rest of it
      assertThat(t.retryAfterMillis(IP, ACC)).isEqualTo(e);
      now.addAndGet(e / 2);
      assertThat(t.retryAfterMillis(ACC)).isEqualTo(e - e / 2);
      now.addAndGet(e - e / 2);
    }
  }

  @Test
  void tenFailuresLockForFiveMinutes() {
    for (int i = 0; i < 9; i++) {
      now.addAndGet(t.failure(IP, ACC));
    }
    assertThat(t.retryAfterMillis(IP, ACC)).isZero();
    now.addAndGet(t.failure(IP, ACC)); // the 10th
    long wait = t.retryAfterMillis(IP, ACC);
    assertThat(wait).isGreaterThan(Duration.ofMinutes(4).toMillis()).isLessThanOrEqualTo(Duration.ofMinutes(5).toMillis());
    now.addAndGet(wait);
    assertThat(t.retryAfterMillis(IP, ACC)).isZero();
  }

  @Test
  void theWorseOfIpAndAccountDecides() {
    String other = AuthThrottle.accountKey("bob@example.test");
    for (int i = 0; i < 3; i++) {
      now.addAndGet(t.failure(IP, ACC));
    }
    // 4th failure from the same IP against another account: the IP's count (4) sets the delay
    assertThat(t.failure(IP, other)).isEqualTo(4000);
    // a different IP against a fresh account is unaffected
    assertThat(t.retryAfterMillis(AuthThrottle.ipKey("10.0.0.2"), AuthThrottle.accountKey("carol@example.test"))).isZero();
  }

  @Test
  void successResetsTheAccountButNotTheIp() {
    for (int i = 0; i < 3; i++) {
      now.addAndGet(t.failure(IP, ACC));
    }
    t.success(ACC);
    assertThat(t.failure(AuthThrottle.ipKey("10.0.0.9"), ACC)).as("account starts over").isEqualTo(500);
    now.addAndGet(10_000);
    assertThat(t.failure(IP, AuthThrottle.accountKey("dave@example.test"))).as("IP does not").isEqualTo(4000);
  }

  @Test
  void countsAreForgottenAfterFifteenQuietMinutesAndTheTableIsBounded() {
    now.addAndGet(t.failure(IP, ACC));
    now.addAndGet(t.failure(IP, ACC));
    now.addAndGet(Duration.ofMinutes(16).toMillis());
    assertThat(t.failure(IP, ACC)).isEqualTo(500);

    AuthThrottle small = new AuthThrottle(new AuthThrottle.Policy(Duration.ofMillis(1), Duration.ofMillis(1), 5,
        Duration.ofSeconds(1), Duration.ofMinutes(1), 100), now::get);
    for (int i = 0; i < 1000; i++) {
      small.failure(AuthThrottle.ipKey("ip" + i));
    }
    assertThat(small.size()).isEqualTo(100);
  }
}
