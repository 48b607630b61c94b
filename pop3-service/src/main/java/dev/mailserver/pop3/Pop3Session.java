package dev.mailserver.pop3;

import io.vertx.core.Future;
import java.util.Objects;

/**
 * State of one POP3 session; every state transition happens here. Confined to the connection's
 * event loop. The maildrop lock (a lease, see {@link MaildropLock}) is released exactly once: at the
 * end of UPDATE, or when the connection goes away outside UPDATE (RFC 1939 section 6: a session
 * ending without QUIT does not enter UPDATE, so nothing is deleted).
 */
public final class Pop3Session {

  private Pop3State state = Pop3State.AUTHORIZATION;
  private String user;
  private MaildropLock lock;
  private Maildrop maildrop;
  private boolean quit;
  private boolean closed;
  /** TLS protects the connection: after STLS (RFC 2595 section 4) or from the start (POP3S, RFC 8314). */
  private boolean tlsActive;
  /** STLS was answered +OK: the connection must switch to TLS right after writing that reply. */
  private boolean tlsRequested;
  /** AUTH sent "+ " and waits for the client's response line (RFC 5034 section 4). */
  private boolean saslPending;

  public Pop3State state() {
    return state;
  }

  public boolean tlsActive() {
    return tlsActive;
  }

  /** STLS accepted (RFC 2595 section 4): the connection starts the handshake after the +OK. */
  public void requestTls() {
    requireState(Pop3State.AUTHORIZATION);
    if (tlsActive) {
      throw new IllegalStateException("TLS already active");
    }
    tlsRequested = true;
  }

  /** True once after {@link #requestTls()}: the caller performs the switch. */
  public boolean takeTlsRequest() {
    boolean r = tlsRequested;
    tlsRequested = false;
    return r;
  }

  /**
   * TLS is now active. RFC 2595 section 4: the server "MUST discard any knowledge obtained from the
   * client" before the TLS negotiation, so a USER name sent in the clear is forgotten (and the
   * connection drops any command bytes pipelined behind STLS). The state stays AUTHORIZATION.
   */
  public void tlsStarted() {
    tlsActive = true;
    tlsRequested = false;
    user = null;
    saslPending = false;
  }

  /** AUTH answered "+ ": the next line is the client's SASL response, not a command. */
  public void beginSasl() {
    requireState(Pop3State.AUTHORIZATION);
    user = null;
    saslPending = true;
  }

  public boolean inSasl() {
    return saslPending;
  }

  /** The SASL response arrived (or the exchange was cancelled): back to reading commands. */
  public void endSasl() {
    saslPending = false;
  }

  /** USER: remembers the name for the following PASS (RFC 1939 section 7). */
  public void userGiven(String name) {
    requireState(Pop3State.AUTHORIZATION);
    this.user = name;
  }

  /** The name from USER, cleared: after a PASS, right or wrong, the client starts again with USER. */
  public String takeUser() {
    String u = user;
    user = null;
    return u;
  }

  public boolean hasUser() {
    return user != null;
  }

  /**
   * Authenticated, locked and snapshotted: enter TRANSACTION. If the connection closed while the
   * login was in flight, the lock is released at once and false is returned.
   */
  public boolean enterTransaction(MaildropLock lock, Maildrop maildrop) {
    Objects.requireNonNull(lock, "lock");
    Objects.requireNonNull(maildrop, "maildrop");
    if (closed || state != Pop3State.AUTHORIZATION) {
      lock.release();
      return false;
    }
    this.lock = lock;
    this.maildrop = maildrop;
    this.state = Pop3State.TRANSACTION;
    return true;
  }

  /** QUIT in TRANSACTION (RFC 1939 section 6). The lock stays held until {@link #finishUpdate()}. */
  public void enterUpdate() {
    requireState(Pop3State.TRANSACTION);
    state = Pop3State.UPDATE;
    quit = true;
  }

  /**
   * Before UPDATE deletes anything: do we still hold the maildrop lease? A session whose lease was
   * lost must not delete, another session may own the maildrop now (RFC 1939 section 8).
   */
  public Future<Boolean> confirmLock() {
    requireState(Pop3State.UPDATE);
    return lock.confirm();
  }

  /** End of UPDATE: deletions are done (or failed, or skipped); release the lock. Completes once it is released. */
  public Future<Void> finishUpdate() {
    requireState(Pop3State.UPDATE);
    return releaseLock();
  }

  /** QUIT in AUTHORIZATION: nothing to apply, just close. */
  public void quitWithoutUpdate() {
    requireState(Pop3State.AUTHORIZATION);
    quit = true;
  }

  /**
   * The connection is gone (client hang-up, idle timeout, server stop). Outside UPDATE the lock is
   * released now; inside UPDATE the running deletion releases it when it finishes, so nobody
   * snapshots a maildrop whose deletions are still being applied. Completes once the lock is
   * released (at once when none is held).
   */
  public Future<Void> closed() {
    closed = true;
    user = null;
    saslPending = false;
    if (state != Pop3State.UPDATE) {
      return releaseLock();
    }
    return lock.whenReleased();
  }

  public boolean isClosed() {
    return closed;
  }

  /** True after QUIT: the connection closes once the reply is written. */
  public boolean isQuit() {
    return quit;
  }

  public Maildrop maildrop() {
    requireState(Pop3State.TRANSACTION, Pop3State.UPDATE);
    return maildrop;
  }

  public String mailbox() {
    return lock == null ? null : lock.mailbox();
  }

  /** True while this session holds its maildrop lock (taken, not released, not lost). */
  public boolean holdsLock() {
    return lock != null && !lock.isReleased() && !lock.isLost();
  }

  private Future<Void> releaseLock() {
    return lock == null ? Future.succeededFuture() : lock.release();
  }

  private void requireState(Pop3State... allowed) {
    for (Pop3State s : allowed) {
      if (state == s) {
        return;
      }
    }
    throw new IllegalStateException("not allowed in state " + state);
  }
}
