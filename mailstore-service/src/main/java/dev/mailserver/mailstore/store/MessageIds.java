package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/** Rules for message ids coming from clients, and the UIDL value derived from an id. */
public final class MessageIds {
  private MessageIds() {}

  /** RFC 1939 section 7: a unique-id is 1 to 70 characters in 0x21-0x7E. */
  public static final int MAX_UID_LENGTH = 70;

  /**
   * An id names a file inside {@code new/} or {@code cur/}: it must not be able to name anything
   * else (no separator, no parent reference, no hidden or temporary file).
   */
  public static String validate(String id) {
    if (id == null || id.isEmpty() || id.length() > 255 || id.startsWith(".") || id.contains("..")
        || id.indexOf('/') >= 0 || id.indexOf(':') >= 0) {
      throw invalid(id);
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (c == 0 || Character.isISOControl(c)) {
        throw invalid(id);
      }
    }
    return id;
  }

  private static MailstoreException invalid(String id) {
    return new MailstoreException(MailstoreError.INVALID_REQUEST,
        "invalid message id: " + (id == null ? "null" : MailboxName.printable(id)));
  }

  /**
   * The id itself when it is a valid UIDL value, else a stable hash of it: the same file always
   * gets the same uid, which is what POP3 clients that "leave mail on server" rely on.
   */
  public static String uid(String id) {
    if (id.length() <= MAX_UID_LENGTH && id.chars().allMatch(c -> c >= 0x21 && c <= 0x7E)) {
      return id;
    }
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(h).substring(0, 43);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every JVM", e);
    }
  }
}
