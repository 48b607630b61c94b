package dev.mailserver.pop3;

import io.vertx.core.shareddata.Lock;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The exclusive lock on one maildrop (RFC 1939 section 8: the server acquires an exclusive-access
 * lock on the maildrop after authentication). Wraps a Vert.x shared-data lock, which is
 * cluster-wide under a cluster manager, so two nodes never serve the same maildrop at once.
 * {@link #release()} is idempotent: QUIT, disconnect and idle timeout may all race to release,
 * and releasing a Vert.x lock twice could free it for someone else.
 */
public final class MaildropLock {

  public static final String PREFIX = "pop3.maildrop.";

  private final String mailbox;
  private final Lock lock;
  private final AtomicBoolean released = new AtomicBoolean();

  public MaildropLock(String mailbox, Lock lock) {
    this.mailbox = mailbox;
    this.lock = lock;
  }

  public static String lockName(String mailbox) {
    return PREFIX + mailbox;
  }

  public String mailbox() {
    return mailbox;
  }

  /** Releases the lock the first time; later calls do nothing. Returns whether this call released it. */
  public boolean release() {
    if (released.compareAndSet(false, true)) {
      lock.release();
      return true;
    }
    return false;
  }

  public boolean isReleased() {
    return released.get();
  }
}
