package dev.mailserver.pop3.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Pop3CommandTest {

  /** Rows: line, expected verb (or UNKNOWN), expected args joined by '|' (empty for none). */
  @ParameterizedTest(name = "[{index}] ''{0}''")
  @CsvSource(delimiter = ',', quoteCharacter = '"', value = {
      "\"USER alice@example.test\", USER, alice@example.test",
      "\"user alice@example.test\", USER, alice@example.test",
      "\"PASS secret\",             PASS, secret",
      "\"PASS two words \",         PASS, \"two words \"",
      "\"PASS  lead\",              PASS, \" lead\"",
      "\"PASS\",                    PASS, \"\"",
      "\"STAT\",                    STAT, \"\"",
      "\"stat\",                    STAT, \"\"",
      "\"LIST\",                    LIST, \"\"",
      "\"LIST 2\",                  LIST, 2",
      "\"LIST  2 \",                LIST, 2",
      "\"TOP 1 10\",                TOP,  1|10",
      "\"Top 1  10\",               TOP,  1|10",
      "\"RETR 1 2\",                RETR, 1|2",
      "\"UIDL\",                    UIDL, \"\"",
      "\"CAPA\",                    CAPA, \"\"",
      "\"QUIT\",                    QUIT, \"\"",
      "\"APOP alice 1234\",         UNKNOWN, alice|1234",
      "\"STLS\",                    STLS, \"\"",
      "\"stls\",                    STLS, \"\"",
      "\"AUTH PLAIN\",              AUTH, PLAIN",
      "\"AUTH PLAIN AGEAYg==\",     AUTH, PLAIN|AGEAYg==",
      "\"AUTH\",                    AUTH, \"\"",
      "\"STATS\",                   UNKNOWN, \"\"",
      "\"\",                        UNKNOWN, \"\"",
      "\" STAT\",                   UNKNOWN, STAT",
  })
  void parses(String line, String verb, String args) {
    Pop3Command c = Pop3Command.parse(line);
    assertThat(c.verb().map(Enum::name).orElse("UNKNOWN")).isEqualTo(verb);
    List<String> expected = args.isEmpty() ? List.of() : Arrays.asList(args.split("\\|"));
    assertThat(c.args()).isEqualTo(expected);
  }

  @Test
  void passwordNeverShowsInToString() {
    assertThat(Pop3Command.parse("PASS topsecret").toString()).doesNotContain("topsecret");
    assertThat(Pop3Command.parse("RETR 1").toString()).isEqualTo("RETR 1");
    // AUTH's initial response is base64 of the password (RFC 4616): masked too.
    assertThat(Pop3Command.parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==").toString()).isEqualTo("AUTH PLAIN ****");
    assertThat(Pop3Command.parse("AUTH PLAIN").toString()).isEqualTo("AUTH PLAIN");
  }
}
