package dev.mailserver.smtp.protocol;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The argument of MAIL or RCPT: a reverse- or forward-path and its ESMTP parameters
 * (RFC 5321 section 4.1.2, with the RFC 6531 UTF-8 extensions).
 *
 * <ul>
 *   <li>{@code <>} is the null reverse-path (MAIL only).</li>
 *   <li>{@code <postmaster>} without a domain is allowed as a forward-path (RCPT only, RFC 5321 section 4.5.1).</li>
 *   <li>A source route {@code <@a,@b:user@c>} is accepted and its route dropped
 *       (RFC 5321 section 4.1.1.3 and appendix C).</li>
 *   <li>A quoted local part is decoded: {@code "jo"@x} is the same mailbox as {@code jo@x}
 *       (RFC 5321 section 4.1.2, RFC 5322 section 3.4.1).</li>
 * </ul>
 *
 * @param localPart the decoded local part (quotes and quoted-pairs removed); "" for the null path,
 *                  "postmaster" for the bare postmaster form
 * @param domain    the domain or address literal as sent; null for {@code <>} and {@code <postmaster>}
 * @param params    ESMTP parameters, keyword upper-cased, value null when absent, in the order sent
 * @param nonAscii  whether the path or a parameter holds non-ASCII characters (needs SMTPUTF8)
 */
public record MailPath(String localPart, String domain, Map<String, String> params, boolean nonAscii) {

  /** Why an argument did not parse, which picks the reply. */
  public enum Problem {
    /** No "FROM:"/"TO:" keyword: 501 5.5.2. */
    SYNTAX,
    /** The path inside the brackets is malformed: 501 5.1.7 (sender) or 5.1.3 (recipient). */
    ADDRESS,
    /** A parameter is malformed or repeated: 501 5.5.4. */
    PARAMETER
  }

  public static final class ParseException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Problem problem;

    ParseException(Problem problem, String message) {
      super(message, null, false, false);
      this.problem = problem;
    }

    public Problem problem() {
      return problem;
    }
  }

  private static final Pattern KEYWORD = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]*");
  private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}");
  private static final Pattern IPV6 = Pattern.compile("(?i)IPv6:[0-9a-f:.]{2,45}");
  private static final Pattern GENERAL_LITERAL = Pattern.compile("[A-Za-z0-9-]*[A-Za-z0-9]:[\\x21-\\x5a\\x5e-\\x7e]+");
  private static final String ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";

  public MailPath {
    params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
  }

  /** {@code <>}. */
  public boolean isNull() {
    return domain == null && localPart.isEmpty();
  }

  /** {@code <postmaster>} without a domain. */
  public boolean isBarePostmaster() {
    return domain == null && !localPart.isEmpty();
  }

  /**
   * The address as the envelope carries it, without brackets or source route: "" for the null path,
   * the local part re-quoted only when it is not a valid dot-string.
   */
  public String address() {
    if (domain == null) {
      return localPart;
    }
    return (isDotString(localPart) ? localPart : quote(localPart)) + "@" + domain;
  }

  /** Parses the arguments of MAIL, e.g. {@code FROM:<a@b> SIZE=10}. */
  public static MailPath parseReversePath(String args) throws ParseException {
    return parse(args, "FROM:", true);
  }

  /** Parses the arguments of RCPT, e.g. {@code TO:<a@b>}. */
  public static MailPath parseForwardPath(String args) throws ParseException {
    return parse(args, "TO:", false);
  }

  private static MailPath parse(String args, String keyword, boolean reverse) throws ParseException {
    if (!args.regionMatches(true, 0, keyword, 0, keyword.length())) {
      throw new ParseException(Problem.SYNTAX, "expected " + keyword);
    }
    int i = keyword.length();
    // "MAIL FROM: <a@b>" breaks RFC 5321's grammar but is common; accept it like Postfix does.
    while (i < args.length() && args.charAt(i) == ' ') {
      i++;
    }
    if (i >= args.length() || args.charAt(i) != '<') {
      throw new ParseException(Problem.ADDRESS, "the path must be in angle brackets");
    }
    int close = closingBracket(args, i + 1);
    String inner = args.substring(i + 1, close);
    Map<String, String> params = parseParams(args.substring(close + 1));
    boolean nonAscii = !isAscii(inner);
    for (Map.Entry<String, String> p : params.entrySet()) {
      nonAscii |= p.getValue() != null && !isAscii(p.getValue());
    }

    if (inner.isEmpty()) {
      if (!reverse) {
        throw new ParseException(Problem.ADDRESS, "empty forward-path");
      }
      return new MailPath("", null, params, nonAscii);
    }
    if (!reverse && inner.equalsIgnoreCase("postmaster")) {
      return new MailPath("postmaster", null, params, nonAscii);
    }
    String mailbox = stripSourceRoute(inner);
    int at;
    String local;
    if (mailbox.startsWith("\"")) {
      int end = closingQuote(mailbox);
      local = unquote(mailbox.substring(1, end));
      at = end + 1;
      if (at >= mailbox.length() || mailbox.charAt(at) != '@') {
        throw new ParseException(Problem.ADDRESS, "expected @ after the quoted local part");
      }
    } else {
      at = mailbox.indexOf('@');
      if (at < 0) {
        throw new ParseException(Problem.ADDRESS, "missing @domain");
      }
      local = mailbox.substring(0, at);
      if (!isDotString(local)) {
        throw new ParseException(Problem.ADDRESS, "bad local part");
      }
    }
    String domain = mailbox.substring(at + 1);
    if (!isDomain(domain) && !isAddressLiteral(domain)) {
      throw new ParseException(Problem.ADDRESS, "bad domain");
    }
    return new MailPath(local, domain, params, nonAscii);
  }

  /** Index of the '>' closing the path, skipping quoted strings (which may hold '>' and spaces). */
  private static int closingBracket(String s, int from) throws ParseException {
    boolean quoted = false;
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quoted && c == '\\') {
        i++;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && (c == '>' || c == '<')) {
        if (c == '<') {
          throw new ParseException(Problem.ADDRESS, "unexpected <");
        }
        return i;
      }
    }
    throw new ParseException(Problem.ADDRESS, "missing >");
  }

  /** RFC 5321 A-d-l: "@dom,@dom:" before the mailbox; checked, then ignored (section 4.1.1.3, appendix C). */
  private static String stripSourceRoute(String inner) throws ParseException {
    if (!inner.startsWith("@")) {
      return inner;
    }
    int colon = inner.indexOf(':');
    if (colon < 0) {
      throw new ParseException(Problem.ADDRESS, "bad source route");
    }
    for (String hop : inner.substring(0, colon).split(",", -1)) {
      if (!hop.startsWith("@") || !isDomain(hop.substring(1))) {
        throw new ParseException(Problem.ADDRESS, "bad source route");
      }
    }
    return inner.substring(colon + 1);
  }

  /** Index of the DQUOTE ending a quoted local part that starts at 0. */
  private static int closingQuote(String s) throws ParseException {
    for (int i = 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        return i;
      }
    }
    throw new ParseException(Problem.ADDRESS, "unterminated quoted local part");
  }

  /** RFC 5321 QcontentSMTP: qtextSMTP (%d32-33 / %d35-91 / %d93-126, UTF-8 per RFC 6531) or quoted-pairSMTP. */
  private static String unquote(String q) throws ParseException {
    StringBuilder sb = new StringBuilder(q.length());
    for (int i = 0; i < q.length(); i++) {
      char c = q.charAt(i);
      if (c == '\\') {
        if (i + 1 >= q.length() || q.charAt(i + 1) < 32 || q.charAt(i + 1) > 126) {
          throw new ParseException(Problem.ADDRESS, "bad quoted-pair");
        }
        sb.append(q.charAt(++i));
      } else if ((c >= 32 && c <= 126 && c != '"') || c >= 0x80) {
        sb.append(c);
      } else {
        throw new ParseException(Problem.ADDRESS, "bad character in quoted local part");
      }
    }
    if (sb.length() == 0) {
      throw new ParseException(Problem.ADDRESS, "empty local part");
    }
    return sb.toString();
  }

  private static Map<String, String> parseParams(String rest) throws ParseException {
    Map<String, String> params = new LinkedHashMap<>();
    if (rest.isEmpty()) {
      return params;
    }
    if (rest.charAt(0) != ' ') {
      throw new ParseException(Problem.ADDRESS, "junk after the path");
    }
    for (String token : rest.trim().split(" +")) {
      int eq = token.indexOf('=');
      String key = eq < 0 ? token : token.substring(0, eq);
      String value = eq < 0 ? null : token.substring(eq + 1);
      if (!KEYWORD.matcher(key).matches()) {
        throw new ParseException(Problem.PARAMETER, "bad keyword " + key);
      }
      if (value != null && !isEsmtpValue(value)) {
        throw new ParseException(Problem.PARAMETER, "bad value for " + key);
      }
      if (params.put(key.toUpperCase(Locale.ROOT), value) != null || params.size() > 16) {
        throw new ParseException(Problem.PARAMETER, "repeated parameter " + key);
      }
    }
    return params;
  }

  /** RFC 5321 esmtp-value: 1*(%d33-60 / %d62-126), plus UTF-8 per RFC 6531 section 3.3. */
  private static boolean isEsmtpValue(String v) {
    if (v.isEmpty()) {
      return false;
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (!((c >= 33 && c <= 126 && c != '=') || c >= 0x80)) {
        return false;
      }
    }
    return true;
  }

  /** Dot-string = Atom *("." Atom), atext plus UTF-8 (RFC 6531 section 3.3). */
  static boolean isDotString(String s) {
    if (s.isEmpty() || s.startsWith(".") || s.endsWith(".") || s.contains("..")) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
          || ATEXT_SPECIALS.indexOf(c) >= 0 || (c >= 0x80 && !Character.isISOControl(c) && !Character.isWhitespace(c));
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** Domain = sub-domain *("." sub-domain), LDH labels or U-labels (RFC 6531): one rule system-wide. */
  static boolean isDomain(String s) {
    return dev.mailserver.common.model.MailboxAddress.isValidDomain(s);
  }

  /** RFC 5321 section 4.1.3 address-literal: IPv4, IPv6 or a general (tagged) literal. */
  static boolean isAddressLiteral(String s) {
    if (s.length() < 3 || s.charAt(0) != '[' || s.charAt(s.length() - 1) != ']') {
      return false;
    }
    String in = s.substring(1, s.length() - 1);
    return IPV4.matcher(in).matches() || IPV6.matcher(in).matches() || GENERAL_LITERAL.matcher(in).matches();
  }

  private static String quote(String local) {
    StringBuilder sb = new StringBuilder(local.length() + 2).append('"');
    for (int i = 0; i < local.length(); i++) {
      char c = local.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\');
      }
      sb.append(c);
    }
    return sb.append('"').toString();
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }
}
