package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LineFramerTest {

  /** Frames the input cut into pieces; returns "text|flags" per line plus the leftover count. */
  static List<String> frame(String input, int max, int... cuts) {
    Buffer in = Buffer.buffer(input.getBytes(StandardCharsets.ISO_8859_1));
    LineFramer f = new LineFramer(max);
    List<String> out = new ArrayList<>();
    int from = 0;
    for (int k = 0; k <= cuts.length; k++) {
      int to = k < cuts.length ? cuts[k] : in.length();
      Buffer piece = in.getBuffer(from, to);
      int pos = 0;
      while (pos < piece.length()) {
        int n = f.feed(piece, pos, piece.length());
        assertThat(n).isPositive();
        pos += n;
        LineFramer.Line l = f.take();
        if (l != null) {
          out.add(describe(l));
        }
      }
      from = to;
    }
    return out;
  }

  static String describe(LineFramer.Line l) {
    if (l.tooLong()) {
      return "<too long>";
    }
    return l.bytes().toString(StandardCharsets.ISO_8859_1) + (l.bareLf() ? "|LF" : "");
  }

  @Test
  void splitsOnCrlfAndBareLf() {
    assertThat(frame("EHLO a\r\nNOOP\nQUIT\r\npartial", 100)).containsExactly("EHLO a", "NOOP|LF", "QUIT");
  }

  @Test
  void takesOneLineAtATimeAndLeavesTheRest() {
    Buffer in = Buffer.buffer("DATA\r\nbody\r\n.\r\n");
    LineFramer f = new LineFramer(100);
    assertThat(f.feed(in, 0, in.length())).isEqualTo(6);
    assertThat(f.feed(in, 6, in.length())).as("nothing until the line is taken").isZero();
    assertThat(describe(f.take())).isEqualTo("DATA");
  }

  @Test
  void overlongLinesAreDiscardedUpToTheNextLf() {
    String input = "A".repeat(5000) + "\r\nNOOP\r\n" + "B".repeat(98) + "\r\n" + "C".repeat(99) + "\r\n";
    assertThat(frame(input, 100)).containsExactly("<too long>", "NOOP", "B".repeat(98), "<too long>");
  }

  @Test
  void sameLinesWhereverTheInputIsSplit() {
    String input = "EHLO x\r\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n" + "Z".repeat(40) + "\r\n\r\nQUIT\r\nrest";
    List<String> whole = frame(input, 30);
    assertThat(whole).containsExactly("EHLO x", "MAIL FROM:<a@b>|LF", "RCPT TO:<c@d>", "<too long>", "", "QUIT");
    for (int cut = 0; cut <= input.length(); cut++) {
      assertThat(frame(input, 30, cut)).as("cut at %d", cut).isEqualTo(whole);
    }
    int[] every = new int[input.length()];
    for (int i = 0; i < every.length; i++) {
      every[i] = i;
    }
    assertThat(frame(input, 30, every)).isEqualTo(whole);
  }
}
