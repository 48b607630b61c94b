package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CredentialCacheTest {

  final AtomicLong now = new AtomicLong();
  final CredentialCache cache = new CredentialCache(Duration.ofSeconds(60), 3, now::get);

  @Test
  void remembersExactCredentialsForTheTtl() {
    cache.put("Alice@Example.Test", "pw", "alice@example.test");
    assertThat(cache.get("alice@example.test", "pw")).isEqualTo("alice@example.test");
    assertThat(cache.get("alice@example.test", "PW")).isNull();
    assertThat(cache.get("alice@example.test", "pw ")).isNull();
    assertThat(cache.get("bob@example.test", "pw")).isNull();
    now.addAndGet(59_999);
    assertThat(cache.get("alice@example.test", "pw")).isNotNull();
    now.addAndGet(1);
    assertThat(cache.get("alice@example.test", "pw")).isNull();
  }

  @Test
  void invalidateDropsEveryEntryOfTheAccount() {
    cache.put("alice@example.test", "a", "alice@example.test");
    cache.put("ALICE@example.test", "b", "alice@example.test");
    cache.put("bob@example.test", "c", "bob@example.test");
    cache.invalidate("alice@example.test");
    assertThat(cache.get("alice@example.test", "a")).isNull();
    assertThat(cache.get("alice@example.test", "b")).isNull();
    assertThat(cache.get("bob@example.test", "c")).isEqualTo("bob@example.test");
  }

  @Test
  void boundedAndDisabledWithZeroTtl() {
    for (int i = 0; i < 10; i++) {
      cache.put("u" + i + "@example.test", "pw", "u" + i + "@example.test");
    }
    assertThat(cache.size()).isEqualTo(3);
    CredentialCache off = new CredentialCache(Duration.ZERO, 3, now::get);
    off.put("a@example.test", "pw", "a@example.test");
    assertThat(off.get("a@example.test", "pw")).isNull();
  }
}
