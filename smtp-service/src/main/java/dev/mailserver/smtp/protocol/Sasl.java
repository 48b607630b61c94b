package dev.mailserver.smtp.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;

/**
 * The SASL pieces of SMTP AUTH (RFC 4954): base64 client responses and the PLAIN (RFC 4616) and
 * LOGIN mechanisms. Pure functions; the exchange itself lives in the handler.
 */
public final class Sasl {
  private Sasl() {}

  /** The mechanisms we offer. Both send the password in the clear, so TLS comes first (RFC 4954 section 4). */
  public static final String MECHANISMS = "PLAIN LOGIN";

  /** LOGIN's challenges: base64 of "Username:" and "Password:" (draft-murchison-sasl-login section 2). */
  public static final String LOGIN_USERNAME_PROMPT = "VXNlcm5hbWU6";
  public static final String LOGIN_PASSWORD_PROMPT = "UGFzc3dvcmQ6";

  /** A supported mechanism name, upper-case, or null. */
  public static String mechanism(String name) {
    String m = name.toUpperCase(Locale.ROOT);
    return m.equals("PLAIN") || m.equals("LOGIN") ? m : null;
  }

  /** Thrown for a response that is not valid base64 (RFC 4954 section 4: 501). */
  public static final class BadBase64 extends Exception {
    private static final long serialVersionUID = 1L;

    BadBase64() {
      super("invalid base64", null, false, false);
    }
  }

  /** A parsed PLAIN message: authzid (may be empty), authcid, password. */
  public record Plain(String authzid, String authcid, String password) {}

  /**
   * Decodes one client response. RFC 4954 section 4: an initial response of "=" is an empty
   * response; a continuation line is the base64 itself (an empty line is an empty response).
   */
  public static byte[] decode(String response, boolean initial) throws BadBase64 {
    if (initial && response.equals("=")) {
      return new byte[0];
    }
    // RFC 4648 section 3.3: no whitespace or other characters outside the alphabet; padding is
    // required (length a multiple of 4), as RFC 4954 section 4 means "BASE64" per RFC 4648.
    if (response.length() % 4 != 0) {
      throw new BadBase64();
    }
    for (int i = 0; i < response.length(); i++) {
      char c = response.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'
          || (c == '=' && i >= response.length() - 2);
      if (!ok) {
        throw new BadBase64();
      }
    }
    try {
      return Base64.getDecoder().decode(response);
    } catch (IllegalArgumentException e) {
      throw new BadBase64();
    }
  }

  /**
   * RFC 4616 section 2: {@code message = [authzid] UTF8NUL authcid UTF8NUL passwd}, all UTF-8.
   *
   * @return the parts, or null when the message is malformed (wrong number of NULs, empty
   *         authcid or password, invalid UTF-8)
   */
  public static Plain parsePlain(byte[] message) {
    int first = indexOf(message, 0);
    int second = first < 0 ? -1 : indexOf(message, first + 1);
    if (first < 0 || second < 0 || indexOf(message, second + 1) >= 0) {
      return null;
    }
    String authzid = utf8(message, 0, first);
    String authcid = utf8(message, first + 1, second);
    String password = utf8(message, second + 1, message.length);
    if (authzid == null || authcid == null || password == null || authcid.isEmpty() || password.isEmpty()) {
      return null;
    }
    return new Plain(authzid, authcid, password);
  }

  /** A LOGIN username or password: UTF-8 without NUL; null when invalid or empty. */
  public static String loginField(byte[] b) {
    if (b.length == 0 || indexOf(b, 0) >= 0) {
      return null;
    }
    return utf8(b, 0, b.length);
  }

  private static int indexOf(byte[] b, int from) {
    for (int i = from; i < b.length; i++) {
      if (b[i] == 0) {
        return i;
      }
    }
    return -1;
  }

  private static String utf8(byte[] b, int from, int to) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, from, to - from)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
