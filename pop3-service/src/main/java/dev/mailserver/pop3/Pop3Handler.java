package dev.mailserver.pop3;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.metrics.LogLine;
import dev.mailserver.common.model.MailboxAddress;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.pop3.protocol.Pop3Command;
import dev.mailserver.pop3.protocol.Pop3Reply;
import dev.mailserver.pop3.protocol.Pop3Reply.RespCode;
import dev.mailserver.pop3.protocol.Pop3Verb;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decisions of one POP3 session: a command line in, a {@code Future<Pop3Reply>} out. No socket
 * here; the connection feeds lines one at a time and waits for each reply (one command in flight).
 * Dispatch: look the verb up, check its state and argument count, run it. The returned future
 * never fails: store failures become -ERR replies with RFC 2449/3206 response codes.
 * Must be used from a single Vert.x context (the connection's event loop).
 *
 * <p>Observability: {@link Pop3Metrics}, and one INFO line when the session ends
 * ({@link #onSessionEnd}): {@code pop3 session end client=... user=... outcome=... duration_ms=...
 * auth_failures=... retr=... top=... dele=... bytes=...}; {@code user} is the mailbox after a
 * successful login, never what an unauthenticated client typed. Neither passwords nor command lines
 * are logged ({@link Pop3Command#toString()} masks PASS).
 */
public final class Pop3Handler {

  private static final Logger log = LoggerFactory.getLogger(Pop3Handler.class);

  /** Announced by CAPA (RFC 2449 section 6.9). */
  public static final String IMPLEMENTATION = "mailserver-pop3";

  /** RFC 2449 section 6; the same list in every state, as section 5 requires for AUTHORIZATION capabilities. */
  static final List<String> CAPABILITIES = List.of(
      "USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION " + IMPLEMENTATION);

  static final Pop3Reply UNKNOWN = Pop3Reply.err("Unknown command");
  static final Pop3Reply WRONG_STATE = Pop3Reply.err("Command not valid in this state");
  static final Pop3Reply SYNTAX = Pop3Reply.err("Syntax error");
  static final Pop3Reply LINE_TOO_LONG = Pop3Reply.err("Line too long");
  static final Pop3Reply NO_SUCH_MESSAGE = Pop3Reply.err("No such message");
  static final Pop3Reply BAD_CREDENTIALS = Pop3Reply.err(RespCode.AUTH, "Invalid credentials");
  static final Pop3Reply IN_USE = Pop3Reply.err(RespCode.IN_USE, "Maildrop already locked");
  static final Pop3Reply TEMP_FAILURE = Pop3Reply.err(RespCode.SYS_TEMP, "Mailstore unavailable, try again later");
  static final Pop3Reply INTERNAL = Pop3Reply.err(RespCode.SYS_TEMP, "Internal error");
  /** RFC 3206 section 5: temporary, the client may come back (to this or another node) later. */
  static final Pop3Reply SHUTTING_DOWN = Pop3Reply.err(RespCode.SYS_TEMP, "server shutting down");
  /** QUIT after the maildrop lease was lost: UPDATE is skipped (RFC 1939 section 8), mail stays. */
  static final Pop3Reply LOCK_LOST = Pop3Reply.err(RespCode.SYS_TEMP, "Maildrop lock lost, no messages deleted");

  private final Vertx vertx;
  private final MailstoreClient store;
  private final Pop3Options options;
  private final long lockLeaseMs;
  private final Pop3Session session = new Pop3Session();
  private final Pop3Metrics metrics;
  private Runnable leaseLostHandler = () -> { };

  // Per-session figures for the session-end line.
  private String clientIp = "";
  private long startNanos;
  private boolean connected;
  private boolean ended;
  private int authFailures;
  private int retrCount;
  private int topCount;
  private int deleted;
  private long bytesSent;

  public Pop3Handler(Vertx vertx, MailstoreClient store, Pop3Options options) {
    this(vertx, store, options, options.lockLeaseMs(), Pop3Metrics.detached());
  }

  public Pop3Handler(Vertx vertx, MailstoreClient store, Pop3Options options, Pop3Metrics metrics) {
    this(vertx, store, options, options.lockLeaseMs(), metrics);
  }

  /** With a lease in milliseconds: tests use sub-second leases, the config only has whole seconds. */
  Pop3Handler(Vertx vertx, MailstoreClient store, Pop3Options options, long lockLeaseMs) {
    this(vertx, store, options, lockLeaseMs, Pop3Metrics.detached());
  }

  Pop3Handler(Vertx vertx, MailstoreClient store, Pop3Options options, long lockLeaseMs, Pop3Metrics metrics) {
    this.vertx = vertx;
    this.store = store;
    this.options = options;
    this.lockLeaseMs = lockLeaseMs;
    this.metrics = metrics;
  }

  /** The connection is up (before the greeting): the session starts counting. */
  public void onConnect(String clientIp) {
    if (!connected) {
      connected = true;
      this.clientIp = clientIp;
      startNanos = System.nanoTime();
      metrics.sessionOpened();
    }
  }

  /** The connection is closed: count it and write the session-end line, once. */
  public void onSessionEnd(Pop3Metrics.Outcome outcome) {
    if (!connected || ended) {
      return;
    }
    ended = true;
    metrics.sessionEnded(outcome);
    log.info("{}", LogLine.of("pop3 session end")
        .add("client", clientIp)
        .add("user", session.mailbox())
        .add("outcome", outcome.tag())
        .add("duration_ms", (System.nanoTime() - startNanos) / 1_000_000)
        .add("auth_failures", authFailures)
        .add("retr", retrCount)
        .add("top", topCount)
        .add("dele", deleted)
        .add("bytes", bytesSent));
  }

  /**
   * Called when the maildrop lease is found lost outside UPDATE: the connection must close without
   * UPDATE, because another session may own the maildrop now (RFC 1939 section 8).
   */
  public void onLeaseLost(Runnable handler) {
    this.leaseLostHandler = handler == null ? () -> { } : handler;
  }

  /** RFC 1939 section 4. No APOP timestamp: APOP is not offered (passwords are stored hashed). */
  public Pop3Reply greeting() {
    return Pop3Reply.ok(options.hostname() + " POP3 server ready");
  }

  /** Reply for a line that exceeded the RFC 2449 section 4 limit (it was discarded unparsed). */
  public Pop3Reply lineTooLong() {
    return LINE_TOO_LONG;
  }

  public Pop3Session session() {
    return session;
  }

  /**
   * The connection is gone: release what the session holds (nothing is deleted). Completes once the
   * maildrop lease is released.
   */
  public Future<Void> close() {
    return session.closed();
  }

  /** Handles one command line (without CRLF). The future always succeeds. */
  public Future<Pop3Reply> handle(String line) {
    Pop3Command cmd = Pop3Command.parse(line);
    Future<Pop3Reply> reply;
    try {
      reply = dispatch(cmd);
    } catch (RuntimeException e) {
      log.error("POP3 command {} failed", cmd, e);
      reply = Future.succeededFuture(INTERNAL);
    }
    return reply.recover(t -> {
      log.error("POP3 command {} failed", cmd, t);
      return Future.succeededFuture(INTERNAL);
    });
  }

  private Future<Pop3Reply> dispatch(Pop3Command cmd) {
    if (cmd.verb().isEmpty()) {
      return done(UNKNOWN);
    }
    Pop3Verb verb = cmd.verb().get();
    if (!verb.allowedIn(session.state())) {
      return done(WRONG_STATE);
    }
    if (!verb.acceptsArgCount(cmd.args().size())) {
      return done(SYNTAX);
    }
    return switch (verb) {
      case USER -> user(cmd.arg(0));
      case PASS -> pass(cmd.arg(0));
      case QUIT -> quit();
      case STAT -> stat();
      case LIST -> cmd.args().isEmpty() ? listAll() : listOne(cmd.arg(0));
      case RETR -> retr(cmd.arg(0));
      case DELE -> dele(cmd.arg(0));
      case NOOP -> done(Pop3Reply.ok(""));
      case RSET -> rset();
      case TOP -> top(cmd.arg(0), cmd.arg(1));
      case UIDL -> cmd.args().isEmpty() ? uidlAll() : uidlOne(cmd.arg(0));
      case CAPA -> done(Pop3Reply.lines("Capability list follows", CAPABILITIES));
    };
  }

  // --- AUTHORIZATION -------------------------------------------------------------------------

  /**
   * Always +OK, whatever the name: answering -ERR for unknown users would tell an attacker which
   * mailboxes exist (RFC 1939 section 13 lets the server defer the check to PASS).
   */
  private Future<Pop3Reply> user(String name) {
    session.userGiven(name);
    return done(Pop3Reply.ok("send PASS"));
  }

  /** PASS: authenticate via the store, take the exclusive maildrop lock, snapshot the maildrop. */
  private Future<Pop3Reply> pass(String password) {
    if (!session.hasUser()) {
      return done(Pop3Reply.err("Send USER first"));
    }
    String user = session.takeUser();
    if (MailboxAddress.parse(user).isEmpty()) {
      // Can never be a mailbox here; same answer as a wrong password (RFC 3206 section 4).
      loginFailed(BAD_CREDENTIALS);
      return done(BAD_CREDENTIALS);
    }
    return store.authenticate(user, password)
        .recover(t -> Future.failedFuture(new LoginFailure(authFailureReply(t))))
        .compose(this::lockAndSnapshot)
        .compose(this::enterTransaction)
        .recover(t -> {
          if (t instanceof LoginFailure lf) {
            loginFailed(lf.reply);
            return Future.succeededFuture(lf.reply);
          }
          metrics.login(Pop3Metrics.Login.TEMP);
          return Future.failedFuture(t);
        });
  }

  private void loginFailed(Pop3Reply reply) {
    Pop3Metrics.Login result;
    if (reply == BAD_CREDENTIALS) {
      result = Pop3Metrics.Login.AUTH;
      authFailures++;
    } else if (reply == IN_USE) {
      result = Pop3Metrics.Login.IN_USE;
    } else if (reply == TEMP_FAILURE) {
      result = Pop3Metrics.Login.TEMP;
    } else {
      result = Pop3Metrics.Login.PERM;
    }
    metrics.login(result);
  }

  private Pop3Reply authFailureReply(Throwable t) {
    MailstoreException e = MailstoreException.from(t);
    if (e.error() == MailstoreError.AUTH_FAILED || e.error() == MailstoreError.INVALID_REQUEST
        || e.error() == MailstoreError.MAILBOX_NOT_FOUND) {
      return BAD_CREDENTIALS;
    }
    log.warn("POP3 login: mailstore failure: {}", e.getMessage());
    return e.error().isTemporary() ? TEMP_FAILURE : Pop3Reply.err(RespCode.SYS_PERM, "Login failed");
  }

  /**
   * RFC 1939 section 8 / RFC 2449 section 8.1.2: an exclusive lock on the maildrop, or [IN-USE] at
   * once: a lease held by a live session will not come free soon, and one left by a dead node
   * expires by itself within a lease. The lock is taken before the snapshot, so the snapshot cannot
   * race another session's UPDATE.
   */
  private Future<Login> lockAndSnapshot(String mailbox) {
    return MaildropLock.tryAcquire(vertx, mailbox, lockLeaseMs)
        .recover(t -> {
          log.warn("POP3 maildrop lease map unavailable for {}: {}", mailbox, t.toString());
          return Future.failedFuture(new LoginFailure(TEMP_FAILURE));
        })
        .compose(lock -> {
          if (lock == null) {
            return Future.failedFuture(new LoginFailure(IN_USE));
          }
          lock.onLost(this::leaseLost);
          return store.list(mailbox)
              .map(list -> new Login(lock, Maildrop.snapshot(list)))
              .recover(t -> {
                MailstoreException e = MailstoreException.from(t);
                log.warn("POP3 listing {} failed: {}", mailbox, e.getMessage());
                LoginFailure failure = new LoginFailure(e.error().isTemporary()
                    ? TEMP_FAILURE : Pop3Reply.err(RespCode.SYS_PERM, "Maildrop not available"));
                return lock.release().transform(ar -> Future.failedFuture(failure));
              });
        });
  }

  private Future<Pop3Reply> enterTransaction(Login login) {
    if (!session.enterTransaction(login.lock, login.maildrop)) {
      // The client went away while we were logging it in; the lock is being released.
      metrics.login(Pop3Metrics.Login.ABORTED);
      return login.lock.release().map(v -> Pop3Reply.err("Session closed"));
    }
    metrics.login(Pop3Metrics.Login.SUCCESS);
    log.debug("POP3 login {}", login.lock.mailbox());
    return done(maildropSummary());
  }

  /** Renewal found the lease gone or taken. During UPDATE the QUIT reply closes the connection anyway. */
  private void leaseLost() {
    metrics.lockLost();
    if (!session.isQuit()) {
      leaseLostHandler.run();
    }
  }

  // --- TRANSACTION ---------------------------------------------------------------------------

  private Future<Pop3Reply> stat() {
    Maildrop md = session.maildrop();
    return done(Pop3Reply.ok(md.count() + " " + md.size()));
  }

  /** RFC 1939 section 5: without an argument, deleted messages are left out. */
  private Future<Pop3Reply> listAll() {
    Maildrop md = session.maildrop();
    List<String> lines = new ArrayList<>();
    for (Maildrop.Entry e : md.visible()) {
      lines.add(e.number() + " " + e.info().size());
    }
    return done(Pop3Reply.lines(md.count() + " messages (" + md.size() + " octets)", lines));
  }

  private Future<Pop3Reply> listOne(String arg) {
    return withMessage(arg, (n, info) -> done(Pop3Reply.ok(n + " " + info.size())));
  }

  private Future<Pop3Reply> uidlAll() {
    List<String> lines = new ArrayList<>();
    for (Maildrop.Entry e : session.maildrop().visible()) {
      lines.add(e.number() + " " + e.info().uid());
    }
    return done(Pop3Reply.lines("unique-id listing follows", lines));
  }

  private Future<Pop3Reply> uidlOne(String arg) {
    return withMessage(arg, (n, info) -> done(Pop3Reply.ok(n + " " + info.uid())));
  }

  private Future<Pop3Reply> retr(String arg) {
    return withMessage(arg, (n, info) -> store.fetch(session.mailbox(), info.id())
        .map(bytes -> {
          sent(false, bytes.length());
          return Pop3Reply.multiLine(bytes.length() + " octets", bytes);
        })
        .recover(t -> Future.succeededFuture(fetchFailureReply(t))));
  }

  /** RFC 1939 section 7: TOP msg n - headers, the blank line and n body lines; n must be non-negative. */
  private Future<Pop3Reply> top(String msgArg, String linesArg) {
    Optional<Integer> lines = nonNegative(linesArg);
    if (lines.isEmpty()) {
      return done(SYNTAX);
    }
    return withMessage(msgArg, (n, info) -> store.fetchTop(session.mailbox(), info.id(), lines.get())
        .map(bytes -> {
          sent(true, bytes.length());
          return Pop3Reply.multiLine("top of message follows", bytes);
        })
        .recover(t -> Future.succeededFuture(fetchFailureReply(t))));
  }

  private void sent(boolean isTop, int bytes) {
    if (isTop) {
      topCount++;
    } else {
      retrCount++;
    }
    bytesSent += bytes;
    metrics.retrieved(isTop, bytes);
  }

  private Pop3Reply fetchFailureReply(Throwable t) {
    MailstoreException e = MailstoreException.from(t);
    if (e.error() == MailstoreError.MESSAGE_NOT_FOUND) {
      // Removed behind our back (another protocol, the HTTP API): the snapshot is stale for it.
      return Pop3Reply.err("Message no longer exists");
    }
    log.warn("POP3 fetch from {} failed: {}", session.mailbox(), e.getMessage());
    return e.error().isTemporary() ? TEMP_FAILURE : Pop3Reply.err(RespCode.SYS_PERM, "Message not available");
  }

  /** RFC 1939 section 5: DELE only marks; the store is touched in UPDATE. */
  private Future<Pop3Reply> dele(String arg) {
    Maildrop md = session.maildrop();
    Optional<Integer> n = nonNegative(arg);
    if (n.isPresent() && md.isDeleted(n.get())) {
      return done(Pop3Reply.err("Message " + n.get() + " already deleted"));
    }
    return withMessage(arg, (num, info) -> {
      md.markDeleted(num);
      return done(Pop3Reply.ok("Message " + num + " deleted"));
    });
  }

  private Future<Pop3Reply> rset() {
    session.maildrop().reset();
    return done(maildropSummary());
  }

  // --- QUIT / UPDATE -------------------------------------------------------------------------

  /**
   * RFC 1939 section 6: QUIT in TRANSACTION enters UPDATE - remove the marked messages, release the
   * lock, then reply. Releasing before the reply lets the client log in again right away. Before
   * deleting, the lease is confirmed (and renewed): if it was lost, another session may own the
   * maildrop (RFC 1939 section 8), so nothing is deleted.
   */
  private Future<Pop3Reply> quit() {
    String bye = options.hostname() + " POP3 server signing off";
    if (session.state() == Pop3State.AUTHORIZATION) {
      session.quitWithoutUpdate();
      return done(Pop3Reply.ok(bye));
    }
    session.enterUpdate();
    Maildrop md = session.maildrop();
    List<String> ids = md.deletedIds();
    int left = md.count();
    Future<Pop3Reply> applied = ids.isEmpty()
        ? done(Pop3Reply.ok(bye + summaryOnQuit(left)))
        : session.confirmLock().compose(held -> !held ? lockLostAtQuit() : store.delete(session.mailbox(), ids)
            .map(n -> {
              deleted += n;
              metrics.deleted(n);
              return Pop3Reply.ok(bye + summaryOnQuit(left));
            })
            .recover(t -> {
              log.warn("POP3 UPDATE of {} failed: {}", session.mailbox(), MailstoreException.from(t).getMessage());
              // RFC 1939 section 6 example text; [SYS/TEMP]: the messages are still there, retry later.
              return Future.succeededFuture(Pop3Reply.err(RespCode.SYS_TEMP, "Some deleted messages not removed"));
            }));
    // Whatever happened, UPDATE ends by releasing the lease; otherwise renewal would keep it forever.
    return applied.transform(ar -> session.finishUpdate().map(v -> ar.succeeded() ? ar.result() : INTERNAL));
  }

  private Future<Pop3Reply> lockLostAtQuit() {
    metrics.lockLost();
    return done(LOCK_LOST);
  }

  private static String summaryOnQuit(int left) {
    return left == 0 ? " (maildrop empty)" : " (" + left + (left == 1 ? " message" : " messages") + " left)";
  }

  // --- helpers -------------------------------------------------------------------------------

  private interface MessageAction {
    Future<Pop3Reply> run(int number, MessageInfo info);
  }

  /** Resolves a message-number argument: non-numeric, out of range or deleted -> -ERR. */
  private Future<Pop3Reply> withMessage(String arg, MessageAction action) {
    Optional<Integer> n = nonNegative(arg);
    if (n.isEmpty()) {
      return done(SYNTAX);
    }
    Optional<MessageInfo> info = session.maildrop().get(n.get());
    if (info.isEmpty()) {
      return done(NO_SUCH_MESSAGE);
    }
    return action.run(n.get(), info.get());
  }

  /** Digits only (no sign, no spaces); values beyond int range saturate, so they are simply out of range. */
  static Optional<Integer> nonNegative(String s) {
    if (s == null || s.isEmpty()) {
      return Optional.empty();
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return Optional.empty();
      }
      v = Math.min(v * 10 + (c - '0'), Integer.MAX_VALUE);
    }
    return Optional.of((int) v);
  }

  private Pop3Reply maildropSummary() {
    Maildrop md = session.maildrop();
    return Pop3Reply.ok("maildrop has " + md.count() + " messages (" + md.size() + " octets)");
  }

  private static Future<Pop3Reply> done(Pop3Reply reply) {
    return Future.succeededFuture(reply);
  }

  private record Login(MaildropLock lock, Maildrop maildrop) {}

  /** Carries the -ERR for a failed login step through the future chain. */
  private static final class LoginFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient Pop3Reply reply;

    LoginFailure(Pop3Reply reply) {
      super(reply.statusLine().strip(), null, false, false);
      this.reply = reply;
    }
  }
}
