package dev.mailserver.pop3.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class DotEncoderTest {

  /** Rows: input, expected wire bytes; "\r" and "\n" are written as \r and \n. */
  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', value = {
      "''                         | .\\r\\n",
      "abc\\r\\n                  | abc\\r\\n.\\r\\n",
      "abc                        | abc\\r\\n.\\r\\n",
      ".abc\\r\\n                 | ..abc\\r\\n.\\r\\n",
      "a\\r\\n.\\r\\nb\\r\\n      | a\\r\\n..\\r\\nb\\r\\n.\\r\\n",
      "a\\r\\n..b                 | a\\r\\n...b\\r\\n.\\r\\n",
      "a.b\\r\\nc. .\\r\\n        | a.b\\r\\nc. .\\r\\n.\\r\\n",
      ".                          | ..\\r\\n.\\r\\n",
      "a\\n.b                     | a\\n..b\\r\\n.\\r\\n",
      "a\\r                       | a\\r\\r\\n.\\r\\n",
      "\\r\\n                     | \\r\\n.\\r\\n",
      "\\r\\n.\\r\\n              | \\r\\n..\\r\\n.\\r\\n",
  })
  void encodes(String input, String expected) {
    Buffer in = buf(unescape(input));
    assertThat(str(DotEncoder.encodeAll(in))).isEqualTo(unescape(expected));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', value = {
      "''",
      ".",
      "..\\r\\n.\\r\\n...\\r\\n",
      "Subject: x\\r\\n\\r\\n.hidden\\r\\nend. of line\\r\\n.\\r\\n",
      "no final crlf\\r\\n.last",
      "bare\\n.lf\\n",
  })
  void incrementalEncodingSplitAtEveryOffsetMatchesOneShot(String input) {
    byte[] bytes = unescape(input).getBytes(StandardCharsets.ISO_8859_1);
    Buffer expected = DotEncoder.encodeAll(Buffer.buffer(bytes));
    for (int i = 0; i <= bytes.length; i++) {
      for (int j = i; j <= bytes.length; j++) {
        DotEncoder e = new DotEncoder();
        Buffer out = Buffer.buffer();
        out.appendBuffer(e.encode(Buffer.buffer(bytes).getBuffer(0, i)));
        out.appendBuffer(e.encode(Buffer.buffer(bytes).getBuffer(i, j)));
        out.appendBuffer(e.encode(Buffer.buffer(bytes).getBuffer(j, bytes.length)));
        out.appendBuffer(e.finish());
        assertThat(str(out)).as("split at %d/%d", i, j).isEqualTo(str(expected));
      }
    }
  }

  @Test
  void oneByteChunksMatchOneShot() {
    byte[] bytes = "From: a\r\n\r\n.\r\n..x\r\ny.\r\n.".getBytes(StandardCharsets.ISO_8859_1);
    DotEncoder e = new DotEncoder();
    Buffer out = Buffer.buffer();
    for (byte b : bytes) {
      out.appendBuffer(e.encode(Buffer.buffer(new byte[] {b})));
    }
    out.appendBuffer(e.finish());
    assertThat(str(out)).isEqualTo(str(DotEncoder.encodeAll(Buffer.buffer(bytes))));
  }

  /**
   * Any content made of CRLF-terminated lines (the store's contract), 8-bit bytes and NULs
   * included, survives stuffing and unstuffing unchanged.
   */
  @Test
  void randomBinaryContentRoundTrips() {
    Random rnd = new Random(42);
    byte[] alphabet = {'.', '.', 'a', (byte) 0xFF, 0, (byte) 0xE9, ' ', '\r'};
    for (int round = 0; round < 500; round++) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int lines = rnd.nextInt(8);
      for (int l = 0; l < lines; l++) {
        int n = rnd.nextInt(10);
        for (int i = 0; i < n; i++) {
          b.write(alphabet[rnd.nextInt(alphabet.length - (i == n - 1 ? 1 : 0))]);
        }
        b.writeBytes(new byte[] {'\r', '\n'});
      }
      byte[] content = b.toByteArray();
      byte[] wire = DotEncoder.encodeAll(Buffer.buffer(content)).getBytes();
      assertThat(unstuff(wire)).as("round %d", round).isEqualTo(content);
    }
  }

  @Test
  void finishTwiceIsABug() {
    DotEncoder e = new DotEncoder();
    e.finish();
    assertThatThrownBy(e::finish).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> e.encode(Buffer.buffer("x"))).isInstanceOf(IllegalStateException.class);
  }

  static byte[] unstuff(byte[] wire) {
    return DotDecoder.unstuff(wire);
  }

  static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n");
  }

  private static Buffer buf(String s) {
    return Buffer.buffer(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static String str(Buffer b) {
    return b.toString(StandardCharsets.ISO_8859_1);
  }
}
