package dev.mailserver.mailstore.http;

import dev.mailserver.mailstore.accounts.Passwords;
import dev.mailserver.mailstore.store.MailboxName;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What the HTTP API accepts as a new password. A password is refused (400 WEAK_PASSWORD) when it:
 * <ul>
 *   <li>has fewer than {@value #MIN_LENGTH} characters (Unicode code points) or more than
 *   {@value #MAX_LENGTH};</li>
 *   <li>equals, ignoring case, the address or its local part;</li>
 *   <li>is one character repeated, or one of a few notorious passwords ({@link #COMMON});</li>
 *   <li>contains control characters (CR, LF, NUL...: POP3 PASS and HTTP Basic cannot carry them);</li>
 *   <li>looks like a bcrypt hash: the account file treats such values as hashes, so it could never
 *   be typed as a password.</li>
 * </ul>
 * Passwords are otherwise free text; bcrypt uses their first 72 bytes (UTF-8).
 */
final class PasswordPolicy {
  private PasswordPolicy() {}

  static final int MIN_LENGTH = 8;
  static final int MAX_LENGTH = 1024;
  static final Set<String> COMMON = Set.of("password", "password1", "passw0rd", "12345678", "123456789",
      "1234567890", "qwertyui", "qwertyuiop", "iloveyou", "letmein1", "abcdefgh", "changeme");

  /** Why the password is refused, or empty when it is acceptable. */
  static Optional<String> weakness(String address, String password) {
    if (password == null || password.isEmpty()) {
      return Optional.of("password must not be empty");
    }
    int length = password.codePointCount(0, password.length());
    if (length < MIN_LENGTH) {
      return Optional.of("password must have at least " + MIN_LENGTH + " characters");
    }
    if (length > MAX_LENGTH) {
      return Optional.of("password must have at most " + MAX_LENGTH + " characters");
    }
    if (password.codePoints().anyMatch(Character::isISOControl)) {
      return Optional.of("password must not contain control characters");
    }
    if (Passwords.isBcryptHash(password)) {
      return Optional.of("password must not look like a bcrypt hash ($2a$/$2b$/$2y$)");
    }
    String lower = password.toLowerCase(Locale.ROOT);
    if (address != null && MailboxName.isValid(address)) {
      MailboxName m = MailboxName.of(address);
      if (lower.equals(m.address()) || lower.equals(m.localPart())) {
        return Optional.of("password must not be the address or its local part");
      }
    }
    if (password.codePoints().distinct().count() == 1) {
      return Optional.of("password must not be one character repeated");
    }
    if (COMMON.contains(lower)) {
      return Optional.of("password is too common");
    }
    return Optional.empty();
  }
}
