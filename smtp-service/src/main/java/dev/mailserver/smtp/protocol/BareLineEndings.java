package dev.mailserver.smtp.protocol;

import java.util.Locale;

/**
 * What DATA does with a CR or LF that is not part of a CRLF pair. RFC 5321 section 2.3.8 forbids
 * them; they matter because servers that disagree about line ends can be tricked into seeing two
 * messages in one (SMTP smuggling). Whatever the policy, only CRLF.CRLF ends the data.
 */
public enum BareLineEndings {
  /** Accept the message; a bare LF is stored as CRLF, a bare CR is kept (like Postfix 3.9's default). */
  NORMALIZE,
  /** Read the message to its real end, then refuse it (550 5.6.0) and store nothing. */
  REJECT;

  public static BareLineEndings parse(String s) {
    for (BareLineEndings b : values()) {
      if (b.name().equalsIgnoreCase(s)) {
        return b;
      }
    }
    throw new IllegalArgumentException("smtp.bareLineEndings must be \"normalize\" or \"reject\", not \"" + s + "\"");
  }

  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
