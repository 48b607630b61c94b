package dev.mailserver.common.model;

import java.util.Locale;
import java.util.Optional;

/**
 * A mailbox address as this system stores it: {@code local@domain}, lower-cased, with a local part
 * restricted so that it is always safe as a directory name. Addresses outside this set are never
 * mailboxes here (SMTP answers 550 5.1.1 for them), so the restriction loses no mail.
 */
public record MailboxAddress(String localPart, String domain) {

  /** RFC 5321 section 4.5.3.1.1 / 4.5.3.1.2. */
  public static final int MAX_LOCAL_PART = 64;
  public static final int MAX_DOMAIN = 255;

  public MailboxAddress {
    if (!validLocalPart(localPart) || !isValidDomain(domain)) {
      throw new IllegalArgumentException("not a valid mailbox address: " + localPart + "@" + domain);
    }
  }

  /** Parses {@code local@domain}; empty if it is not a valid mailbox address. */
  public static Optional<MailboxAddress> parse(String address) {
    if (address == null) {
      return Optional.empty();
    }
    int at = address.lastIndexOf('@');
    if (at <= 0 || at == address.length() - 1) {
      return Optional.empty();
    }
    String local = address.substring(0, at).toLowerCase(Locale.ROOT);
    String domain = address.substring(at + 1).toLowerCase(Locale.ROOT);
    if (!validLocalPart(local) || !isValidDomain(domain)) {
      return Optional.empty();
    }
    return Optional.of(new MailboxAddress(local, domain));
  }

  /** Dot-atom text (RFC 5322 atext) without '/' and '\', or any non-ASCII letter (RFC 6531). */
  static boolean validLocalPart(String s) {
    if (s == null || s.isEmpty() || s.length() > MAX_LOCAL_PART || s.startsWith(".") || s.endsWith(".") || s.contains("..")) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-=?^_`{|}~.".indexOf(c) >= 0
          || (c >= 0x80 && !Character.isISOControl(c) && !Character.isWhitespace(c));
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** LDH labels separated by dots (RFC 1035), or U-labels for internationalised domains. */
  public static boolean isValidDomain(String s) {
    if (s == null || s.isEmpty() || s.length() > MAX_DOMAIN || s.startsWith(".") || s.endsWith(".") || s.contains("..")) {
      return false;
    }
    for (String label : s.split("\\.")) {
      if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")) {
        return false;
      }
      for (int i = 0; i < label.length(); i++) {
        char c = label.charAt(i);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
            || (c >= 0x80 && Character.isLetterOrDigit(c));
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return localPart + "@" + domain;
  }
}
