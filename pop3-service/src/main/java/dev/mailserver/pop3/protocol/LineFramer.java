package dev.mailserver.pop3.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Splits the inbound byte stream into command lines, pull style: {@link #feed} appends bytes,
 * {@link #next} hands out one frame at a time so the connection can stop between commands
 * (one command in flight) without losing pipelined bytes.
 *
 * <p>Lines end in CRLF; a bare LF is accepted too (liberal reading). A line longer than
 * {@code maxLineLength} octets including its terminator (RFC 2449 section 4: 255) yields one
 * {@link TooLong} frame as soon as it is detected; its remaining bytes are discarded up to the
 * next LF without being buffered, so a huge line costs no memory.
 */
public final class LineFramer {

  /** One framing result. */
  public sealed interface Frame {}

  /** A complete line without its CRLF (or LF). */
  public record Line(Buffer bytes) implements Frame {}

  /** A line that exceeded the limit; its bytes are dropped. */
  public record TooLong() implements Frame {}

  private static final byte LF = '\n';
  private static final byte CR = '\r';

  private int maxLineLength;
  private Buffer buf = Buffer.buffer();
  private int start;
  private int scanFrom;
  private boolean discarding;

  public LineFramer(int maxLineLength) {
    if (maxLineLength < 2) {
      throw new IllegalArgumentException("maxLineLength must be at least 2");
    }
    this.maxLineLength = maxLineLength;
  }

  /**
   * Changes the limit for the lines not handed out yet. A SASL client response may be longer than
   * a command line (RFC 5034 section 4: responses are as long as the mechanism needs), so the
   * connection raises the limit while an AUTH exchange waits for one.
   */
  public void setMaxLineLength(int maxLineLength) {
    if (maxLineLength < 2) {
      throw new IllegalArgumentException("maxLineLength must be at least 2");
    }
    this.maxLineLength = maxLineLength;
  }

  public int maxLineLength() {
    return maxLineLength;
  }

  public void feed(Buffer data) {
    if (start > 0) {
      // Compact: drop the lines already handed out.
      buf = buf.getBuffer(start, buf.length());
      scanFrom -= start;
      start = 0;
    }
    buf.appendBuffer(data);
  }

  /** True when bytes are buffered that have not been handed out (possibly an incomplete line). */
  public boolean hasBufferedBytes() {
    return buf.length() > start;
  }

  /** The next frame, or null when no complete line (and no over-long line) is buffered. */
  public Frame next() {
    while (true) {
      int len = buf.length();
      int lf = indexOfLf(Math.max(scanFrom, start), len);
      if (discarding) {
        if (lf < 0) {
          reset();
          return null;
        }
        start = lf + 1;
        scanFrom = start;
        discarding = false;
        continue;
      }
      if (lf < 0) {
        if (len - start >= maxLineLength) {
          // Even a LF as the very next byte would make this line too long: report it now.
          reset();
          discarding = true;
          return new TooLong();
        }
        scanFrom = len;
        return null;
      }
      int lineStart = start;
      start = lf + 1;
      scanFrom = start;
      if (lf + 1 - lineStart > maxLineLength) {
        return new TooLong();
      }
      int end = lf > lineStart && buf.getByte(lf - 1) == CR ? lf - 1 : lf;
      return new Line(buf.getBuffer(lineStart, end));
    }
  }

  private void reset() {
    buf = Buffer.buffer();
    start = 0;
    scanFrom = 0;
  }

  private int indexOfLf(int from, int to) {
    for (int i = from; i < to; i++) {
      if (buf.getByte(i) == LF) {
        return i;
      }
    }
    return -1;
  }
}
