package dev.mailserver.smtp;

/**
 * The state of one SMTP connection. All state transitions happen here. Resetting the mail
 * transaction (RSET, end of DATA: RFC 5321 section 4.1.1.5) is kept apart from resetting the
 * session (HELO/EHLO: section 4.1.4, which also clears any transaction).
 */
public final class SmtpSession {
  private final String clientIp;
  private SmtpState state = SmtpState.CONNECTED;
  private String heloName;
  private boolean extended;
  private Transaction transaction;

  public SmtpSession(String clientIp) {
    this.clientIp = clientIp;
  }

  public String clientIp() {
    return clientIp;
  }

  public SmtpState state() {
    return state;
  }

  /** The HELO/EHLO argument, null before it. */
  public String heloName() {
    return heloName;
  }

  /** EHLO was used: ESMTP extensions are on. */
  public boolean extended() {
    return extended;
  }

  /** The open transaction, or null. */
  public Transaction transaction() {
    return transaction;
  }

  /** HELO/EHLO: a fresh session, no transaction. */
  void greet(String helo, boolean ehlo) {
    transaction = null;
    heloName = helo;
    extended = ehlo;
    state = SmtpState.GREETED;
  }

  /** MAIL accepted. */
  void beginTransaction(Transaction tx) {
    transaction = tx;
    state = SmtpState.MAIL;
  }

  /** RCPT accepted (duplicates are accepted and kept once). */
  void addRecipient(String canonical) {
    transaction.addRecipient(canonical);
    state = SmtpState.RCPT;
  }

  /** 354 sent. */
  void beginData() {
    state = SmtpState.DATA;
  }

  /** RSET or end of DATA: drop the envelope, keep HELO/EHLO. */
  void resetTransaction() {
    transaction = null;
    if (state != SmtpState.CLOSED) {
      state = heloName == null ? SmtpState.CONNECTED : SmtpState.GREETED;
    }
  }

  /** QUIT, 421 or the peer went away. */
  void close() {
    transaction = null;
    state = SmtpState.CLOSED;
  }
}
