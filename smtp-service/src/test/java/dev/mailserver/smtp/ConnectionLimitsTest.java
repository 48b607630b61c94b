package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ConnectionLimitsTest {

  @Test
  void perIpAndTotalLimitsAndRelease() {
    ConnectionLimits l = new ConnectionLimits(3, 2);
    assertThat(l.tryAcquire("a")).isNull();
    assertThat(l.tryAcquire("a")).isNull();
    assertThat(l.tryAcquire("a")).isEqualTo(ConnectionLimits.Refusal.PER_IP);
    assertThat(l.tryAcquire("b")).isNull();
    assertThat(l.tryAcquire("c")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
    assertThat(l.total()).isEqualTo(3);
    l.release("a");
    assertThat(l.forIp("a")).isEqualTo(1);
    assertThat(l.tryAcquire("c")).isNull();
    l.release("unknown"); // a refused connection never took a slot: releasing it changes nothing
    assertThat(l.total()).isEqualTo(3);
    l.release("a");
    l.release("b");
    l.release("c");
    assertThat(l.total()).isZero();
    assertThat(l.forIp("a")).isZero();
  }
}
