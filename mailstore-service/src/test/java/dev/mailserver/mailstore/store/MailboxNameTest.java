package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MailboxNameTest {

  @Test
  void canonicalisesAndMapsToDomainThenLocalPart() {
    MailboxName m = MailboxName.of("Alice.Smith@Example.TEST");
    assertThat(m.address()).isEqualTo("alice.smith@example.test");
    assertThat(m.relativePath()).isEqualTo(Path.of("example.test", "alice.smith"));
    assertThat(MailboxName.of("alice.smith@example.test")).isEqualTo(m);
  }

  @ParameterizedTest
  @ValueSource(strings = {"../x@example.test", "..@example.test", "a/b@example.test", "a\\b@example.test",
      "x@../etc", "x@a/b", ".hidden@example.test", "a\u0000b@example.test", "a\u0001b@example.test",
      "a\nb@example.test", "x@.example.test", "x@exa..mple.test", "noat", "@example.test", "x@", ""})
  void rejectsNamesThatCouldEscapeOrAreNotAddresses(String address) {
    assertThatThrownBy(() -> MailboxName.of(address)).isInstanceOfSatisfying(MailstoreException.class,
        e -> assertThat(e.error()).isEqualTo(MailstoreError.INVALID_REQUEST));
    assertThat(MailboxName.isValid(address)).isFalse();
  }

  @Test
  void nullIsInvalid() {
    assertThat(MailboxName.isValid(null)).isFalse();
  }
}
