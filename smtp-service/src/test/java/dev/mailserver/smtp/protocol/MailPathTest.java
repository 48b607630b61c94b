package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MailPathTest {

  @ParameterizedTest(name = "MAIL {0}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
      # args                                  | address             | domain
      FROM:<a@b.example>                        | a@b.example         | b.example
      from:<A@B.Example>                        | A@B.Example         | B.Example
      FROM: <a@b.example>                       | a@b.example         | b.example
      FROM:<>                                   | ''                  |
      FROM:<@r1.example,@r2.example:a@b.example> | a@b.example        | b.example
      FROM:<"jo"@b.example>                     | jo@b.example        | b.example
      FROM:<"j o"@b.example>                    | "j o"@b.example     | b.example
      FROM:<"a>b"@b.example>                    | "a>b"@b.example     | b.example
      FROM:<"q\\"x"@b.example>                  | "q\\"x"@b.example   | b.example
      FROM:<a.b+tag@b.example>                  | a.b+tag@b.example   | b.example
      FROM:<a@[192.0.2.1]>                      | a@[192.0.2.1]       | [192.0.2.1]
      FROM:<a@[IPv6:2001:db8::1]>               | a@[IPv6:2001:db8::1] | [IPv6:2001:db8::1]
      """)
  void parsesReversePaths(String args, String address, String domain) throws Exception {
    MailPath p = MailPath.parseReversePath(args);
    assertThat(p.address()).isEqualTo(address);
    assertThat(p.domain()).isEqualTo(domain);
    assertThat(p.params()).isEmpty();
  }

  @ParameterizedTest(name = "MAIL {0}")
  @CsvSource(delimiter = '|', textBlock = """
      TO:<a@b.example>           | SYNTAX
      FROM                       | SYNTAX
      FROM:a@b.example           | ADDRESS
      FROM:<a@b.example          | ADDRESS
      FROM:<a@b.example>x        | ADDRESS
      FROM:<a>                   | ADDRESS
      FROM:<postmaster>          | ADDRESS
      FROM:<a..b@b.example>      | ADDRESS
      FROM:<.a@b.example>        | ADDRESS
      FROM:<a b@b.example>       | ADDRESS
      FROM:<a@b..example>        | ADDRESS
      FROM:<a@-b.example>        | ADDRESS
      FROM:<a@>                  | ADDRESS
      FROM:<@b.example>          | ADDRESS
      FROM:<@x:a@b.example       | ADDRESS
      FROM:<@x.example a@b.example> | ADDRESS
      FROM:<"unterminated@b.example> | ADDRESS
      FROM:<a@[300.1.1.1]>       | ADDRESS
      FROM:<a@b.example> SIZE=   | PARAMETER
      FROM:<a@b.example> =1      | PARAMETER
      FROM:<a@b.example> SIZE=1 size=2 | PARAMETER
      FROM:<a@b.example> -X      | PARAMETER
      """)
  void rejectsBadReversePaths(String args, MailPath.Problem problem) {
    assertThatThrownBy(() -> MailPath.parseReversePath(args))
        .isInstanceOfSatisfying(MailPath.ParseException.class, e -> assertThat(e.problem()).isEqualTo(problem));
  }

  @Test
  void readsParametersInOrderWithUpperCaseKeywords() throws Exception {
    MailPath p = MailPath.parseReversePath("FROM:<a@b.example>  size=100 Body=8BITMIME SMTPUTF8");
    assertThat(p.params()).containsExactly(Map.entry("SIZE", "100"), Map.entry("BODY", "8BITMIME"),
        new java.util.AbstractMap.SimpleEntry<>("SMTPUTF8", null));
    assertThat(p.nonAscii()).isFalse();
  }

  @Test
  void forwardPathsAllowBarePostmasterButNotTheNullPath() throws Exception {
    MailPath pm = MailPath.parseForwardPath("TO:<Postmaster>");
    assertThat(pm.isBarePostmaster()).isTrue();
    assertThat(pm.domain()).isNull();
    assertThat(MailPath.parseForwardPath("TO:<postmaster@b.example>").isBarePostmaster()).isFalse();
    assertThatThrownBy(() -> MailPath.parseForwardPath("TO:<>")).isInstanceOf(MailPath.ParseException.class);
    assertThatThrownBy(() -> MailPath.parseForwardPath("FROM:<a@b.example>")).isInstanceOf(MailPath.ParseException.class);
  }

  @Test
  void flagsNonAsciiPathsAndValues() throws Exception {
    assertThat(MailPath.parseForwardPath("TO:<jörg@b.example>").nonAscii()).isTrue();
    assertThat(MailPath.parseForwardPath("TO:<j@bücher.example>").nonAscii()).isTrue();
    assertThat(MailPath.parseForwardPath("TO:<\"jö\"@b.example>").nonAscii()).isTrue();
    assertThat(MailPath.parseReversePath("FROM:<a@b.example> X=ü").nonAscii()).isTrue();
    assertThat(MailPath.parseForwardPath("TO:<j@b.example>").nonAscii()).isFalse();
    assertThat(MailPath.parseForwardPath("TO:<jörg@b.example>").address()).isEqualTo("jörg@b.example");
  }

  @Test
  void sourceRoutesAreDropped() throws Exception {
    MailPath p = MailPath.parseForwardPath("TO:<@hosta.int,@jkl.org:userc@d.bar.org>");
    assertThat(p.address()).isEqualTo("userc@d.bar.org");
  }
}
