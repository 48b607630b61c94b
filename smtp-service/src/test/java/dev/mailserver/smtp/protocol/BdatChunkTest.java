package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BdatChunkTest {

  @ParameterizedTest
  @CsvSource({"0,0,0", "0 LAST,0,1", "12,12,0", "12 last,12,1", "007 LAST,7,1",
      "99999999999999999999,9223372036854775807,0"})
  void argumentsFollowRfc3030Grammar(String args, long size, int last) {
    assertThat(BdatChunk.parseArgs(args)).containsExactly(size, last);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "x", "-1", "1.5", "+3", "3 LASTX", "3 LAST x", "3  LAST", "LAST", "3 FIRST"})
  void otherArgumentsAreSyntaxErrors(String args) {
    assertThat(BdatChunk.parseArgs(args)).isNull();
  }

  @Test
  void readsExactlyTheAnnouncedOctetsAndLeavesTheRest() {
    Buffer target = Buffer.buffer();
    BdatChunk c = new BdatChunk(5, true, target);
    Buffer in = Buffer.buffer("ab\r\n.\r\nNOOP\r\n");
    assertThat(c.feed(in, 0, 3)).isEqualTo(3);
    assertThat(c.isDone()).isFalse();
    assertThat(c.feed(in, 3, in.length())).isEqualTo(2);
    assertThat(c.isDone()).isTrue();
    assertThat(target.toString()).isEqualTo("ab\r\n.");
    BdatChunk discard = new BdatChunk(4, false, null);
    assertThat(discard.feed(in, 0, in.length())).isEqualTo(4);
    assertThat(discard.keeps()).isFalse();
    assertThat(new BdatChunk(0, true, null).isDone()).isTrue();
  }
}
