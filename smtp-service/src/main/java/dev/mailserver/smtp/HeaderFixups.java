package dev.mailserver.smtp;

import io.vertx.core.buffer.Buffer;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * RFC 6409 section 8: a Message Submission Agent may complete a submitted message. We add the two
 * fields RFC 5322 section 3.6 requires and submitting clients sometimes leave out: {@code Date}
 * (section 8.2) and {@code Message-ID} (section 8.3), only when the message has none. Nothing
 * else is touched. Used on the submission and SMTPS listeners only: a relay (MX) passes messages
 * through unchanged.
 */
final class HeaderFixups {
  /** RFC 5322 section 3.3 date-time. */
  private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ENGLISH);

  private HeaderFixups() {}

  /** Which of the two fields the header section starting at {@code from} already has. */
  record Present(boolean date, boolean messageId) {}

  /**
   * Scans the header section (RFC 5322 section 2.2: fields up to the first empty line) for
   * {@code Date:} and {@code Message-ID:}, names case-insensitive. A line starting with white
   * space continues the previous field. Lines end at LF (a CR before it is ignored), so content
   * sent with BDAT and bare LFs is read the same way.
   */
  static Present scan(Buffer content, int from) {
    boolean date = false;
    boolean messageId = false;
    int i = from;
    int len = content.length();
    while (i < len) {
      int eol = i;
      while (eol < len && content.getByte(eol) != '\n') {
        eol++;
      }
      int end = eol > i && content.getByte(eol - 1) == '\r' ? eol - 1 : eol;
      if (end == i) {
        break; // the empty line ending the header section
      }
      byte first = content.getByte(i);
      if (first != ' ' && first != '\t') {
        int colon = -1;
        for (int j = i; j < end; j++) {
          byte c = content.getByte(j);
          if (c == ':') {
            colon = j;
            break;
          }
          if (c <= ' ' || c >= 127) {
            break; // RFC 5322 section 2.2: a field name is printable ASCII without ':'
          }
        }
        if (colon < 0) {
          break; // not a header field: the header section is over (or absent)
        }
        String name = content.getString(i, colon, "US-ASCII");
        if (name.equalsIgnoreCase("Date")) {
          date = true;
        } else if (name.equalsIgnoreCase("Message-ID")) {
          messageId = true;
        }
      }
      i = eol + 1;
    }
    return new Present(date, messageId);
  }

  /** The fields to insert (empty when none are missing), each ending in CRLF. */
  static String missingFields(Present present, String queueId, String hostname, ZonedDateTime now) {
    StringBuilder sb = new StringBuilder();
    if (!present.messageId()) {
      // RFC 5322 section 3.6.4: msg-id = "<" id-left "@" id-right ">"; the queue id is unique
      // (time, random per-process tag, counter) and our host name makes it globally unique.
      sb.append("Message-ID: <").append(queueId).append('@').append(hostname).append(">\r\n");
    }
    if (!present.date()) {
      sb.append("Date: ").append(DATE.format(now)).append("\r\n");
    }
    return sb.toString();
  }
}
