package dev.mailserver.smtp;

/**
 * Where an SMTP session is (RFC 5321 section 4.1.4 ordering). Transitions live in {@link SmtpSession} only.
 */
public enum SmtpState {
  /** Greeting sent; waiting for HELO/EHLO. */
  CONNECTED,
  /** HELO/EHLO done; no mail transaction open. */
  GREETED,
  /** MAIL accepted; no recipient accepted yet. */
  MAIL,
  /** At least one RCPT accepted. */
  RCPT,
  /** 354 sent; the input is message content until CRLF.CRLF. */
  DATA,
  /** QUIT or 421 sent; nothing more is read. */
  CLOSED
}
