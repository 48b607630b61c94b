package dev.mailserver.pop3.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;

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

  /** Encodes everything at once: {@code encode(content)} followed by {@code finish()}, in a new buffer. */
  public static Buffer encodeAll(Buffer content) {
    DotEncoder e = new DotEncoder();
    Buffer body = e.encode(content);
    Buffer end = e.finish();
    return Buffer.buffer(body.length() + end.length()).appendBuffer(body).appendBuffer(end);
  }

  /**
   * Stuffs one chunk of the data. Reads the chunk in place (no copy) and jumps from line feed to
   * line feed ({@code ByteBuf.indexOf}); a chunk with no line starting with '.' (most mail) is
   * returned as it is, so the caller must treat the result as read-only: it may be {@code chunk}
   * itself, or share its memory. Otherwise the result is a new buffer with the dots added.
   */
  public Buffer encode(Buffer chunk) {
    if (finished) {
      throw new IllegalStateException("already finished");
    }
    int len = chunk.length();
    if (len == 0) {
      return Buffer.buffer(0);
    }
    ByteBuf in = chunk instanceof BufferInternal bi ? bi.getByteBuf() : Unpooled.wrappedBuffer(chunk.getBytes());
    int base = in.readerIndex();
    int limit = base + len;
    Buffer out = null;
    int copied = 0;
    int pos = atLineStart ? base : nextLineStart(in, base, limit);
    while (pos >= 0 && pos < limit) {
      if (in.getByte(pos) == DOT) {
        if (out == null) {
          out = Buffer.buffer(len + 64);
        }
        out.appendBuffer(chunk, copied, pos - base - copied).appendByte(DOT);
        copied = pos - base;
      }
      pos = nextLineStart(in, pos, limit);
    }
    beforeLast = len >= 2 ? in.getByte(limit - 2) : last;
    last = in.getByte(limit - 1);
    atLineStart = last == LF;
    seenAny = true;
    if (out == null) {
      return chunk;
    }
    return out.appendBuffer(chunk, copied, len - copied);
  }

  /** The index after the next LF at or after {@code from}, or -1. */
  private static int nextLineStart(ByteBuf in, int from, int limit) {
    int lf = in.indexOf(from, limit, LF);
    return lf < 0 ? -1 : lf + 1;
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
