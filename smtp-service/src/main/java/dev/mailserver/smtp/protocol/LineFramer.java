package dev.mailserver.smtp.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Splits command input into lines. Unlike a RecordParser it hands out one line at a time and says
 * how many bytes of each chunk it took, so the connection can stop while a command is in flight and
 * give the bytes after "DATA" CRLF to the {@link DataDecoder} instead.
 *
 * <p>A line ends at LF; a CR before it is removed. A bare LF ending is accepted for commands: it
 * cannot hide anything there, and Postfix and Sendmail accept it too.
 *
 * <p>Lines longer than {@code maxLength} octets (counting the CRLF) are not buffered: the rest up
 * to the next LF is discarded and the line is reported as too long (RFC 5321 section 4.5.3.1.4 asks
 * for 500 then), so a client cannot make us hold unbounded input.
 */
public final class LineFramer {

  /** One framed line. */
  public record Line(Buffer bytes, boolean tooLong, boolean bareLf) {}

  private final int maxLength;
  private Buffer current = Buffer.buffer(128);
  private int seen;
  private boolean overflow;
  private Line ready;

  /** @param maxLength the longest line accepted, in octets including CRLF */
  public LineFramer(int maxLength) {
    if (maxLength < 3) {
      throw new IllegalArgumentException("maxLength too small: " + maxLength);
    }
    this.maxLength = maxLength;
  }

  /**
   * Consumes bytes {@code [from, to)} of {@code in} up to the end of the next line. Returns how many
   * it took; 0 while a completed line has not been taken yet.
   */
  public int feed(Buffer in, int from, int to) {
    if (ready != null) {
      return 0;
    }
    for (int i = from; i < to; i++) {
      if (in.getByte(i) == '\n') {
        append(in, from, i);
        finish();
        return i + 1 - from;
      }
    }
    append(in, from, to);
    return to - from;
  }

  public int feed(Buffer in) {
    return feed(in, 0, in.length());
  }

  public boolean hasLine() {
    return ready != null;
  }

  /** The completed line, or null; the framer then moves on to the next one. */
  public Line take() {
    Line l = ready;
    ready = null;
    return l;
  }

  private void append(Buffer in, int from, int to) {
    int n = to - from;
    if (n == 0) {
      return;
    }
    seen += n;
    // Up to maxLength - 1 octets may precede the LF (the last of them the CR).
    if (seen > maxLength - 1) {
      overflow = true;
      current = null;
    }
    if (!overflow) {
      current.appendBuffer(in, from, n);
    }
  }

  private void finish() {
    if (overflow) {
      ready = new Line(null, true, false);
    } else {
      int len = current.length();
      boolean cr = len > 0 && current.getByte(len - 1) == '\r';
      ready = new Line(cr ? current.getBuffer(0, len - 1) : current, false, !cr);
    }
    current = Buffer.buffer(128);
    seen = 0;
    overflow = false;
  }
}
