package dev.mailserver.common.bus;

import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/** A failed mailstore call, with its typed {@link MailstoreError}. */
public final class MailstoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final MailstoreError error;

  public MailstoreException(MailstoreError error, String message) {
    super(error + ": " + message, null, false, false);
    this.error = error;
  }

  public MailstoreError error() {
    return error;
  }

  /** The failure to send back to the requester of a bus message. */
  public ReplyException toReplyException() {
    return new ReplyException(ReplyFailure.RECIPIENT_FAILURE, error.code(), getMessage());
  }

  /** Turns any failure of a bus request into a typed one. */
  public static MailstoreException from(Throwable t) {
    if (t instanceof MailstoreException me) {
      return me;
    }
    if (t instanceof ReplyException re) {
      return switch (re.failureType()) {
        case NO_HANDLERS -> new MailstoreException(MailstoreError.UNAVAILABLE, "no mailstore is reachable");
        case TIMEOUT -> new MailstoreException(MailstoreError.UNAVAILABLE, "mailstore did not answer in time");
        case RECIPIENT_FAILURE -> new MailstoreException(MailstoreError.fromCode(re.failureCode()), stripPrefix(re.getMessage()));
        default -> new MailstoreException(MailstoreError.UNAVAILABLE, String.valueOf(re.getMessage()));
      };
    }
    return new MailstoreException(MailstoreError.INTERNAL, String.valueOf(t));
  }

  private static String stripPrefix(String m) {
    if (m == null) {
      return "";
    }
    int i = m.indexOf(": ");
    return i > 0 && m.substring(0, i).chars().allMatch(c -> c == '_' || Character.isUpperCase(c)) ? m.substring(i + 2) : m;
  }
}
