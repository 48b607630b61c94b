package dev.mailserver.smtp.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Where message content goes while the connection is not reading command lines: the dot-stuffed
 * DATA stream ({@link DataDecoder}) or one exact-length BDAT chunk ({@link BdatChunk}). The
 * connection feeds it until {@link #isDone()}, then asks the handler for the reply; whatever
 * follows in the same input chunk goes back to command parsing.
 */
public interface ContentSink {

  /**
   * Consumes bytes {@code [from, to)} of {@code in} up to the end of the content. Returns how many
   * it consumed: less than {@code to - from} only when the content ended and more bytes follow.
   */
  int feed(Buffer in, int from, int to);

  /** True once the whole content has been consumed (at once for a zero-length chunk). */
  boolean isDone();
}
