package dev.mailserver.mailstore.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PasswordPolicyTest {

  static boolean ok(String address, String pw) {
    return PasswordPolicy.weakness(address, pw).isEmpty();
  }

  @Test
  void rules() {
    String a = "john.doe@example.test";
    assertThat(ok(a, "tr0ub4dor&3")).isTrue();
    assertThat(ok(a, "correct horse battery staple")).isTrue();
    assertThat(ok(a, "ünïcödé!")).as("8 code points").isTrue();
    assertThat(ok(a, null)).isFalse();
    assertThat(ok(a, "")).isFalse();
    assertThat(ok(a, "1234567")).isFalse();
    assertThat(ok(a, "x".repeat(1025))).isFalse();
    assertThat(ok(a, "JOHN.DOE")).isFalse();
    assertThat(ok(a, "John.Doe@Example.Test")).isFalse();
    assertThat(ok(a, "zzzzzzzzzzzz")).isFalse();
    assertThat(ok(a, "Password")).isFalse();
    assertThat(ok(a, "12345678")).isFalse();
    assertThat(ok(a, "tab\tinside-pw")).isFalse();
    assertThat(ok(a, "$2y$10$somethingthatlookslikeahash")).isFalse();
  }
}
