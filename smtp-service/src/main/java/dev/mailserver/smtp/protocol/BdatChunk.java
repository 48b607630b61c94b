package dev.mailserver.smtp.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Reads exactly the announced number of octets of one {@code BDAT} chunk (RFC 3030 section 2):
 * no dot-unstuffing, no line parsing, no end marker; a CRLF.CRLF inside is content like any
 * other bytes. The bytes are appended to a target buffer, or dropped when the chunk is being
 * consumed only so that the next command can be found (RFC 3030 section 2: a server that fails a
 * BDAT "MUST accept and discard the associated message data" before replying).
 */
public final class BdatChunk implements ContentSink {
  private final long size;
  private final boolean last;
  private final Buffer target;
  private long remaining;

  /**
   * @param size   the chunk-size from the command line
   * @param last   the command carried the LAST end-marker
   * @param target where the octets go, or null to discard them
   */
  public BdatChunk(long size, boolean last, Buffer target) {
    if (size < 0) {
      throw new IllegalArgumentException("negative chunk size");
    }
    this.size = size;
    this.last = last;
    this.target = target;
    this.remaining = size;
  }

  @Override
  public int feed(Buffer in, int from, int to) {
    int n = (int) Math.min(remaining, (long) to - from);
    if (n > 0 && target != null) {
      target.appendBuffer(in, from, n);
    }
    remaining -= n;
    return n;
  }

  @Override
  public boolean isDone() {
    return remaining == 0;
  }

  public long size() {
    return size;
  }

  public boolean last() {
    return last;
  }

  /** Whether the octets are kept (false: read and dropped). */
  public boolean keeps() {
    return target != null;
  }

  /**
   * Parses the BDAT arguments: {@code chunk-size [SP "LAST"]} (RFC 3030 section 2:
   * {@code bdat-cmd ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF}, {@code chunk-size ::= 1*DIGIT},
   * {@code end-marker ::= "LAST"}; LAST case-insensitive like every SMTP keyword, RFC 5321 section 2.4).
   * A size beyond a long saturates to Long.MAX_VALUE: it is over any size limit anyway, and the
   * octets still have to be consumed.
   *
   * @return {size, last ? 1 : 0}, or null when the arguments do not match the grammar
   */
  public static long[] parseArgs(String args) {
    String[] parts = args.split(" ", -1);
    if (parts.length < 1 || parts.length > 2 || parts[0].isEmpty()) {
      return null;
    }
    String digits = parts[0];
    for (int i = 0; i < digits.length(); i++) {
      char c = digits.charAt(i);
      if (c < '0' || c > '9') {
        return null;
      }
    }
    boolean last = false;
    if (parts.length == 2) {
      if (!parts[1].equalsIgnoreCase("LAST")) {
        return null;
      }
      last = true;
    }
    String trimmed = digits.replaceFirst("^0+(?=.)", "");
    long size = trimmed.length() > 18 ? Long.MAX_VALUE : Long.parseLong(trimmed);
    return new long[] {size, last ? 1 : 0};
  }
}
