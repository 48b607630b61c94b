package dev.mailserver.pop3.protocol;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A POP3 response: a status line ({@code +OK} or {@code -ERR}), for {@link MultiLine} followed by
 * dot-stuffed data and the terminating {@code .} line (RFC 1939 section 3). Encoded in one place,
 * {@link #encode()}; I/O code never builds reply text.
 */
public sealed interface Pop3Reply {

  /** Extended response codes of RFC 2449 section 8 and RFC 3206. */
  enum RespCode {
    /** RFC 2449 section 8.1.2: another session holds the maildrop lock. */
    IN_USE("IN-USE"),
    /** RFC 3206 section 4: the failure is the client's credentials. */
    AUTH("AUTH"),
    /** RFC 3206 section 5: a temporary system failure; retrying later may work. */
    SYS_TEMP("SYS/TEMP"),
    /** RFC 3206 section 5: a permanent system failure. */
    SYS_PERM("SYS/PERM");

    private final String text;

    RespCode(String text) {
      this.text = text;
    }

    public String text() {
      return text;
    }
  }

  /** Positive single-line reply. */
  record Ok(String text) implements Pop3Reply {
    public Ok {
      text = clean(text);
    }

    @Override
    public String statusLine() {
      return okLine(text);
    }
  }

  /** Negative reply, optionally with a response code in brackets right after -ERR (RFC 2449 section 8). */
  record Err(Optional<RespCode> code, String text) implements Pop3Reply {
    public Err {
      Objects.requireNonNull(code, "code");
      text = clean(text);
    }

    @Override
    public String statusLine() {
      return "-ERR" + code.map(c -> " [" + c.text() + "]").orElse("") + (text.isEmpty() ? "" : " " + text) + "\r\n";
    }
  }

  /** +OK line followed by {@code content} (not yet stuffed) as dot-stuffed data and ".". */
  record MultiLine(String text, Buffer content) implements Pop3Reply {
    public MultiLine {
      text = clean(text);
      Objects.requireNonNull(content, "content");
    }

    @Override
    public Buffer encode() {
      return Buffer.buffer(statusLine(), StandardCharsets.US_ASCII.name()).appendBuffer(DotEncoder.encodeAll(content));
    }

    @Override
    public String statusLine() {
      return okLine(text);
    }
  }

  /**
   * A SASL continuation (RFC 5034 section 4): {@code "+" SP base64-challenge}. PLAIN sends an empty
   * challenge, so the line is {@code "+ "} and the client answers with its base64 response line.
   */
  record Continue(String challenge) implements Pop3Reply {
    public Continue {
      challenge = clean(challenge);
    }

    @Override
    public String statusLine() {
      return "+ " + challenge + "\r\n";
    }
  }

  /** The bytes to write: the status line alone, except for {@link MultiLine}. */
  default Buffer encode() {
    return Buffer.buffer(statusLine(), StandardCharsets.US_ASCII.name());
  }

  /** The first line, CRLF included. */
  String statusLine();

  default boolean isOk() {
    return !(this instanceof Err);
  }

  static Pop3Reply ok(String text) {
    return new Ok(text);
  }

  static Pop3Reply err(String text) {
    return new Err(Optional.empty(), text);
  }

  static Pop3Reply err(RespCode code, String text) {
    return new Err(Optional.of(code), text);
  }

  static Pop3Reply challenge(String base64) {
    return new Continue(base64);
  }

  static Pop3Reply multiLine(String text, Buffer content) {
    return new MultiLine(text, content);
  }

  /** A multi-line reply whose data are text lines (LIST, UIDL, CAPA). */
  static Pop3Reply lines(String text, List<String> lines) {
    Buffer b = Buffer.buffer();
    for (String l : lines) {
      b.appendString(clean(l), StandardCharsets.US_ASCII.name()).appendString("\r\n");
    }
    return new MultiLine(text, b);
  }

  private static String okLine(String text) {
    return text.isEmpty() ? "+OK\r\n" : "+OK " + text + "\r\n";
  }

  /** Status text must not break the line structure (no CR/LF injection through arguments). */
  private static String clean(String s) {
    Objects.requireNonNull(s, "text");
    return s.replace('\r', ' ').replace('\n', ' ');
  }
}
