package dev.mailserver.pop3.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.pop3.protocol.Pop3Reply.RespCode;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class Pop3ReplyTest {

  @Test
  void okAndErr() {
    assertThat(enc(Pop3Reply.ok("2 320"))).isEqualTo("+OK 2 320\r\n");
    assertThat(enc(Pop3Reply.ok(""))).isEqualTo("+OK\r\n");
    assertThat(enc(Pop3Reply.err("No such message"))).isEqualTo("-ERR No such message\r\n");
    assertThat(Pop3Reply.err("x").isOk()).isFalse();
    assertThat(Pop3Reply.ok("x").isOk()).isTrue();
  }

  /** RFC 2449 section 8: the code in brackets right after -ERR. */
  @Test
  void responseCodes() {
    assertThat(enc(Pop3Reply.err(RespCode.IN_USE, "Maildrop already locked"))).isEqualTo("-ERR [IN-USE] Maildrop already locked\r\n");
    assertThat(enc(Pop3Reply.err(RespCode.AUTH, "Invalid credentials"))).isEqualTo("-ERR [AUTH] Invalid credentials\r\n");
    assertThat(enc(Pop3Reply.err(RespCode.SYS_TEMP, "later"))).isEqualTo("-ERR [SYS/TEMP] later\r\n");
    assertThat(enc(Pop3Reply.err(RespCode.SYS_PERM, "no"))).isEqualTo("-ERR [SYS/PERM] no\r\n");
  }

  @Test
  void multiLineIsStuffedAndTerminated() {
    assertThat(enc(Pop3Reply.multiLine("3 octets", Buffer.buffer(".\r\n")))).isEqualTo("+OK 3 octets\r\n..\r\n.\r\n");
    assertThat(enc(Pop3Reply.lines("2 messages", List.of("1 10", "2 20")))).isEqualTo("+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n");
    assertThat(enc(Pop3Reply.lines("0 messages", List.of()))).isEqualTo("+OK 0 messages\r\n.\r\n");
  }

  @Test
  void textCannotInjectLines() {
    assertThat(enc(Pop3Reply.err("a\r\n+OK b"))).isEqualTo("-ERR a  +OK b\r\n");
  }

  private static String enc(Pop3Reply r) {
    return r.encode().toString(StandardCharsets.ISO_8859_1);
  }
}
