package dev.mailserver.mailstore.accounts;

import at.favre.lib.crypto.bcrypt.BCrypt;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategies;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategy;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * bcrypt hashing and checking. Every method here costs ~200 ms at cost 10: call it on a worker.
 * Passwords longer than bcrypt's 72-byte input are truncated, as every common bcrypt implementation
 * does, so hashes made by htpasswd or other tools verify here.
 */
public final class Passwords {

  public static final int DEFAULT_COST = 10;

  private static final Pattern HASH = Pattern.compile("\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}");
  private static final LongPasswordStrategy LONG = LongPasswordStrategies.truncate(BCrypt.Version.VERSION_2A);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final int cost;

  public Passwords(int cost) {
    if (cost < 4 || cost > 31) {
      throw new IllegalArgumentException("bcrypt cost must be 4..31: " + cost);
    }
    this.cost = cost;
  }

  public int cost() {
    return cost;
  }

  /** A configured password in this form is stored as given instead of being hashed. */
  public static boolean isBcryptHash(String s) {
    return s != null && (s.startsWith("$2a$") || s.startsWith("$2b$") || s.startsWith("$2y$"));
  }

  /** Whether a string that looks like a bcrypt hash is a well-formed one. */
  public static boolean isWellFormedHash(String s) {
    return s != null && HASH.matcher(s).matches();
  }

  public String hash(String password) {
    return BCrypt.with(BCrypt.Version.VERSION_2A, RANDOM, LONG)
        .hashToString(cost, password.toCharArray());
  }

  /** Constant work for a given hash whatever the password; false for malformed hashes. */
  public boolean verify(String password, String hash) {
    if (password == null || hash == null) {
      return false;
    }
    BCrypt.Result r = BCrypt.verifyer(BCrypt.Version.VERSION_2A, LONG)
        .verify(password.getBytes(StandardCharsets.UTF_8), hash.getBytes(StandardCharsets.US_ASCII));
    return r.validFormat && r.verified;
  }

  /** A random URL-safe password of 24 characters (144 bits). */
  public static String generate() {
    byte[] b = new byte[18];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
