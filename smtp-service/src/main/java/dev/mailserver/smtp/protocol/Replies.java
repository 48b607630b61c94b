package dev.mailserver.smtp.protocol;

import java.util.List;

/**
 * The canned replies. Enhanced status codes follow RFC 3463 and appear on every reply RFC 2034
 * section 3 asks for (all but the greeting, the HELO/EHLO 250 and the 354 intermediate reply).
 */
public final class Replies {
  private Replies() {}

  // 2xx
  public static final SmtpReply OK = SmtpReply.of(250, "2.0.0", "Ok");
  public static final SmtpReply SENDER_OK = SmtpReply.of(250, "2.1.0", "Ok");
  public static final SmtpReply RECIPIENT_OK = SmtpReply.of(250, "2.1.5", "Ok");
  /** RFC 5321 section 3.5.3: 252 when we will not verify but will accept mail. */
  public static final SmtpReply CANNOT_VRFY = SmtpReply.of(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
  public static final SmtpReply HELP = new SmtpReply(214, "2.0.0", List.of(
      "Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP",
      "See RFC 5321"));
  /** RFC 3207 section 4: the reply to STARTTLS, after which the client starts the handshake. */
  public static final SmtpReply READY_FOR_TLS = SmtpReply.of(220, "2.0.0", "Ready to start TLS");
  /** RFC 4954 section 6. */
  public static final SmtpReply AUTH_SUCCESSFUL = SmtpReply.of(235, "2.7.0", "Authentication successful");

  // 3xx: no enhanced code on intermediate replies (RFC 2034 section 3 covers 2xx, 4xx and 5xx only).
  public static final SmtpReply START_DATA = SmtpReply.plain(354, "End data with <CR><LF>.<CR><LF>");
  /** RFC 4954 section 4: an empty server challenge (PLAIN without an initial response). */
  public static final SmtpReply SASL_EMPTY_CHALLENGE = SmtpReply.plain(334, "");
  public static final SmtpReply LOGIN_USERNAME = SmtpReply.plain(334, Sasl.LOGIN_USERNAME_PROMPT);
  public static final SmtpReply LOGIN_PASSWORD = SmtpReply.plain(334, Sasl.LOGIN_PASSWORD_PROMPT);

  // 4xx
  public static final SmtpReply STORE_UNAVAILABLE = SmtpReply.of(451, "4.3.0", "Mail store temporarily unavailable, try again later");
  public static final SmtpReply INTERNAL_ERROR = SmtpReply.of(451, "4.3.0", "Internal error, try again later");
  /** RFC 5321 section 4.5.3.1.10: 452 when the recipient limit is reached. */
  public static final SmtpReply TOO_MANY_RECIPIENTS = SmtpReply.of(452, "4.5.3", "Too many recipients");
  /** RFC 4954 section 6: the account store could not be asked, or the account is locked out for now. */
  public static final SmtpReply AUTH_TEMPORARY_FAILURE = SmtpReply.of(454, "4.7.0", "Temporary authentication failure");
  /** Connection limits (RFC 5321 section 3.8 allows 421 at any time; RFC 3463 X.7.0 "security or policy status"). */
  public static final SmtpReply TOO_MANY_CONNECTIONS = SmtpReply.of(421, "4.7.0", "Too many connections, try again later");
  public static final SmtpReply TOO_MANY_CONNECTIONS_FROM_IP = SmtpReply.of(421, "4.7.0", "Too many connections from your address, try again later");

  // 5xx: protocol
  public static final SmtpReply UNKNOWN_COMMAND = SmtpReply.of(500, "5.5.2", "Command unrecognized");
  public static final SmtpReply LINE_TOO_LONG = SmtpReply.of(500, "5.5.6", "Line too long");
  public static final SmtpReply NUL_IN_COMMAND = SmtpReply.of(500, "5.5.2", "Syntax error: NUL character in command");
  public static final SmtpReply BAD_COMMAND_BYTES = SmtpReply.of(500, "5.5.2", "Syntax error: invalid characters in command");
  public static final SmtpReply SYNTAX_ERROR = SmtpReply.of(501, "5.5.2", "Syntax error");
  public static final SmtpReply NOT_IMPLEMENTED = SmtpReply.of(502, "5.5.1", "Command not implemented");
  public static final SmtpReply BAD_SEQUENCE = SmtpReply.of(503, "5.5.1", "Bad sequence of commands");
  public static final SmtpReply NEED_HELO = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: send HELO/EHLO first");
  public static final SmtpReply NESTED_MAIL = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: nested MAIL command");
  public static final SmtpReply NEED_MAIL = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: need MAIL command");
  public static final SmtpReply NO_VALID_RECIPIENTS = SmtpReply.of(554, "5.5.1", "No valid recipients");
  public static final SmtpReply NO_PARAMS_AFTER_HELO = SmtpReply.of(555, "5.5.4", "ESMTP parameters need EHLO");
  public static final SmtpReply TOO_MANY_ERRORS = SmtpReply.of(421, "4.7.0", "Too many errors, closing connection");
  /** RFC 3207 section 4.2: STARTTLS is not offered again once TLS is active. */
  public static final SmtpReply TLS_ALREADY_ACTIVE = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: TLS already active");
  public static final SmtpReply ALREADY_AUTHENTICATED = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: already authenticated");
  public static final SmtpReply AUTH_NEEDS_EHLO = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: AUTH needs EHLO");
  /** RFC 4954 section 4: "*" cancels the exchange, answered with 501. */
  public static final SmtpReply AUTH_CANCELLED = SmtpReply.of(501, "5.0.0", "Authentication cancelled");
  /** RFC 4954 section 4: a response that is not base64 is answered with 501. */
  public static final SmtpReply BAD_BASE64 = SmtpReply.of(501, "5.5.2", "Invalid base64 data");
  public static final SmtpReply BAD_SASL_MESSAGE = SmtpReply.of(501, "5.5.2", "Malformed authentication response");
  /** RFC 4954 section 6. */
  public static final SmtpReply UNKNOWN_MECHANISM = SmtpReply.of(504, "5.5.4", "Unrecognized authentication type");
  public static final SmtpReply AUTH_REQUIRED = SmtpReply.of(530, "5.7.0", "Authentication required");
  public static final SmtpReply AUTH_INVALID = SmtpReply.of(535, "5.7.8", "Authentication credentials invalid");
  public static final SmtpReply ENCRYPTION_REQUIRED = SmtpReply.of(538, "5.7.11", "Encryption required for requested authentication mechanism");
  /** RFC 3030 section 2: DATA and BDAT cannot be used in the same transaction. */
  public static final SmtpReply DATA_AFTER_BDAT = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: DATA and BDAT cannot be mixed in one transaction, send RSET");
  /** RFC 3030 section 3: BINARYMIME cannot be used with DATA. */
  public static final SmtpReply BINARYMIME_NEEDS_BDAT = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: BODY=BINARYMIME needs BDAT, send RSET");
  /** RFC 3030 section 2: after a failed BDAT the transaction is indeterminate until RSET. */
  public static final SmtpReply BDAT_AFTER_FAILURE = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: the transaction failed, send RSET");
  public static final SmtpReply BDAT_NEEDS_EHLO = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: BDAT needs EHLO");
  public static final SmtpReply RCPT_AFTER_BDAT = SmtpReply.of(503, "5.5.1", "Bad sequence of commands: RCPT after BDAT");

  // 5xx: addresses and content
  public static final SmtpReply BAD_SENDER_SYNTAX = SmtpReply.of(501, "5.1.7", "Bad sender address syntax");
  public static final SmtpReply BAD_RECIPIENT_SYNTAX = SmtpReply.of(501, "5.1.3", "Bad recipient address syntax");
  public static final SmtpReply NEED_SMTPUTF8 = SmtpReply.of(553, "5.6.7", "Non-ASCII address or parameter needs SMTPUTF8 on MAIL");
  /** RFC 1870 section 6.1 and RFC 3463 X.3.4. */
  public static final SmtpReply MESSAGE_TOO_BIG = SmtpReply.of(552, "5.3.4", "Message size exceeds fixed maximum message size");
  public static final SmtpReply NUL_IN_MESSAGE = SmtpReply.of(554, "5.6.0", "Message contains NUL characters");
  public static final SmtpReply BARE_LINE_ENDING = SmtpReply.of(550, "5.6.0", "Message contains bare CR or LF (RFC 5321 section 2.3.8)");
  public static final SmtpReply STORE_REJECTED = SmtpReply.of(554, "5.3.0", "Transaction failed: mail store rejected the message");

  public static SmtpReply greeting(String hostname) {
    return SmtpReply.plain(220, hostname + " ESMTP ready");
  }

  public static SmtpReply closing(String hostname) {
    return SmtpReply.of(221, "2.0.0", hostname + " closing connection");
  }

  /** RFC 5321 section 4.5.3.2.7 timeout; X.4.2 "bad connection" (RFC 3463). */
  public static SmtpReply idleTimeout(String hostname) {
    return SmtpReply.of(421, "4.4.2", hostname + " Error: timeout exceeded, closing connection");
  }

  /**
   * RFC 5321 section 3.8: a server that must shut down answers 421 and closes the channel; the
   * client treats any open transaction as failed and retries later. X.3.2 "System not accepting
   * network messages" (RFC 3463 section 3.4) is the enhanced code for a planned shutdown.
   */
  public static SmtpReply shuttingDown(String hostname) {
    return SmtpReply.of(421, "4.3.2", hostname + " Service shutting down, closing transmission channel");
  }

  /** RFC 3030 section 2: each accepted non-final chunk gets a 250. */
  public static SmtpReply chunkReceived(long octets) {
    return SmtpReply.of(250, "2.0.0", "Ok: " + octets + " octets received");
  }

  /** RFC 6409 section 6.1 and RFC 4954: an authenticated submitter uses its own address only. */
  public static SmtpReply senderNotOwned(String sender, String user) {
    return SmtpReply.of(553, "5.7.1", "<" + sender + ">: Sender address rejected: not owned by user " + user);
  }

  public static SmtpReply queued(String queueId) {
    return SmtpReply.of(250, "2.0.0", "Ok: queued as " + queueId);
  }

  public static SmtpReply helo(String hostname) {
    return SmtpReply.plain(250, hostname);
  }

  public static SmtpReply syntax(String usage) {
    return SmtpReply.of(501, "5.5.4", "Syntax: " + usage);
  }

  public static SmtpReply badParameter(String detail) {
    return SmtpReply.of(501, "5.5.4", "Invalid parameter: " + detail);
  }

  /** RFC 5321 section 4.1.1.11: 555 for MAIL/RCPT parameters we do not recognise. */
  public static SmtpReply unsupportedParameter(String keyword) {
    return SmtpReply.of(555, "5.5.4", "Unsupported parameter: " + keyword);
  }

  public static SmtpReply relayDenied(String address) {
    return SmtpReply.of(550, "5.7.1", "<" + address + ">: Relaying denied");
  }

  public static SmtpReply noSuchUser(String address) {
    return SmtpReply.of(550, "5.1.1", "<" + address + ">: Recipient address rejected: no such mailbox");
  }
}
