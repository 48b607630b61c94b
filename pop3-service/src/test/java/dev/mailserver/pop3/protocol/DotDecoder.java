package dev.mailserver.pop3.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Test-side reference of the client half of RFC 1939 section 3, written apart from the encoder. */
public final class DotDecoder {
  private DotDecoder() {}

  /**
   * Lines are CRLF-terminated; ".CRLF" ends the data and must be the last bytes; one leading dot is
   * removed from every other line. A bare LF is data here.
   */
  public static byte[] unstuff(byte[] wire) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int pos = 0;
    while (true) {
      int end = indexOfCrlf(wire, pos);
      if (end < 0) {
        throw new AssertionError("no terminator in " + new String(wire, StandardCharsets.ISO_8859_1));
      }
      if (end - pos == 1 && wire[pos] == '.') {
        if (end + 2 != wire.length) {
          throw new AssertionError("bytes after the terminator");
        }
        return out.toByteArray();
      }
      int from = wire[pos] == '.' ? pos + 1 : pos;
      out.write(wire, from, end + 2 - from);
      pos = end + 2;
    }
  }

  private static int indexOfCrlf(byte[] a, int from) {
    for (int i = from; i + 1 < a.length; i++) {
      if (a[i] == '\r' && a[i + 1] == '\n') {
        return i;
      }
    }
    return -1;
  }
}
