package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DataDecoderTest {

  /** What a decoder made of one input. */
  record Result(boolean done, int consumed, DataDecoder.Outcome outcome, String content, long size) {}

  static Result decodeWhole(String input, long max, BareLineEndings policy) {
    Buffer in = bytes(input);
    DataDecoder d = new DataDecoder(max, policy);
    int consumed = d.feed(in, 0, in.length());
    return result(d, consumed);
  }

  /** Feeds the input in pieces cut at the given offsets, as the connection would. */
  static Result decodeSplit(String input, long max, BareLineEndings policy, int... cuts) {
    Buffer in = bytes(input);
    DataDecoder d = new DataDecoder(max, policy);
    int consumed = 0;
    int from = 0;
    for (int k = 0; k <= cuts.length; k++) {
      int to = k < cuts.length ? cuts[k] : in.length();
      // Each piece is its own Buffer, starting at 0, like socket chunks.
      Buffer piece = in.getBuffer(from, to);
      if (!d.isDone()) {
        consumed += d.feed(piece, 0, piece.length());
      }
      from = to;
    }
    return result(d, consumed);
  }

  private static Result result(DataDecoder d, int consumed) {
    Buffer c = d.content();
    return new Result(d.isDone(), consumed, d.outcome(), c == null ? null : c.toString(StandardCharsets.ISO_8859_1), d.size());
  }

  static Buffer bytes(String s) {
    return Buffer.buffer(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        // input, expected content (normalize), done, consumed (-1 = all)
        Arguments.of(".\r\n", "", true, 3),
        Arguments.of("hello\r\n.\r\n", "hello\r\n", true, -1),
        Arguments.of("hello\r\n.\r\nQUIT\r\n", "hello\r\n", true, 10),
        Arguments.of("..\r\n.\r\n", ".\r\n", true, -1),
        Arguments.of("...\r\n.\r\n", "..\r\n", true, -1),
        Arguments.of(".x\r\n..y\r\nz.\r\n.\r\n", "x\r\n.y\r\nz.\r\n", true, -1),
        Arguments.of("a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, -1),
        // The terminator needs the CRLF before it: a "." that is not at a line start is content.
        Arguments.of("a.\r\n.\r\n", "a.\r\n", true, -1),
        // SMTP smuggling sequences never end the data (RFC 5321 section 2.3.8; CVE-2023-51764 class).
        Arguments.of("a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", true, -1),
        Arguments.of("a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", true, -1),
        Arguments.of("a\r\n.\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, -1),
        Arguments.of("a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", true, -1),
        Arguments.of("a\r\n.\r.\r\n.\r\n", "a\r\n\r.\r\n", true, -1),
        Arguments.of("a\r\r\n.\r\n", "a\r\r\n", true, -1),
        Arguments.of("a\r\n.\rx\r\n.\r\n", "a\r\n\rx\r\n", true, -1),
        // Not finished yet.
        Arguments.of("a\r\n.", "a\r\n", false, -1),
        Arguments.of("a\r\n.\r", "a\r\n", false, -1),
        Arguments.of("a\n.\n", "a\r\n.\r\n", false, -1),
        Arguments.of("", "", false, -1));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void decodesAndFindsTheTerminator(String input, String expected, boolean done, int consumed) {
    Result r = decodeWhole(input, 1_000_000, BareLineEndings.NORMALIZE);
    assertThat(r.done()).as("done").isEqualTo(done);
    assertThat(r.consumed()).as("consumed").isEqualTo(consumed < 0 ? input.length() : consumed);
    assertThat(r.outcome()).isEqualTo(DataDecoder.Outcome.OK);
    assertThat(r.content()).isEqualTo(expected);
    assertThat(r.size()).isEqualTo(expected.length());
  }

  @ParameterizedTest
  @MethodSource("cases")
  void sameResultWhereverTheInputIsSplit(String input, String expected, boolean done, int consumed) {
    for (BareLineEndings policy : BareLineEndings.values()) {
      Result whole = decodeWhole(input, 1_000_000, policy);
      for (int cut = 0; cut <= input.length(); cut++) {
        assertThat(decodeSplit(input, 1_000_000, policy, cut)).as("cut at %d", cut).isEqualTo(whole);
      }
      int[] everyByte = new int[input.length()];
      for (int i = 0; i < everyByte.length; i++) {
        everyByte[i] = i;
      }
      assertThat(decodeSplit(input, 1_000_000, policy, everyByte)).as("byte by byte").isEqualTo(whole);
    }
  }

  @Test
  void rejectPolicyFlagsBareLineEndingsButStillFindsTheRealEnd() {
    for (String s : new String[] {"a\nb\r\n.\r\n", "a\rb\r\n.\r\n", "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\r.\r\n.\r\n"}) {
      Result r = decodeWhole(s + "NOOP\r\n", 1_000_000, BareLineEndings.REJECT);
      assertThat(r.done()).as(s).isTrue();
      assertThat(r.consumed()).as(s).isEqualTo(s.length());
      assertThat(r.outcome()).as(s).isEqualTo(DataDecoder.Outcome.BARE_LINE_ENDING);
      assertThat(r.content()).isNull();
    }
    assertThat(decodeWhole("clean\r\n.\r\n", 100, BareLineEndings.REJECT).outcome()).isEqualTo(DataDecoder.Outcome.OK);
  }

  @Test
  void nulIsReportedAfterTheEnd() {
    Result r = decodeWhole("a\0b\r\n.\r\n", 100, BareLineEndings.NORMALIZE);
    assertThat(r.done()).isTrue();
    assertThat(r.outcome()).isEqualTo(DataDecoder.Outcome.NUL);
    assertThat(r.content()).isNull();
  }

  @Test
  void sizeLimitCountsUnstuffedBytesAndReadsToTheEnd() {
    // "..x\r\n" is stored as ".x\r\n": 4 bytes.
    assertThat(decodeWhole("..x\r\n.\r\n", 4, BareLineEndings.NORMALIZE).outcome()).isEqualTo(DataDecoder.Outcome.OK);
    Result over = decodeWhole("..xy\r\n.\r\nNOOP\r\n", 4, BareLineEndings.NORMALIZE);
    assertThat(over.outcome()).isEqualTo(DataDecoder.Outcome.TOO_LARGE);
    assertThat(over.done()).isTrue();
    assertThat(over.consumed()).isEqualTo(9);
    assertThat(over.content()).isNull();
    assertThat(over.size()).isEqualTo(5);
  }

  @Test
  void outputDoesNotGrowPastTheLimit() {
    Buffer out = Buffer.buffer();
    DataDecoder d = new DataDecoder(1000, BareLineEndings.NORMALIZE, out);
    Buffer chunk = bytes("x".repeat(998) + "\r\n");
    for (int i = 0; i < 100; i++) {
      d.feed(chunk, 0, chunk.length());
    }
    // The output stops at the chunk that crossed the limit; the rest is only counted.
    assertThat(out.length()).isLessThanOrEqualTo(1000);
    assertThat(d.size()).isEqualTo(100_000);
    d.feed(bytes(".\r\n"), 0, 3);
    assertThat(d.isDone()).isTrue();
    assertThat(d.outcome()).isEqualTo(DataDecoder.Outcome.TOO_LARGE);
  }

  @Test
  void keepsAPrefixAlreadyInTheOutputOutOfTheCount() {
    Buffer out = Buffer.buffer("Received: x\r\n");
    DataDecoder d = new DataDecoder(5, BareLineEndings.NORMALIZE, out);
    d.feed(bytes("abc\r\n.\r\n"));
    assertThat(d.outcome()).isEqualTo(DataDecoder.Outcome.OK);
    assertThat(d.content().toString()).isEqualTo("Received: x\r\nabc\r\n");
  }

  @Test
  void longTextLinesAreAcceptedWithinTheSizeCap() {
    String line = "y".repeat(5000) + "\r\n";
    Result r = decodeWhole(line + ".\r\n", 10_000, BareLineEndings.NORMALIZE);
    assertThat(r.outcome()).isEqualTo(DataDecoder.Outcome.OK);
    assertThat(r.content()).isEqualTo(line);
  }

  @Test
  void undoesExactlyWhatADotStufferDid() {
    Random rnd = new Random(42);
    byte[] alphabet = {'a', '.', '.', '\r', '\n', ' ', 'z', (byte) 0xe9};
    for (int round = 0; round < 300; round++) {
      // Random CRLF-structured text: lines of random bytes without CR/LF, some starting with dots.
      ByteArrayOutputStream msg = new ByteArrayOutputStream();
      int lines = rnd.nextInt(8);
      for (int l = 0; l < lines; l++) {
        int len = rnd.nextInt(6);
        for (int k = 0; k < len; k++) {
          byte b = alphabet[rnd.nextInt(alphabet.length)];
          msg.write(b == '\r' || b == '\n' ? '.' : b);
        }
        msg.writeBytes(new byte[] {'\r', '\n'});
      }
      byte[] original = msg.toByteArray();
      Buffer wire = stuff(original).appendString(".\r\n");
      DataDecoder d = new DataDecoder(1_000_000, BareLineEndings.REJECT);
      int cut = rnd.nextInt(wire.length() + 1);
      int n = d.feed(wire.getBuffer(0, cut), 0, cut);
      n += d.feed(wire.getBuffer(cut, wire.length()), 0, wire.length() - cut);
      assertThat(n).isEqualTo(wire.length());
      assertThat(d.isDone()).isTrue();
      assertThat(d.content().getBytes()).isEqualTo(original);
    }
  }

  /** RFC 5321 section 4.5.2 transparency, as a client does it. */
  static Buffer stuff(byte[] msg) {
    Buffer b = Buffer.buffer();
    boolean lineStart = true;
    for (byte c : msg) {
      if (lineStart && c == '.') {
        b.appendByte((byte) '.');
      }
      b.appendByte(c);
      lineStart = c == '\n';
    }
    return b;
  }
}
