package dev.mailserver.smtp.protocol;

import dev.mailserver.smtp.SmtpState;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Every verb the server knows, with the states it is allowed in. Verbs we know but do not offer
 * answer 502 (RFC 5321 section 4.2.4); words we do not know answer 500.
 */
public enum SmtpVerb {
  HELO(Group.ANY),
  EHLO(Group.ANY),
  MAIL(EnumSet.of(SmtpState.GREETED)),
  RCPT(EnumSet.of(SmtpState.MAIL, SmtpState.RCPT)),
  /** Allowed after MAIL too: with no accepted recipient it answers 554 "no valid recipients" (RFC 5321 section 3.3). */
  DATA(EnumSet.of(SmtpState.MAIL, SmtpState.RCPT)),
  RSET(Group.ANY),
  NOOP(Group.ANY),
  QUIT(Group.ANY),
  /** RFC 5321 section 4.1.4: VRFY, HELP and NOOP may be used at any time. */
  VRFY(Group.ANY),
  HELP(Group.ANY),
  /** RFC 3207: after HELO/EHLO, outside a transaction (the handler checks that TLS is on offer). */
  STARTTLS(EnumSet.of(SmtpState.GREETED)),
  /** RFC 4954 section 4: not during a mail transaction (the handler checks EHLO and the policy). */
  AUTH(EnumSet.of(SmtpState.GREETED)),
  /**
   * RFC 3030 section 2: allowed in every state, because the chunk octets that follow the command
   * line must be read (and discarded) before any error is answered; the handler decides.
   */
  BDAT(Group.ANY),
  // Known but not implemented: 502 5.5.1 whatever the state.
  EXPN(null),
  TURN(null),
  ETRN(null),
  ATRN(null),
  SEND(null),
  SOML(null),
  SAML(null);

  private static final class Group {
    static final Set<SmtpState> ANY = EnumSet.of(SmtpState.CONNECTED, SmtpState.GREETED, SmtpState.MAIL, SmtpState.RCPT);
  }

  private final Set<SmtpState> allowed;

  SmtpVerb(Set<SmtpState> allowed) {
    this.allowed = allowed;
  }

  /** False for verbs answered with 502. */
  public boolean implemented() {
    return allowed != null;
  }

  public boolean allowedIn(SmtpState state) {
    return allowed != null && allowed.contains(state);
  }

  /** The verb for a command word, case-insensitive (RFC 5321 section 2.4); null if unknown. */
  public static SmtpVerb lookup(String word) {
    if (word.isEmpty() || word.length() > 8) {
      return null;
    }
    try {
      return valueOf(word.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
