package dev.mailserver.pop3;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.metrics.LogLine;
import dev.mailserver.common.model.MailboxAddress;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.pop3.protocol.Pop3Command;
import dev.mailserver.pop3.protocol.Pop3Reply;
import dev.mailserver.pop3.protocol.Pop3Reply.RespCode;
import dev.mailserver.pop3.protocol.Pop3Verb;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
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
 * are logged ({@link Pop3Command#toString()} masks PASS and AUTH responses; SASL response lines are
 * never logged).
 *
 * <p>Security rules decided here (the connection only carries them out):
 * <ul>
 *   <li>Plaintext credentials (USER/PASS, AUTH PLAIN) only under TLS unless
 *       {@code pop3.allowPlaintextAuth} (RFC 2595 section 2.1); CAPA shows only what may be used
 *       now (RFC 2449 section 5, RFC 2595 section 4).</li>
 *   <li>STLS (RFC 2595 section 4): +OK and a request to the connection to switch; -ERR when TLS is
 *       already active or not configured.</li>
 *   <li>AUTH PLAIN (RFC 5034, RFC 4616), with or without initial response.</li>
 *   <li>Failed logins are throttled per client address and per account ({@link LoginThrottle}):
 *       the growing delay is a timer before the reply, never a sleep, so other sessions on the same
 *       event loop go on; during a lockout the store is not asked at all.</li>
 *   <li>Bad commands are counted; at {@code pop3.maxErrors} the reply says so and
 *       {@link #closeRequested()} tells the connection to close (without UPDATE).</li>
 * </ul>
 */
public final class Pop3Handler {

  private static final Logger log = LoggerFactory.getLogger(Pop3Handler.class);

  /** Announced by CAPA (RFC 2449 section 6.9). */
  public static final String IMPLEMENTATION = "mailserver-pop3";

  /** The SASL mechanisms offered (RFC 2449 section 6.3); PLAIN only: passwords are stored hashed. */
  static final List<String> SASL_MECHANISMS = List.of("PLAIN");

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

  /**
   * USER/PASS or AUTH PLAIN before TLS while {@code allowPlaintextAuth} is off (RFC 2595 section 2.1).
   * [AUTH] (RFC 3206 section 4): the problem is how the credentials would travel, and a client must
   * not retry the same way; Dovecot answers the same situation with the same code.
   */
  static final Pop3Reply PLAINTEXT_DISALLOWED_USE_STLS =
      Pop3Reply.err(RespCode.AUTH, "Plaintext authentication disallowed without TLS, use STLS");
  /** The same when TLS is switched off: no way to log in at all (the verticle warns at start). */
  static final Pop3Reply PLAINTEXT_DISALLOWED = Pop3Reply.err(RespCode.AUTH, "Plaintext authentication disallowed without TLS");
  /** RFC 2595 section 4 example reply. */
  static final Pop3Reply STLS_OK = Pop3Reply.ok("Begin TLS negotiation");
  /** RFC 2595 section 4 example reply for STLS while TLS is active. */
  static final Pop3Reply TLS_ACTIVE = Pop3Reply.err("Command not permitted when TLS active");
  static final Pop3Reply TLS_UNAVAILABLE = Pop3Reply.err("STLS not available");
  static final Pop3Reply UNSUPPORTED_MECHANISM = Pop3Reply.err("Unsupported authentication mechanism");
  /** RFC 5034 section 4: a "*" response cancels; the server MUST reject the AUTH command with -ERR. */
  static final Pop3Reply AUTH_CANCELLED = Pop3Reply.err("Authentication cancelled");
  /** RFC 5034 section 4: a response that is not base64 MUST be rejected with -ERR. */
  static final Pop3Reply BAD_BASE64 = Pop3Reply.err("Invalid base64 data");
  /** RFC 4616 section 2: authzid NUL authcid NUL passwd, authcid and passwd non-empty. */
  static final Pop3Reply MALFORMED_PLAIN = Pop3Reply.err("Malformed PLAIN response");
  /** RFC 4616 section 2: acting as someone else is not permitted here. */
  static final Pop3Reply AUTHZ_REFUSED =
      Pop3Reply.err(RespCode.AUTH, "Authorization identity must be empty or equal the authentication identity");
  /**
   * Login locked out by {@link LoginThrottle}. [SYS/TEMP] (RFC 3206 section 5): temporary, and not
   * a statement about the credentials (they were not even checked), so a client should wait
   * rather than ask its user for a new password.
   */
  static final Pop3Reply LOGIN_LOCKED = Pop3Reply.err(RespCode.SYS_TEMP, "Too many failed logins, try again later");
  /** {@code pop3.maxErrors} reached: this reply, then the connection closes without UPDATE. */
  static final Pop3Reply TOO_MANY_ERRORS = Pop3Reply.err("Too many bad commands, closing connection");
  /** Connection limits (written by the verticle before closing; RFC 3206 section 5: retry later). */
  static final Pop3Reply TOO_MANY_CONNECTIONS = Pop3Reply.err(RespCode.SYS_TEMP, "Too many connections");
  static final Pop3Reply TOO_MANY_CONNECTIONS_FROM_IP =
      Pop3Reply.err(RespCode.SYS_TEMP, "Too many connections from your address");

  /** Replies that count as a bad command towards {@code pop3.maxErrors}. */
  private static final Set<Pop3Reply> BAD_COMMANDS =
      Set.of(UNKNOWN, WRONG_STATE, SYNTAX, LINE_TOO_LONG, UNSUPPORTED_MECHANISM, BAD_BASE64, MALFORMED_PLAIN);

  /** Delay of a reply to a locked-out login: answering at once would make hammering free. */
  static final long LOCKED_REPLY_DELAY_MS = 500;

  /**
   * RETR of a message larger than this (by the login snapshot's size) is streamed: fetched in
   * ranges of {@link #RANGE_LENGTH} while it is written ({@link StreamedRetr}), not fetched whole.
   */
  static final long STREAM_THRESHOLD = 1024 * 1024;
  /** Octets per ranged fetch of a streamed RETR; a RETR holds at most two ranges (written, next). */
  static final int RANGE_LENGTH = 256 * 1024;
  /**
   * Read-ahead bound: after a RETR, the next messages of the snapshot are fetched while the client
   * reads this one, at most this many octets and {@link #READ_AHEAD_MESSAGES} messages per session.
   */
  static final long READ_AHEAD_BYTES = 256 * 1024;
  static final int READ_AHEAD_MESSAGES = 4;

  private final Vertx vertx;
  private final MailstoreClient store;
  private final Pop3Options options;
  private final long lockLeaseMs;
  private final Pop3Session session = new Pop3Session();
  private final Pop3Metrics metrics;
  /** Null: no throttling (handlers built in unit tests). */
  private final LoginThrottle throttle;
  private Runnable leaseLostHandler = () -> { };
  /** A streamed RETR answered +OK, for the connection to take with its reply. */
  private StreamedRetr pendingStream;
  /** Fetches started ahead of their RETR, in message-number order ({@link #readAhead}). */
  private final ArrayDeque<Ahead> ahead = new ArrayDeque<>();
  private long aheadBytes;
  private int badCommands;
  private boolean closeRequested;

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
    this(vertx, store, options, lockLeaseMs, metrics, null);
  }

  /** @param throttle shared by the sessions of a deployment; null turns throttling off */
  Pop3Handler(Vertx vertx, MailstoreClient store, Pop3Options options, long lockLeaseMs, Pop3Metrics metrics,
              LoginThrottle throttle) {
    this.vertx = vertx;
    this.store = store;
    this.options = options;
    this.lockLeaseMs = lockLeaseMs;
    this.metrics = metrics;
    this.throttle = throttle;
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

  /**
   * Reply for a line that exceeded the RFC 2449 section 4 limit (it was discarded unparsed). It
   * counts as a bad command; inside an AUTH exchange it also ends the exchange.
   */
  public Pop3Reply lineTooLong() {
    session.endSasl();
    return countBadCommand(LINE_TOO_LONG);
  }

  /** True once {@code pop3.maxErrors} was reached: close the connection after writing the reply. */
  public boolean closeRequested() {
    return closeRequested;
  }

  /** True while an AUTH exchange waits for the client's response line (longer lines allowed). */
  public boolean expectsSaslResponse() {
    return session.inSasl();
  }

  /**
   * The data source of the reply just returned, once, when it is a streamed RETR: its reply is a
   * multi-line +OK without content, and the connection writes the data from here. Null otherwise.
   */
  StreamedRetr takeStreamedRetr() {
    StreamedRetr s = pendingStream;
    pendingStream = null;
    return s;
  }

  /** STLS was accepted: true once; the connection then switches to TLS (RFC 2595 section 4). */
  public boolean takeTlsRequest() {
    return session.takeTlsRequest();
  }

  /** TLS is active on the connection: after STLS, or from the start on the POP3S port. */
  public void tlsStarted() {
    session.tlsStarted();
  }

  public Pop3Session session() {
    return session;
  }

  /**
   * The connection is gone: release what the session holds (nothing is deleted). Completes once the
   * maildrop lease is released.
   */
  public Future<Void> close() {
    dropAhead();
    return session.closed();
  }

  /**
   * Handles one line (without CRLF): a command, or the client's response inside an AUTH exchange.
   * The future always succeeds, with exactly one reply.
   */
  public Future<Pop3Reply> handle(String line) {
    pendingStream = null;
    if (session.inSasl()) {
      // Never log this line: it carries the credentials.
      return guarded(() -> saslResponse(line), "AUTH response").map(this::countBadCommand);
    }
    Pop3Command cmd = Pop3Command.parse(line);
    return guarded(() -> dispatch(cmd), cmd).map(this::countBadCommand);
  }

  private Future<Pop3Reply> guarded(Supplier<Future<Pop3Reply>> action, Object what) {
    Future<Pop3Reply> reply;
    try {
      reply = action.get();
    } catch (RuntimeException e) {
      log.error("POP3 command {} failed", what, e);
      reply = Future.succeededFuture(INTERNAL);
    }
    return reply.recover(t -> {
      log.error("POP3 command {} failed", what, t);
      return Future.succeededFuture(INTERNAL);
    });
  }

  /**
   * Counts bad commands; the one that reaches {@code pop3.maxErrors} is answered with
   * {@link #TOO_MANY_ERRORS} instead and the connection is asked to close: a client that keeps
   * sending garbage is either broken or probing, and either way holds a connection slot.
   */
  private Pop3Reply countBadCommand(Pop3Reply reply) {
    if (!BAD_COMMANDS.contains(reply)) {
      return reply;
    }
    badCommands++;
    if (badCommands >= options.maxErrors()) {
      closeRequested = true;
      session.endSasl();
      return TOO_MANY_ERRORS;
    }
    return reply;
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
    if ((verb == Pop3Verb.USER || verb == Pop3Verb.PASS) && !plaintextAllowed()) {
      // RFC 2595 section 2.1: refused before the name, let alone the password, is looked at.
      return done(plaintextDisallowed());
    }
    return switch (verb) {
      case USER -> user(cmd.arg(0));
      case PASS -> pass(cmd.arg(0));
      case STLS -> stls();
      case AUTH -> auth(cmd.args());
      case QUIT -> quit();
      case STAT -> stat();
      case LIST -> cmd.args().isEmpty() ? listAll() : listOne(cmd.arg(0));
      case RETR -> retr(cmd.arg(0));
      case DELE -> dele(cmd.arg(0));
      case NOOP -> done(Pop3Reply.ok(""));
      case RSET -> rset();
      case TOP -> top(cmd.arg(0), cmd.arg(1));
      case UIDL -> cmd.args().isEmpty() ? uidlAll() : uidlOne(cmd.arg(0));
      case CAPA -> done(Pop3Reply.lines("Capability list follows", capabilities()));
    };
  }

  private boolean plaintextAllowed() {
    return options.plaintextAuthAllowed(session.tlsActive());
  }

  private Pop3Reply plaintextDisallowed() {
    return options.tlsEnabled() ? PLAINTEXT_DISALLOWED_USE_STLS : PLAINTEXT_DISALLOWED;
  }

  /**
   * RFC 2449 section 6 capabilities as they stand on this connection now. USER and SASL PLAIN only
   * when they may be used (RFC 2595 section 2.1; a client must not be invited to send a password in
   * the clear), STLS only while TLS is available and not yet active (RFC 2595 section 4: after STLS
   * the client discards its cached CAPA and asks again). Section 5 asks that AUTHORIZATION
   * capabilities are announced in TRANSACTION too, so the list depends on the TLS state only.
   */
  List<String> capabilities() {
    List<String> caps = new ArrayList<>();
    boolean plaintext = plaintextAllowed();
    if (plaintext) {
      caps.add("USER");
    }
    caps.add("TOP");
    caps.add("UIDL");
    caps.add("RESP-CODES");
    caps.add("AUTH-RESP-CODE");
    caps.add("PIPELINING");
    if (plaintext) {
      caps.add("SASL " + String.join(" ", SASL_MECHANISMS));
    }
    if (options.tlsEnabled() && !session.tlsActive()) {
      caps.add("STLS");
    }
    caps.add("IMPLEMENTATION " + IMPLEMENTATION);
    return caps;
  }

  // --- TLS -----------------------------------------------------------------------------------

  /**
   * RFC 2595 section 4. The +OK is written by the connection as part of the switch
   * ({@code NetSocket.upgradeToSsl}), and everything the client pipelined behind STLS is dropped.
   */
  private Future<Pop3Reply> stls() {
    if (session.tlsActive()) {
      return done(TLS_ACTIVE);
    }
    if (!options.tlsEnabled()) {
      return done(TLS_UNAVAILABLE);
    }
    session.requestTls();
    return done(STLS_OK);
  }

  // --- AUTH (RFC 5034) -----------------------------------------------------------------------

  private Future<Pop3Reply> auth(List<String> args) {
    if (args.isEmpty()) {
      // Not in RFC 5034 (the mechanism is required); RFC 1734-era clients probe this way.
      return done(Pop3Reply.lines("Supported mechanisms follow", plaintextAllowed() ? SASL_MECHANISMS : List.of()));
    }
    String mechanism = args.get(0).toUpperCase(Locale.ROOT);
    if (!SASL_MECHANISMS.contains(mechanism)) {
      return done(UNSUPPORTED_MECHANISM);
    }
    if (!plaintextAllowed()) {
      return done(plaintextDisallowed());
    }
    session.takeUser(); // a USER given before AUTH plays no part in it
    if (args.size() == 1) {
      // RFC 5034 section 4: no initial response, so an empty challenge "+ " asks for it.
      session.beginSasl();
      return done(Pop3Reply.challenge(""));
    }
    // RFC 5034 section 4: "=" is an initial response of zero length.
    return plain(args.get(1).equals("=") ? "" : args.get(1));
  }

  /** The line after "+ ": "*" cancels (RFC 5034 section 4), anything else is the base64 response. */
  private Future<Pop3Reply> saslResponse(String line) {
    session.endSasl();
    if (line.equals("*")) {
      return done(AUTH_CANCELLED);
    }
    return plain(line);
  }

  /** RFC 4616 section 2: {@code [authzid] NUL authcid NUL passwd}. */
  private Future<Pop3Reply> plain(String base64) {
    byte[] raw;
    try {
      raw = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      return done(BAD_BASE64);
    }
    int first = indexOf(raw, 0);
    int second = first < 0 ? -1 : indexOf(raw, first + 1);
    if (second < 0 || indexOf(raw, second + 1) >= 0 || second == first + 1 || second == raw.length - 1) {
      return done(MALFORMED_PLAIN);
    }
    String authzid = new String(raw, 0, first, StandardCharsets.UTF_8);
    String authcid = new String(raw, first + 1, second - first - 1, StandardCharsets.UTF_8);
    String password = new String(raw, second + 1, raw.length - second - 1, StandardCharsets.UTF_8);
    if (!authzid.isEmpty() && !sameIdentity(authzid, authcid)) {
      // Nobody may act as another user here (RFC 4616 section 2 leaves that policy to the server).
      return done(AUTHZ_REFUSED);
    }
    return login(authcid, password);
  }

  private static boolean sameIdentity(String a, String b) {
    Optional<MailboxAddress> x = MailboxAddress.parse(a);
    Optional<MailboxAddress> y = MailboxAddress.parse(b);
    return x.isPresent() && y.isPresent() ? x.get().equals(y.get()) : a.equals(b);
  }

  private static int indexOf(byte[] b, int from) {
    for (int i = from; i < b.length; i++) {
      if (b[i] == 0) {
        return i;
      }
    }
    return -1;
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
    return login(session.takeUser(), password);
  }

  /**
   * One login attempt (PASS or AUTH PLAIN), throttled: locked out -> {@link #LOGIN_LOCKED} without
   * asking the store; otherwise wait the delay earned by earlier failures (so a guesser cannot
   * learn a result sooner by hanging up), check, and on a wrong password answer no sooner than the
   * delay this failure earns. All waiting is a timer on the event loop.
   */
  private Future<Pop3Reply> login(String user, String password) {
    long start = System.nanoTime();
    Optional<MailboxAddress> address = MailboxAddress.parse(user);
    // The throttle's account key: the canonical mailbox, or (never a mailbox) the name as typed,
    // bounded so that junk names cannot make the throttle's keys large.
    String account = address.map(MailboxAddress::toString).orElseGet(() -> {
      String lower = user.toLowerCase(Locale.ROOT);
      return lower.substring(0, Math.min(lower.length(), 320));
    });
    long before = 0;
    if (throttle != null) {
      LoginThrottle.Decision d = throttle.check(clientIp, account);
      if (d.locked()) {
        metrics.login(Pop3Metrics.Login.LOCKED);
        authFailures++;
        return delayed(Math.max(d.delayMs(), LOCKED_REPLY_DELAY_MS), LOGIN_LOCKED);
      }
      before = d.delayMs();
    }
    return before > 0
        ? delayed(before, null).compose(v -> attempt(address, user, password, account, start))
        : attempt(address, user, password, account, start);
  }

  private Future<Pop3Reply> attempt(Optional<MailboxAddress> address, String user, String password, String account,
                                    long start) {
    if (session.isClosed()) {
      return done(Pop3Reply.err("Session closed"));
    }
    Future<String> authenticated = address.isEmpty()
        // Can never be a mailbox here; same answer as a wrong password (RFC 3206 section 4).
        ? Future.failedFuture(new LoginFailure(BAD_CREDENTIALS))
        : store.authenticate(user, password)
            .recover(t -> Future.failedFuture(new LoginFailure(authFailureReply(t))))
            .onSuccess(mailbox -> {
              if (throttle != null) {
                throttle.success(clientIp, account);
              }
            });
    return authenticated
        .compose(this::lockAndSnapshot)
        .compose(this::enterTransaction)
        .recover(t -> {
          if (t instanceof LoginFailure lf) {
            loginFailed(lf.reply);
            if (lf.reply == BAD_CREDENTIALS && throttle != null) {
              long delay = throttle.failure(clientIp, account);
              long waited = (System.nanoTime() - start) / 1_000_000;
              return delayed(delay - waited, lf.reply);
            }
            return Future.succeededFuture(lf.reply);
          }
          metrics.login(Pop3Metrics.Login.TEMP);
          return Future.failedFuture(t);
        });
  }

  /** {@code value} after {@code ms} (a timer on this context), or at once when ms <= 0. */
  private <T> Future<T> delayed(long ms, T value) {
    if (ms <= 0) {
      return Future.succeededFuture(value);
    }
    Promise<T> p = Promise.promise();
    vertx.setTimer(ms, id -> p.complete(value));
    return p.future();
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
    return withMessage(arg, (n, info) -> {
      if (info.size() > STREAM_THRESHOLD) {
        dropAhead();
        return streamedRetr(info);
      }
      Future<Buffer> fetched = takeAhead(n);
      if (fetched == null) {
        fetched = store.fetch(session.mailbox(), info.id());
      }
      readAhead(n);
      return fetched
          .map(bytes -> {
            sent(false, bytes.length());
            return Pop3Reply.multiLine(bytes.length() + " octets", bytes);
          })
          .recover(t -> Future.succeededFuture(fetchFailureReply(t)));
    });
  }

  private record Ahead(int number, long size, Future<Buffer> bytes) {}

  /**
   * The fetch started ahead for message {@code n}, if any and not failed (a failure is asked again,
   * so the reply reflects the store now); entries before {@code n} are dropped (skipped).
   */
  private Future<Buffer> takeAhead(int n) {
    while (!ahead.isEmpty() && ahead.peekFirst().number() <= n) {
      Ahead a = ahead.pollFirst();
      aheadBytes -= a.size();
      if (a.number() == n && !a.bytes().failed()) {
        return a.bytes();
      }
    }
    return null;
  }

  /**
   * Starts fetching the messages after {@code n} (not marked deleted, in snapshot order) while the
   * client reads message n, so that RETR n+1 finds its bytes at hand: clients fetch in order. Only
   * after a RETR, so a session that only lists (UIDL sync) costs nothing; bounded per session by
   * {@link #READ_AHEAD_BYTES} and {@link #READ_AHEAD_MESSAGES}; stops at a message too big for
   * the budget. Maildir files are never rewritten, so the bytes are those RETR would fetch; a
   * message removed by another agent meanwhile is still served, as from the login snapshot
   * (RFC 1939 section 8 leaves concurrent changes to the server).
   */
  private void readAhead(int n) {
    Maildrop md = session.maildrop();
    int next = ahead.isEmpty() ? n + 1 : ahead.peekLast().number() + 1;
    while (ahead.size() < READ_AHEAD_MESSAGES && md.inRange(next)) {
      Optional<MessageInfo> info = md.get(next);
      if (info.isPresent()) {
        long size = info.get().size();
        if (aheadBytes + size > READ_AHEAD_BYTES) {
          return;
        }
        ahead.addLast(new Ahead(next, size, store.fetch(session.mailbox(), info.get().id())));
        aheadBytes += size;
      }
      next++;
    }
  }

  private void dropAhead() {
    ahead.clear();
    aheadBytes = 0;
  }

  /** Octets fetched ahead and not yet taken (tests check the bound). */
  long readAheadBytes() {
    return aheadBytes;
  }

  /**
   * A big message: the first range is fetched before answering, so a message already gone or a
   * store that is down still gets a proper -ERR. The +OK carries the snapshot's size; the rest of
   * the ranges are fetched by the connection while it writes ({@link #takeStreamedRetr()}).
   */
  private Future<Pop3Reply> streamedRetr(MessageInfo info) {
    StreamedRetr stream = new StreamedRetr(session.mailbox(), info);
    return stream.fetch(0)
        .map(first -> {
          stream.first = first;
          pendingStream = stream;
          return Pop3Reply.multiLine(info.size() + " octets", Buffer.buffer());
        })
        .recover(t -> Future.succeededFuture(fetchFailureReply(t)));
  }

  /**
   * The data of a streamed RETR: the message's ranges in order, {@link #RANGE_LENGTH} octets each,
   * for {@code Pop3Connection}, which asks for range k+1 while writing range k (so a RETR holds at
   * most two ranges) and checks every range against the snapshot size sent in the +OK. The size
   * on the +OK line must be what is sent (before stuffing): a range shorter or longer than the
   * size says, or a message deleted between ranges (MESSAGE_NOT_FOUND), cannot be reported with
   * -ERR after the +OK (RFC 1939 has no way), so the connection closes without the terminating
   * dot; a client treats that as a failed retrieval, and no UPDATE happens.
   */
  final class StreamedRetr {
    private final String mailbox;
    private final MessageInfo info;
    private Buffer first;

    private StreamedRetr(String mailbox, MessageInfo info) {
      this.mailbox = mailbox;
      this.info = info;
    }

    /** The octets to send: the snapshot's size, announced on the +OK line. */
    long size() {
      return info.size();
    }

    /** The first range (fetched before the +OK), once. */
    Buffer takeFirst() {
      Buffer b = first;
      first = null;
      return b;
    }

    /** How long the range at {@code offset} must be if the message is as the snapshot says. */
    int expectedLength(long offset) {
      return (int) Math.min(RANGE_LENGTH, info.size() - offset);
    }

    /**
     * The range at {@code offset}. The last one asks for one octet more than should be left, so a
     * message longer than its snapshot size shows up as a range longer than expected.
     */
    Future<Buffer> fetch(long offset) {
      long left = info.size() - offset;
      int length = left > RANGE_LENGTH ? RANGE_LENGTH : (int) left + 1;
      return store.fetchRange(mailbox, info.id(), offset, length);
    }

    /** Every octet was handed to the socket: count the retrieval. */
    void completed() {
      sent(false, info.size());
    }

    /** The RETR is being aborted after its +OK; the connection closes. */
    void aborted(long sentOctets, String why) {
      log.warn("POP3 RETR of {} from {} aborted after {} of {} octets: {}; closing the connection without the "
          + "terminating dot", info.id(), mailbox, sentOctets, info.size(), why);
    }

    /** Why a range fetch failed, for {@link #aborted}. */
    String failure(Throwable t) {
      MailstoreException e = MailstoreException.from(t);
      return e.error() == MailstoreError.MESSAGE_NOT_FOUND ? "message removed during the transfer" : e.getMessage();
    }
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

  private void sent(boolean isTop, long bytes) {
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
      ahead.removeIf(a -> {
        if (a.number() == num) {
          aheadBytes -= a.size();
          return true;
        }
        return false;
      });
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
