package dev.mailserver.smtp;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The trace header we prepend (RFC 5321 section 4.4; the mailstore adds Return-Path):
 * <pre>
 * Received: from helo ([ip])
 * 	by hostname with ESMTP id QUEUEID
 * 	for &lt;rcpt&gt;; Sat, 21 Nov 2026 10:00:00 +0000
 * </pre>
 * The "for" clause only names a single recipient: listing several would disclose Bcc recipients.
 * The with-protocol (RFC 5321 section 4.4 "Protocol" clause) is SMTP or ESMTP, with the RFC 3848
 * suffixes S (TLS) and A (authenticated): ESMTPS, ESMTPA, ESMTPSA; with SMTPUTF8 the RFC 6531
 * section 3.7.3 values UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA.
 */
final class ReceivedHeader {
  /** RFC 5322 section 3.3 date-time, numeric zone. */
  private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ENGLISH);

  private ReceivedHeader() {}

  static String protocol(boolean ehlo, boolean smtputf8) {
    return protocol(ehlo, smtputf8, false, false);
  }

  /**
   * @param ehlo     the session used EHLO (HELO gives plain "SMTP"; RFC 3848 has no TLS/AUTH forms of it)
   * @param smtputf8 the transaction used SMTPUTF8 (which needs EHLO)
   * @param tls      TLS was active (RFC 3848 "S")
   * @param auth     the client had authenticated (RFC 3848 "A")
   */
  static String protocol(boolean ehlo, boolean smtputf8, boolean tls, boolean auth) {
    if (!ehlo) {
      return "SMTP";
    }
    return (smtputf8 ? "UTF8SMTP" : "ESMTP") + (tls ? "S" : "") + (auth ? "A" : "");
  }

  static String format(String helo, String clientIp, String hostname, String protocol, String queueId,
                       String singleRecipient, ZonedDateTime when) {
    StringBuilder sb = new StringBuilder(200)
        .append("Received: from ").append(sanitize(helo))
        .append(" (").append(addressLiteral(clientIp)).append(")\r\n")
        .append("\tby ").append(hostname).append(" with ").append(protocol).append(" id ").append(queueId);
    if (singleRecipient != null) {
      sb.append("\r\n\tfor <").append(sanitize(singleRecipient)).append('>');
    }
    return sb.append("; ").append(DATE.format(when)).append("\r\n").toString();
  }

  /** RFC 5321 section 4.1.3 address literal. */
  static String addressLiteral(String ip) {
    if (ip == null || ip.isEmpty()) {
      return "[unknown]";
    }
    return ip.indexOf(':') >= 0 ? "[IPv6:" + ip + "]" : "[" + ip + "]";
  }

  /** The HELO name is client-controlled: keep it one printable token so the header stays well formed. */
  private static String sanitize(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      sb.append(c < 0x21 || c == 0x7f || c == '(' || c == ')' || c == ';' ? '?' : c);
    }
    return sb.toString();
  }
}
