package dev.mailserver.pop3.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LineFramerTest {

  private static final int MAX = 255;

  @Test
  void crlfAndBareLfLines() {
    assertThat(frames(new LineFramer(MAX), "USER a\r\nPASS b c\nNOOP\r\n\r\n"))
        .containsExactly("USER a", "PASS b c", "NOOP", "");
  }

  @Test
  void incompleteLineWaitsForMoreBytes() {
    LineFramer f = new LineFramer(MAX);
    f.feed(buf("STA"));
    assertThat(f.next()).isNull();
    assertThat(f.hasBufferedBytes()).isTrue();
    f.feed(buf("T\r"));
    assertThat(f.next()).isNull();
    f.feed(buf("\n"));
    assertThat(text(f.next())).isEqualTo("STAT");
    assertThat(f.next()).isNull();
    assertThat(f.hasBufferedBytes()).isFalse();
  }

  @Test
  void crInsideLineIsKept() {
    assertThat(frames(new LineFramer(MAX), "a\rb\r\n")).containsExactly("a\rb");
  }

  /** RFC 2449 section 4: 255 octets including CRLF is the limit. */
  @Test
  void lineOfExactlyTheLimitIsAcceptedOneMoreIsTooLong() {
    String ok = "X".repeat(MAX - 2);
    String tooLong = "Y".repeat(MAX - 1);
    assertThat(frames(new LineFramer(MAX), ok + "\r\n" + tooLong + "\r\nNOOP\r\n"))
        .containsExactly(ok, "<too long>", "NOOP");
  }

  @Test
  void overLongLineIsReportedOnceAndDiscardedUpToNextLf() {
    LineFramer f = new LineFramer(MAX);
    List<String> out = new ArrayList<>();
    // 100 KB without a line end, fed in chunks: reported once, nothing of it kept.
    for (int i = 0; i < 100; i++) {
      f.feed(buf("Z".repeat(1000)));
      drain(f, out);
    }
    assertThat(out).containsExactly("<too long>");
    f.feed(buf("ZZZ\r\nNOOP\r\n"));
    drain(f, out);
    assertThat(out).containsExactly("<too long>", "NOOP");
  }

  /** The same stream split at every byte offset gives the same frames. */
  @Test
  void splitAtEveryOffsetGivesSameFrames() {
    String stream = "USER alice@example.test\r\nPASS p a s s\nSTAT\r\n" + "L".repeat(300) + "\r\n\r\nQUIT\r\n";
    List<String> expected = frames(new LineFramer(MAX), stream);
    assertThat(expected).containsExactly("USER alice@example.test", "PASS p a s s", "STAT", "<too long>", "", "QUIT");
    byte[] bytes = stream.getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i <= bytes.length; i++) {
      LineFramer f = new LineFramer(MAX);
      List<String> out = new ArrayList<>();
      f.feed(Buffer.buffer(bytes).getBuffer(0, i));
      drain(f, out);
      f.feed(Buffer.buffer(bytes).getBuffer(i, bytes.length));
      drain(f, out);
      assertThat(out).as("split at %d", i).isEqualTo(expected);
    }
  }

  @Test
  void oneByteAtATime() {
    String stream = "CAPA\r\n" + "Q".repeat(400) + "\nNOOP\n";
    LineFramer f = new LineFramer(MAX);
    List<String> out = new ArrayList<>();
    for (byte b : stream.getBytes(StandardCharsets.US_ASCII)) {
      f.feed(Buffer.buffer(new byte[] {b}));
      drain(f, out);
    }
    assertThat(out).containsExactly("CAPA", "<too long>", "NOOP");
  }

  /** Pull style: frames stay buffered until asked for, so the connection can stop between commands. */
  @Test
  void framesAreHandedOutOneAtATime() {
    LineFramer f = new LineFramer(MAX);
    f.feed(buf("A\r\nB\r\n"));
    assertThat(text(f.next())).isEqualTo("A");
    f.feed(buf("C\r\n"));
    assertThat(text(f.next())).isEqualTo("B");
    assertThat(text(f.next())).isEqualTo("C");
    assertThat(f.next()).isNull();
  }

  private static List<String> frames(LineFramer f, String s) {
    f.feed(buf(s));
    List<String> out = new ArrayList<>();
    drain(f, out);
    return out;
  }

  private static void drain(LineFramer f, List<String> out) {
    LineFramer.Frame fr;
    while ((fr = f.next()) != null) {
      out.add(text(fr));
    }
  }

  private static String text(LineFramer.Frame f) {
    return f instanceof LineFramer.Line l ? l.bytes().toString(StandardCharsets.ISO_8859_1) : "<too long>";
  }

  private static Buffer buf(String s) {
    return Buffer.buffer(s.getBytes(StandardCharsets.ISO_8859_1));
  }
}
