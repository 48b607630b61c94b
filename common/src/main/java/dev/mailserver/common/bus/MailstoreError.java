package dev.mailserver.common.bus;

/**
 * Typed failures of the mailstore API. On the bus they travel as the {@code failureCode} of a
 * {@link io.vertx.core.eventbus.ReplyException}; the message is for humans only.
 */
public enum MailstoreError {
  /** The request is malformed: missing field, bad mailbox name, bad message id. */
  INVALID_REQUEST(1),
  /** Unknown account or wrong password (deliberately not distinguished). */
  AUTH_FAILED(2),
  /** The address is not a mailbox of this system. */
  MAILBOX_NOT_FOUND(3),
  /** The message id does not exist (any more) in that mailbox. */
  MESSAGE_NOT_FOUND(4),
  /** The message is larger than the store accepts. */
  TOO_LARGE(5),
  /** Disk or I/O failure: the operation did not take effect and may be retried. */
  STORAGE_FAILURE(6),
  /** No mailstore answered (no handler, or timeout). Client-side only; always temporary. */
  UNAVAILABLE(7),
  /** A bug: the mailstore failed in an unexpected way. */
  INTERNAL(8);

  private final int code;

  MailstoreError(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }

  /** True when retrying the same request later may succeed (SMTP 4xx, POP3 [SYS/TEMP]). */
  public boolean isTemporary() {
    return this == STORAGE_FAILURE || this == UNAVAILABLE || this == INTERNAL;
  }

  public static MailstoreError fromCode(int code) {
    for (MailstoreError e : values()) {
      if (e.code == code) {
        return e;
      }
    }
    return INTERNAL;
  }
}
