package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SaslTest {

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void plainMessageHasThreeParts() {
    assertThat(Sasl.parsePlain(b("\0alice@example.test\0pw"))).isEqualTo(new Sasl.Plain("", "alice@example.test", "pw"));
    assertThat(Sasl.parsePlain(b("a\0b\0p w\u00e9"))).isEqualTo(new Sasl.Plain("a", "b", "p w\u00e9"));
    assertThat(Sasl.parsePlain(b("\0alice\0"))).as("empty password").isNull();
    assertThat(Sasl.parsePlain(b("\0\0pw"))).as("empty authcid").isNull();
    assertThat(Sasl.parsePlain(b("alice\0pw"))).as("one NUL").isNull();
    assertThat(Sasl.parsePlain(b("\0a\0b\0c"))).as("three NULs").isNull();
    assertThat(Sasl.parsePlain(new byte[] {0, 'a', 0, (byte) 0xff})).as("invalid UTF-8").isNull();
  }

  @Test
  void base64IsStrict() throws Exception {
    assertThat(Sasl.decode("YWxpY2U=", false)).isEqualTo(b("alice"));
    assertThat(Sasl.decode("", false)).isEmpty();
    assertThat(Sasl.decode("=", true)).as("RFC 4954 section 4: '=' is an empty initial response").isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"YWxpY2U", "YW xpY2U=", "!!!!", "YWxp\tY2U=", "=", "Y=WxpY2U", "YWxpY2U==="})
  void badBase64IsRefused(String s) {
    assertThatThrownBy(() -> Sasl.decode(s, false)).isInstanceOf(Sasl.BadBase64.class);
  }

  @Test
  void mechanismsAreCaseInsensitive() {
    assertThat(Sasl.mechanism("plain")).isEqualTo("PLAIN");
    assertThat(Sasl.mechanism("Login")).isEqualTo("LOGIN");
    assertThat(Sasl.mechanism("CRAM-MD5")).isNull();
    assertThat(Sasl.loginField(b(""))).isNull();
    assertThat(Sasl.loginField(b("a\0b"))).isNull();
    assertThat(Sasl.loginField(b("bob"))).isEqualTo("bob");
  }
}
