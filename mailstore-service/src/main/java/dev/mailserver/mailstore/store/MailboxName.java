package dev.mailserver.mailstore.store;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.MailboxAddress;
import java.nio.file.Path;

/**
 * A mailbox address that is known to be safe as a relative directory {@code <domain>/<local>}.
 * The only way to turn a client-supplied string into a path under the data directory, so that a
 * name like {@code ../../etc} can never escape it.
 */
public final class MailboxName {
  private final String localPart;
  private final String domain;

  private MailboxName(String localPart, String domain) {
    this.localPart = localPart;
    this.domain = domain;
  }

  /** Parses and canonicalises (lower-case) an address; INVALID_REQUEST when it is not a safe mailbox name. */
  public static MailboxName of(String address) {
    if (address == null) {
      throw invalid("missing mailbox");
    }
    MailboxAddress a = MailboxAddress.parse(address)
        .orElseThrow(() -> invalid("not a valid mailbox address: " + printable(address)));
    // MailboxAddress already restricts the characters; these checks are the path-safety rules
    // stated once more, so a future relaxation of the address syntax cannot open a path escape.
    if (!safeSegment(a.localPart()) || !safeSegment(a.domain())) {
      throw invalid("not a valid mailbox address: " + printable(address));
    }
    return new MailboxName(a.localPart(), a.domain());
  }

  /** True when {@link #of} would accept the address. */
  public static boolean isValid(String address) {
    try {
      of(address);
      return true;
    } catch (MailstoreException e) {
      return false;
    }
  }

  static boolean safeSegment(String s) {
    if (s.isEmpty() || s.startsWith(".") || s.contains("..")) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '/' || c == '\\' || c == 0 || Character.isISOControl(c)) {
        return false;
      }
    }
    return true;
  }

  public String address() {
    return localPart + "@" + domain;
  }

  public String localPart() {
    return localPart;
  }

  public String domain() {
    return domain;
  }

  /** {@code <domain>/<local>}, relative: resolve it against the store's root. */
  public Path relativePath() {
    return Path.of(domain, localPart);
  }

  private static MailstoreException invalid(String msg) {
    return new MailstoreException(MailstoreError.INVALID_REQUEST, msg);
  }

  /** Client input echoed in errors, with control characters made visible. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && i < 200; i++) {
      char c = s.charAt(i);
      if (Character.isISOControl(c)) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MailboxName m && m.localPart.equals(localPart) && m.domain.equals(domain);
  }

  @Override
  public int hashCode() {
    return address().hashCode();
  }

  @Override
  public String toString() {
    return address();
  }
}
