package dev.mailserver.smtp;

/**
 * The state of one SMTP connection. All state transitions happen here. Resetting the mail
 * transaction (RSET, end of DATA: RFC 5321 section 4.1.1.5) is kept apart from resetting the
 * session (HELO/EHLO: section 4.1.4, which also clears any transaction) and from the full reset
 * after STARTTLS (RFC 3207 section 4.2, which also forgets the EHLO and any authentication).
 */
public final class SmtpSession {
  private final String clientIp;
  private SmtpState state = SmtpState.CONNECTED;
  private String heloName;
  private boolean extended;
  private boolean secure;
  private String authenticatedUser;
  private Transaction transaction;

  public SmtpSession(String clientIp) {
    this(clientIp, false);
  }

  /** @param secure the connection is TLS from the start (implicit TLS, RFC 8314) */
  public SmtpSession(String clientIp, boolean secure) {
    this.clientIp = clientIp;
    this.secure = secure;
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

  /** TLS is active (implicit TLS, or after a completed STARTTLS handshake). */
  public boolean secure() {
    return secure;
  }

  /** The canonical account address after a successful AUTH; null before. */
  public String authenticatedUser() {
    return authenticatedUser;
  }

  /** The open transaction, or null. */
  public Transaction transaction() {
    return transaction;
  }

  /** HELO/EHLO: a fresh session, no transaction. The authentication stays (RFC 4954 does not reset it). */
  void greet(String helo, boolean ehlo) {
    transaction = null;
    heloName = helo;
    extended = ehlo;
    state = SmtpState.GREETED;
  }

  /**
   * STARTTLS accepted: RFC 3207 section 4.2, "the server MUST discard any knowledge obtained from
   * the client, such as the argument to the EHLO command, which was not obtained from the TLS
   * negotiation itself". Back to the state right after the greeting; the client must EHLO again.
   */
  void resetForTls() {
    transaction = null;
    heloName = null;
    extended = false;
    authenticatedUser = null;
    if (state != SmtpState.CLOSED) {
      state = SmtpState.CONNECTED;
    }
  }

  /** The TLS handshake after STARTTLS completed. */
  void tlsEstablished() {
    secure = true;
  }

  /** AUTH succeeded. */
  void authenticate(String canonicalUser) {
    authenticatedUser = canonicalUser;
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

  /** RSET or end of DATA/BDAT LAST: drop the envelope, keep HELO/EHLO. */
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
