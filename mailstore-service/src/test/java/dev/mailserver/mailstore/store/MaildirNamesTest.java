package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MaildirNamesTest {

  @Test
  void hostPartEscapesSlashColonCommaAndDoubleDots() {
    assertThat(MaildirNames.sanitizeHost("a/b:c,d")).isEqualTo("a\\057b\\072c\\054d");
    assertThat(MaildirNames.sanitizeHost("a..b")).isEqualTo("a.\\056b");
    assertThat(MaildirNames.sanitizeHost(".lead")).isEqualTo("\\056lead");
    assertThat(MaildirNames.sanitizeHost("mail.example.test")).isEqualTo("mail.example.test");
  }

  @Test
  void generatedNamesPassIdValidationAndIncreaseWithinAProcess() {
    MaildirNames names = new MaildirNames("evil/../host:1", 42);
    String a = names.next(10);
    String b = names.next(10);
    assertThat(MessageIds.validate(a)).isEqualTo(a);
    assertThat(a).doesNotContain("/").doesNotContain(":").doesNotContain("..").contains("P42Q1R");
    assertThat(MaildirNames.parseMicros(b)).isGreaterThan(MaildirNames.parseMicros(a));
    // The Dovecot-style layout, fields zero-padded to fixed width.
    assertThat(a).matches("\\d{10}\\.M\\d{6}P42Q1R[0-9a-f]{8}\\.evil\\\\057\\.\\\\056\\\\057host\\\\0721,S=10");
  }

  @Test
  void parsesTimeFromOursAndForeignNames() {
    assertThat(MaildirNames.parseMicros("1700000000.M000042P1Q2R00000000.h,S=3")).isEqualTo(1_700_000_000_000_042L);
    assertThat(MaildirNames.parseMicros("1700000000.P12Q3M7.h")).isEqualTo(1_700_000_000_000_007L);
    assertThat(MaildirNames.parseMicros("1700000000.123_4.h")).isEqualTo(1_700_000_000_000_000L);
    assertThat(MaildirNames.parseMicros("weird")).isEqualTo(-1);
    assertThat(MaildirNames.parseMicros("abc.def")).isEqualTo(-1);
  }
}
