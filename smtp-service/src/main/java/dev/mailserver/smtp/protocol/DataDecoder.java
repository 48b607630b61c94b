package dev.mailserver.smtp.protocol;

import io.netty.util.ByteProcessor;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.buffer.Buffer;

/**
 * Decodes the DATA stream byte by byte (RFC 5321 section 4.5.2): removes dot-stuffing, finds the
 * end-of-data CRLF "." CRLF and enforces the size cap. It is fed chunks as they arrive and says how
 * many bytes of each it consumed, so the bytes after the terminator go back to command parsing.
 *
 * <p>Lines are delimited by CRLF only (RFC 5321 section 2.3.8). A bare CR or LF is an ordinary
 * in-line byte for the purposes of dot handling and end-of-data detection: it never starts a line,
 * so {@code \n.\n}, {@code \n.\r\n}, {@code \r\n.\n} and {@code \r.\r\n} never end the message and
 * cannot smuggle a second one. What happens to those bytes is the {@link BareLineEndings} policy:
 * NORMALIZE stores a bare LF as CRLF and keeps a bare CR; REJECT flags the message.
 *
 * <p>The data begins at the start of a line: the DATA command's own line end counts as the CRLF
 * before a leading "." (so {@code .\r\n} right after DATA is an empty message).
 *
 * <p>Text lines longer than the 1000 octets of RFC 5321 section 4.5.3.1.6 are accepted (the RFC
 * lets servers accept longer lines and Postfix does); they only count toward the size cap.
 *
 * <p>Size: {@link #size()} counts the message bytes as they would be stored (after unstuffing and
 * normalising), not any prefix already in the output buffer. Past {@code maxSize}, or once the
 * message is bound to be refused (NUL, bare line end under REJECT), the output is dropped and the
 * rest is only scanned for the terminator, so memory stays bounded by the limit.
 *
 * <p>No per-line allocation: runs of ordinary bytes are copied in bulk into one output Buffer.
 */
public final class DataDecoder implements ContentSink {

  /** What to answer once the data has ended. */
  public enum Outcome {
    OK,
    /** More than maxSize octets: 552 5.3.4. */
    TOO_LARGE,
    /** A NUL octet in the content: 554 5.6.0. */
    NUL,
    /** A bare CR or LF under the REJECT policy: 550 5.6.0. */
    BARE_LINE_ENDING
  }

  private static final byte CR = '\r';
  private static final byte LF = '\n';
  private static final byte DOT = '.';
  /** True while a byte needs no attention: not CR, LF or NUL. */
  private static final ByteProcessor ORDINARY = b -> b != CR && b != LF && b != 0;

  // States: where we are relative to line structure. Pending bytes (a CR, a leading dot) are not
  // emitted until we know what they are.
  private static final int LINE_START = 0; // after CRLF (or at the very start)
  private static final int TEXT = 1;       // inside a line
  private static final int SAW_CR = 2;     // a CR is pending
  private static final int SAW_DOT = 3;    // a "." at line start is pending
  private static final int SAW_DOT_CR = 4; // ".\r" at line start is pending
  private static final int DONE = 5;       // CRLF.CRLF seen

  private final long maxSize;
  private final BareLineEndings policy;
  private Buffer out;
  private int state = LINE_START;
  private long size;
  private boolean tooLarge;
  private boolean nul;
  private boolean bareCr;
  private boolean bareLf;

  /**
   * @param maxSize the largest message accepted, in octets as stored
   * @param policy  what to do with bare CR/LF
   * @param out     where content is appended; may already hold a prefix (the trace header)
   */
  public DataDecoder(long maxSize, BareLineEndings policy, Buffer out) {
    this.maxSize = maxSize;
    this.policy = policy;
    this.out = out;
  }

  public DataDecoder(long maxSize, BareLineEndings policy) {
    this(maxSize, policy, Buffer.buffer());
  }

  /**
   * Consumes bytes {@code [from, to)} of {@code in} up to and including the end-of-data
   * terminator. Returns how many bytes it consumed: less than {@code to - from} only when the
   * terminator was found and more bytes follow it.
   */
  @Override
  public int feed(Buffer in, int from, int to) {
    int i = from;
    while (i < to && state != DONE) {
      if (state == TEXT) {
        // Fast path: find the end of a run of ordinary bytes with Netty's scanner (no bounds check
        // per byte) and copy the run in one go.
        int start = i;
        int stop = ((BufferInternal) in).getByteBuf().forEachByte(i, to - i, ORDINARY);
        i = stop < 0 ? to : stop;
        if (i > start) {
          emit(in, start, i);
        }
        if (i == to) {
          break;
        }
      }
      step(in.getByte(i++));
    }
    return i - from;
  }

  public int feed(Buffer in) {
    return feed(in, 0, in.length());
  }

  private void step(byte c) {
    switch (state) {
      case LINE_START -> {
        if (c == DOT) {
          state = SAW_DOT;
        } else {
          text(c);
        }
      }
      case TEXT -> text(c);
      case SAW_CR -> {
        if (c == LF) {
          emitCrLf();
          state = LINE_START;
        } else {
          bareCr();
          if (c != CR) {
            text(c);
          } // else: this CR is pending in turn
        }
      }
      // RFC 5321 section 4.5.2: a leading dot followed by anything but CRLF is stuffing: drop it.
      case SAW_DOT -> {
        if (c == CR) {
          state = SAW_DOT_CR;
        } else {
          text(c);
        }
      }
      case SAW_DOT_CR -> {
        if (c == LF) {
          state = DONE;
        } else {
          // ".\r" + something else: the line has more than the dot, so the dot was stuffing; the CR
          // is pending and c is decided against it.
          state = SAW_CR;
          step(c);
        }
      }
      default -> throw new IllegalStateException("fed after the end of data");
    }
  }

  /** A byte inside a line (or starting one that is not a dot line). */
  private void text(byte c) {
    if (c == CR) {
      state = SAW_CR;
      return;
    }
    state = TEXT;
    if (c == LF) {
      bareLf = true;
      if (policy == BareLineEndings.REJECT) {
        discard();
        count(1);
      } else {
        // Stored as CRLF, but it does not start a line: a following "." is content.
        emitCrLf();
      }
      return;
    }
    if (c == 0) {
      nul = true;
      discard();
    }
    emitByte(c);
  }

  private void bareCr() {
    bareCr = true;
    if (policy == BareLineEndings.REJECT) {
      discard();
    }
    emitByte(CR);
  }

  private void emit(Buffer in, int start, int end) {
    if (count(end - start)) {
      out.appendBuffer(in, start, end - start);
    }
  }

  private void emitByte(byte b) {
    if (count(1)) {
      out.appendByte(b);
    }
  }

  private void emitCrLf() {
    if (count(2)) {
      out.appendByte(CR).appendByte(LF);
    }
  }

  /** Counts n message bytes; true when they should be appended to the output. */
  private boolean count(int n) {
    size += n;
    if (size > maxSize && !tooLarge) {
      tooLarge = true;
      discard();
    }
    return out != null;
  }

  /** The message will be refused: stop holding its bytes. */
  private void discard() {
    out = null;
  }

  /** True once CRLF.CRLF has been consumed. */
  @Override
  public boolean isDone() {
    return state == DONE;
  }

  /** Message octets seen so far, as they would be stored (excluding any prefix in the output). */
  public long size() {
    return size;
  }

  public boolean sawBareCr() {
    return bareCr;
  }

  public boolean sawBareLf() {
    return bareLf;
  }

  public Outcome outcome() {
    if (tooLarge) {
      return Outcome.TOO_LARGE;
    }
    if (nul) {
      return Outcome.NUL;
    }
    if (policy == BareLineEndings.REJECT && (bareCr || bareLf)) {
      return Outcome.BARE_LINE_ENDING;
    }
    return Outcome.OK;
  }

  /** The decoded message (after any prefix the output held); null unless the outcome is OK. */
  public Buffer content() {
    return outcome() == Outcome.OK ? out : null;
  }
}
