package dev.mailserver.smtp.protocol;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * One SMTP reply: a three-digit code, an optional RFC 3463 enhanced status code and one or more
 * text lines. It formats itself (RFC 5321 section 4.2): every line but the last is
 * {@code code-text}, the last {@code code SP text}; with ENHANCEDSTATUSCODES (RFC 2034 section 3)
 * the enhanced code starts the text of every line.
 *
 * @param code     the basic reply code (200..599)
 * @param enhanced the enhanced status code ("2.0.0"), or null where RFC 2034 does not ask for one
 *                 (the greeting and the EHLO/HELO responses)
 * @param lines    the reply text, at least one line, no CR or LF inside
 */
public record SmtpReply(int code, String enhanced, List<String> lines) {

  public SmtpReply {
    if (code < 200 || code > 599) {
      throw new IllegalArgumentException("reply code out of range: " + code);
    }
    if (enhanced != null && !enhanced.matches("[245]\\.\\d{1,3}\\.\\d{1,3}")) {
      throw new IllegalArgumentException("bad enhanced status code: " + enhanced);
    }
    if (enhanced != null && enhanced.charAt(0) - '0' != code / 100) {
      // RFC 3463 section 3.1: the class digit must agree with the basic code.
      throw new IllegalArgumentException("enhanced code " + enhanced + " does not match " + code);
    }
    lines = List.copyOf(lines);
    if (lines.isEmpty()) {
      throw new IllegalArgumentException("a reply needs at least one line");
    }
    for (String l : lines) {
      Objects.requireNonNull(l, "line");
      if (l.indexOf('\r') >= 0 || l.indexOf('\n') >= 0) {
        throw new IllegalArgumentException("reply line contains CR or LF: " + l);
      }
    }
  }

  /** A one-line reply with an enhanced status code. */
  public static SmtpReply of(int code, String enhanced, String text) {
    return new SmtpReply(code, enhanced, List.of(text));
  }

  /** A one-line reply without an enhanced status code (greeting, HELO). */
  public static SmtpReply plain(int code, String text) {
    return new SmtpReply(code, null, List.of(text));
  }

  /** 2xx and 3xx. */
  public boolean isPositive() {
    return code < 400;
  }

  /**
   * 221 (after QUIT) and 421 (service shutting down) close the transmission channel
   * (RFC 5321 sections 3.8 and 4.2.2): the connection closes after writing them.
   */
  public boolean closesConnection() {
    return code == 221 || code == 421;
  }

  /** The text of the last line, for logs and tests. */
  public String text() {
    return lines.get(lines.size() - 1);
  }

  /** The wire form, every line ending in CRLF. Text may be UTF-8 (RFC 6531 section 3.7.4). */
  public Buffer toBuffer() {
    StringBuilder sb = new StringBuilder(64 * lines.size());
    for (int i = 0; i < lines.size(); i++) {
      sb.append(code).append(i == lines.size() - 1 ? ' ' : '-');
      if (enhanced != null) {
        sb.append(enhanced).append(' ');
      }
      sb.append(lines.get(i)).append("\r\n");
    }
    return Buffer.buffer(sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return toBuffer().toString(StandardCharsets.UTF_8).trim();
  }
}
