package dev.mailserver.common.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MetersTest {

  @Test
  void eachVertxGetsItsOwnRegistryUntilOneIsBound() {
    Vertx a = Vertx.vertx();
    Vertx b = Vertx.vertx();
    try {
      assertThat(Meters.bound(a)).isEmpty();
      MeterRegistry ra = Meters.registry(a);
      assertThat(Meters.registry(a)).isSameAs(ra);
      assertThat(Meters.registry(b)).isNotSameAs(ra);
      ra.counter("mail.test.count").increment();
      assertThat(Meters.registry(b).find("mail.test.count").counter()).isNull();

      SimpleMeterRegistry mine = new SimpleMeterRegistry();
      Meters.bind(a, mine);
      assertThat(Meters.registry(a)).isSameAs(mine);
      assertThat(Meters.bound(a)).containsSame(mine);
      Meters.unbind(a);
      assertThat(Meters.bound(a)).isEmpty();
    } finally {
      Meters.unbind(a);
      Meters.unbind(b);
      a.close().await();
      b.close().await();
    }
  }

  @Test
  void upDownGaugesAreSharedPerRegistryAndName() {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    AtomicLong first = Meters.upDown(r, "mail.test.active", "open things");
    AtomicLong second = Meters.upDown(r, "mail.test.active", "open things");
    assertThat(second).isSameAs(first);
    first.incrementAndGet();
    second.incrementAndGet();
    assertThat(r.get("mail.test.active").gauge().value()).isEqualTo(2.0);
    second.decrementAndGet();
    assertThat(r.get("mail.test.active").gauge().value()).isEqualTo(1.0);
    // Another registry, another value.
    SimpleMeterRegistry other = new SimpleMeterRegistry();
    assertThat(Meters.upDown(other, "mail.test.active", "open things")).isNotSameAs(first);
    assertThat(other.get("mail.test.active").gauge().value()).isZero();
  }

  @Test
  void logLinesQuoteAndEscapeClientValues() {
    String line = LogLine.of("smtp session end")
        .add("client", "127.0.0.1")
        .add("helo", "evil\r\nsmtp session end outcome=quit")
        .add("user", null)
        .add("quote", "a\"b\\c")
        .add("n", 3)
        .toString();
    assertThat(line).isEqualTo("smtp session end client=127.0.0.1 helo=\"evil\\x0d\\x0asmtp session end outcome=quit\""
        + " user=- quote=\"a\\\"b\\\\c\" n=3");
    assertThat(line).doesNotContain("\r").doesNotContain("\n");
    assertThat(LogLine.value("x".repeat(500))).hasSize(LogLine.MAX_VALUE + 3).endsWith("...");
    assertThat(LogLine.value("alice@example.test")).isEqualTo("alice@example.test");
  }
}
