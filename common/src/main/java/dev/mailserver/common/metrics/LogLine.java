package dev.mailserver.common.metrics;

/**
 * One structured log line: an event name, then {@code key=value} pairs, e.g.
 * {@code smtp session end client=192.0.2.1 helo=mx.example outcome=quit}. Grep- and
 * logfmt-friendly: a value with anything but plain characters is quoted, control characters are
 * escaped (a client-chosen value can never start a new log line), long values are cut. Null or empty
 * values print as {@code -}.
 *
 * <p>Never add secrets (passwords, AUTH data) or message content.
 */
public final class LogLine {

  /** Longest value kept, in characters; the rest is replaced by "...". */
  public static final int MAX_VALUE = 200;

  private final StringBuilder sb;

  private LogLine(String event) {
    sb = new StringBuilder(160).append(event);
  }

  public static LogLine of(String event) {
    return new LogLine(event);
  }

  public LogLine add(String key, Object value) {
    sb.append(' ').append(key).append('=');
    appendValue(sb, value == null ? null : String.valueOf(value));
    return this;
  }

  public LogLine add(String key, long value) {
    sb.append(' ').append(key).append('=').append(value);
    return this;
  }

  @Override
  public String toString() {
    return sb.toString();
  }

  /** The value as it appears after {@code key=}. */
  public static String value(String v) {
    StringBuilder b = new StringBuilder();
    appendValue(b, v);
    return b.toString();
  }

  private static void appendValue(StringBuilder b, String v) {
    if (v == null || v.isEmpty()) {
      b.append('-');
      return;
    }
    String s = v.length() > MAX_VALUE ? v.substring(0, MAX_VALUE) + "..." : v;
    if (plain(s)) {
      b.append(s);
      return;
    }
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
        b.append(c <= 0xff ? String.format("\\x%02x", (int) c) : String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    b.append('"');
  }

  private static boolean plain(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '-' || c == '_' || c == '@' || c == ':' || c == '/' || c == '+' || c == '<' || c == '>'
          || c == '[' || c == ']' || c == ',' || c == '|';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
