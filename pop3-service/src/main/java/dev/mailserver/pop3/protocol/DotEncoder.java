package dev.mailserver.pop3.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Byte-stuffing of multi-line POP3 data (RFC 1939 section 3): every line that starts with '.' gets
 * one more '.' in front, the data end with CRLF (added when missing) and the terminating ".CRLF".
 * Works on bytes only, so 8-bit message content passes unchanged; incremental, so a message may be
 * fed in any number of chunks.
 *
 * <p>A line starts after every LF, bare or not: stuffing after a bare LF too keeps a lenient
 * client from mistaking "LF . CRLF" inside a message for the terminator.
 */
public final class DotEncoder {

  private static final byte CR = '\r';
  private static final byte LF = '\n';
  private static final byte DOT = '.';
  private static final byte[] CRLF = {CR, LF};
  private static final byte[] TERMINATOR = {DOT, CR, LF};

  private boolean atLineStart = true;
  private boolean seenAny;
  private byte last;
  private byte beforeLast;
  private boolean finished;

  /** Encodes everything at once: {@code encode(content)} followed by {@code finish()}. */
  public static Buffer encodeAll(Buffer content) {
    DotEncoder e = new DotEncoder();
    return e.encode(content).appendBuffer(e.finish());
  }

  /** Stuffs one chunk of the data. */
  public Buffer encode(Buffer chunk) {
    if (finished) {
      throw new IllegalStateException("already finished");
    }
    int len = chunk.length();
    Buffer out = Buffer.buffer(len + 16);
    int segStart = 0;
    for (int i = 0; i < len; i++) {
      byte b = chunk.getByte(i);
      if (atLineStart && b == DOT) {
        // Copy up to this dot, add the stuffing dot; the original dot starts the next segment.
        out.appendBuffer(chunk, segStart, i - segStart).appendByte(DOT);
        segStart = i;
      }
      atLineStart = b == LF;
      beforeLast = last;
      last = b;
      seenAny = true;
    }
    out.appendBuffer(chunk, segStart, len - segStart);
    return out;
  }

  /** The final CRLF if the data did not end with one, then the ".CRLF" terminator. */
  public Buffer finish() {
    if (finished) {
      throw new IllegalStateException("already finished");
    }
    finished = true;
    Buffer out = Buffer.buffer(5);
    if (seenAny && !(beforeLast == CR && last == LF)) {
      out.appendBytes(CRLF);
    }
    return out.appendBytes(TERMINATOR);
  }
}
