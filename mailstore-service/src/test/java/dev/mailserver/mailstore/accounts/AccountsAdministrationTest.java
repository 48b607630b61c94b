package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.mailstore.store.InMemoryStore;
import dev.mailserver.mailstore.store.MailStore;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** delete and changePassword (used by the HTTP admin API) go through the locked update and reach other instances. */
class AccountsAdministrationTest {

  @TempDir
  Path tmp;
  final MailStore store = new InMemoryStore();
  final Passwords passwords = new Passwords(4);

  Accounts open() throws IOException {
    Accounts a = new Accounts(tmp.resolve("accounts.json"), store, passwords, Duration.ZERO);
    a.load();
    return a;
  }

  @Test
  void deleteAndChangePasswordPersistAndAreSeenByAnotherInstance() throws IOException {
    Accounts one = open();
    Accounts two = open();
    one.create("alice@example.test", "first-password");
    assertThat(two.authenticate("alice@example.test", "first-password")).hasValue("alice@example.test");

    assertThat(one.changePassword("Alice@Example.Test", "second-password")).isTrue();
    assertThat(two.authenticate("alice@example.test", "first-password")).isEmpty();
    assertThat(two.authenticate("alice@example.test", "second-password")).hasValue("alice@example.test");
    assertThat(open().get("alice@example.test").orElseThrow().createdAt())
        .as("creation time kept").isEqualTo(one.get("alice@example.test").orElseThrow().createdAt());

    assertThat(two.delete("alice@example.test")).isTrue();
    assertThat(two.exists("alice@example.test")).isFalse();
    one.refresh();
    assertThat(one.exists("alice@example.test")).isFalse();
    assertThat(open().exists("alice@example.test")).isFalse();
  }

  @Test
  void unknownAccountsAndEmptyPasswords() throws IOException {
    Accounts a = open();
    assertThat(a.delete("ghost@example.test")).isFalse();
    assertThat(a.changePassword("ghost@example.test", "whatever-pw")).isFalse();
    a.create("bob@example.test", "bob-password");
    assertThatThrownBy(() -> a.changePassword("bob@example.test", "")).isInstanceOf(IllegalArgumentException.class);
    // a hash-looking value is a password here, not a hash to store
    assertThat(a.changePassword("bob@example.test", "$2a$04$abcdefghijklmnopqrstuu")).isTrue();
    assertThat(a.authenticate("bob@example.test", "$2a$04$abcdefghijklmnopqrstuu")).hasValue("bob@example.test");
  }
}
