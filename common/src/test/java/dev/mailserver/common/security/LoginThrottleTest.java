package dev.mailserver.common.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoginThrottleTest {

  final AtomicLong now = new AtomicLong(1_000_000);
  final LoginThrottle t = new LoginThrottle(new LoginThrottle.Settings(2, 100, 1_000, 5, 60_000, 10_000, 1000), now::get);

  @Test
  void delaysGrowAfterTheFreeFailuresThenLockOut() {
    assertThat(t.failure("1.2.3.4", "a@x")).isZero();
    assertThat(t.failure("1.2.3.4", "a@x")).isEqualTo(100);
    assertThat(t.failure("1.2.3.4", "a@x")).isEqualTo(200);
    assertThat(t.check("1.2.3.4", "a@x")).isEqualTo(new LoginThrottle.Decision(false, 200));
    assertThat(t.failure("1.2.3.4", "a@x")).isEqualTo(400);
    t.failure("1.2.3.4", "a@x");
    assertThat(t.check("1.2.3.4", "a@x").locked()).isTrue();
    // Another address guessing the same account is locked out too; an unrelated one is not.
    assertThat(t.check("5.6.7.8", "a@x").locked()).isTrue();
    assertThat(t.check("5.6.7.8", "b@x")).isEqualTo(new LoginThrottle.Decision(false, 0));
    now.addAndGet(60_001);
    assertThat(t.check("1.2.3.4", "a@x").locked()).isFalse();
  }

  @Test
  void successClearsTheAccountButNotTheAddress() {
    for (int i = 0; i < 4; i++) {
      t.failure("1.2.3.4", "a@x");
    }
    t.success("1.2.3.4", "a@x");
    assertThat(t.check("9.9.9.9", "a@x").delayMs()).isZero();
    assertThat(t.check("1.2.3.4", "b@x").delayMs()).isPositive();
  }

  @Test
  void failuresAreForgottenAfterTheWindow() {
    for (int i = 0; i < 4; i++) {
      t.failure("1.2.3.4", "a@x");
    }
    now.addAndGet(10_001);
    assertThat(t.check("1.2.3.4", "a@x")).isEqualTo(new LoginThrottle.Decision(false, 0));
  }

  @Test
  void memoryIsBounded() {
    for (int i = 0; i < 5_000; i++) {
      t.failure("10.0.0." + i, null);
    }
    // The oldest keys were dropped: the first address is no longer remembered.
    assertThat(t.check("10.0.0.0", null).delayMs()).isZero();
  }
}
