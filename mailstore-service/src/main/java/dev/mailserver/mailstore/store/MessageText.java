package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Byte-level message helpers shared by every store: Return-Path, TOP, Subject. */
public final class MessageText {
  private MessageText() {}

  /** Subjects longer than this are cut in events: folding allows unbounded headers. */
  static final int MAX_SUBJECT_CHARS = 4096;

  /**
   * The {@code Return-Path: <sender>\r\n} line (RFC 5321 section 4.4). A sender containing CR, LF
   * or NUL would inject headers, so it is refused rather than stored.
   */
  public static byte[] returnPath(String sender) {
    if (sender == null || sender.indexOf('\r') >= 0 || sender.indexOf('\n') >= 0 || sender.indexOf(0) >= 0) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "invalid sender");
    }
    return ("Return-Path: <" + sender + ">\r\n").getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Copies the header section, the blank line and at most {@code bodyLines} body lines. Reads the
   * stream only as far as needed. A message without a blank line is returned whole (it is all header).
   */
  public static Buffer top(InputStream in, int bodyLines) throws IOException {
    if (bodyLines < 0) {
      throw new MailstoreException(MailstoreError.INVALID_REQUEST, "bodyLines must be >= 0");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    boolean inBody = false;
    int remaining = bodyLines;
    while (!inBody || remaining > 0) {
      line.reset();
      int c;
      while ((c = in.read()) >= 0) {
        line.write(c);
        if (c == '\n') {
          break;
        }
      }
      if (line.size() == 0) {
        break; // end of message
      }
      line.writeTo(out);
      if (inBody) {
        remaining--;
      } else if (isBlankLine(line)) {
        inBody = true;
      }
      if (c < 0) {
        break;
      }
    }
    return Buffer.buffer(out.toByteArray());
  }

  private static boolean isBlankLine(ByteArrayOutputStream line) {
    byte[] b = line.toByteArray();
    return (b.length == 2 && b[0] == '\r' && b[1] == '\n') || (b.length == 1 && b[0] == '\n');
  }

  /**
   * The first Subject header of the message, unfolded (CRLF before continuation whitespace removed),
   * not MIME-decoded, trimmed; empty if there is none. Only the header section is scanned.
   */
  public static String subject(Buffer message) {
    int len = message.length();
    int pos = 0;
    while (pos < len) {
      int eol = lineEnd(message, pos, len);
      int contentEnd = contentEnd(message, pos, eol);
      if (contentEnd == pos) {
        return ""; // blank line: end of the header section
      }
      if (startsWithIgnoreCase(message, pos, contentEnd, "subject:")) {
        StringBuilder value = new StringBuilder(
            message.getString(pos + "subject:".length(), contentEnd, StandardCharsets.UTF_8.name()));
        int next = eol;
        // Continuation lines start with SP or HTAB (RFC 5322 section 2.2.3).
        while (next < len && (message.getByte(next) == ' ' || message.getByte(next) == '\t')
            && value.length() < MAX_SUBJECT_CHARS) {
          int e = lineEnd(message, next, len);
          value.append(message.getString(next, contentEnd(message, next, e), StandardCharsets.UTF_8.name()));
          next = e;
        }
        String s = value.toString().strip();
        return s.length() > MAX_SUBJECT_CHARS ? s.substring(0, MAX_SUBJECT_CHARS) : s;
      }
      pos = eol;
    }
    return "";
  }

  /** Index just after the LF ending the line that starts at {@code pos}, or {@code len}. */
  private static int lineEnd(Buffer b, int pos, int len) {
    for (int i = pos; i < len; i++) {
      if (b.getByte(i) == '\n') {
        return i + 1;
      }
    }
    return len;
  }

  /** End of the line's content, excluding its CRLF or LF. */
  private static int contentEnd(Buffer b, int start, int eol) {
    int e = eol;
    if (e > start && b.getByte(e - 1) == '\n') {
      e--;
    }
    if (e > start && b.getByte(e - 1) == '\r') {
      e--;
    }
    return e;
  }

  private static boolean startsWithIgnoreCase(Buffer b, int start, int end, String prefix) {
    if (end - start < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (Character.toLowerCase((char) b.getByte(start + i)) != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
