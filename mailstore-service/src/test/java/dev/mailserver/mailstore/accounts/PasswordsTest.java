package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PasswordsTest {

  @Test
  void recognisesBcryptHashes() {
    String h = new Passwords(4).hash("pw");
    assertThat(Passwords.isBcryptHash(h)).isTrue();
    assertThat(Passwords.isWellFormedHash(h)).isTrue();
    assertThat(Passwords.isBcryptHash("$2b$x")).isTrue();
    assertThat(Passwords.isWellFormedHash("$2b$x")).isFalse();
    assertThat(Passwords.isBcryptHash("plain")).isFalse();
  }

  @Test
  void verifiesAndRejectsMalformedHashesWithoutThrowing() {
    Passwords p = new Passwords(4);
    String h = p.hash("pässwörd");
    assertThat(p.verify("pässwörd", h)).isTrue();
    assertThat(p.verify("passwort", h)).isFalse();
    assertThat(p.verify("x", "garbage")).isFalse();
    assertThat(p.verify("x".repeat(200), p.hash("x".repeat(200)))).isTrue();
  }
}
