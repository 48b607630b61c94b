package dev.mailserver.common.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MailboxAddressTest {

  @ParameterizedTest
  @CsvSource({
      "alice@example.test, alice@example.test",
      "Alice@Example.TEST, alice@example.test",
      "first.last+tag@sub.example.test, first.last+tag@sub.example.test",
      "o'brien@example.test, o'brien@example.test",
      "jürgen@exämple.test, jürgen@exämple.test",
  })
  void valid(String in, String canonical) {
    assertThat(MailboxAddress.parse(in)).hasValueSatisfying(a -> assertThat(a.toString()).isEqualTo(canonical));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "alice", "@example.test", "alice@", "../x@example.test", "a/b@example.test",
      "a\\b@example.test", ".a@example.test", "a.@example.test", "a..b@example.test", "a b@example.test",
      "a\u0000b@example.test", "a@exa mple.test", "a@-x.test", "a@x..test", "a@x/../y", "a\r@x.test",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test"})
  void invalid(String in) {
    assertThat(MailboxAddress.parse(in)).isEmpty();
  }
}
