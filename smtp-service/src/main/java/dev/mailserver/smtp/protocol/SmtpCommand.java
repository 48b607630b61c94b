package dev.mailserver.smtp.protocol;

/**
 * A command line split into its verb and argument string (RFC 5321 section 4.1.1: verb, SP, arguments).
 *
 * @param verb the verb, null when the word is not one we know
 * @param word the command word as sent
 * @param args the rest of the line after the separating space(s), trailing spaces removed; "" if none
 */
public record SmtpCommand(SmtpVerb verb, String word, String args) {

  /** Parses a line without its CRLF. Never fails: an unknown word gives {@code verb == null}. */
  public static SmtpCommand parse(String line) {
    int sp = line.indexOf(' ');
    String word = sp < 0 ? line : line.substring(0, sp);
    String args = sp < 0 ? "" : line.substring(sp + 1);
    // Lenient on surrounding spaces: several clients send "MAIL FROM: <a@b>" or trailing blanks,
    // which RFC 5321 section 4.1.1 forbids but Postfix and Sendmail accept.
    return new SmtpCommand(SmtpVerb.lookup(word), word, strip(args));
  }

  public boolean hasArgs() {
    return !args.isEmpty();
  }

  private static String strip(String s) {
    int b = 0;
    int e = s.length();
    while (b < e && s.charAt(b) == ' ') {
      b++;
    }
    while (e > b && (s.charAt(e - 1) == ' ' || s.charAt(e - 1) == '\t')) {
      e--;
    }
    return s.substring(b, e);
  }
}
