package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.metrics.LogLine;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.MailboxAddress;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.smtp.protocol.BdatChunk;
import dev.mailserver.smtp.protocol.ContentSink;
import dev.mailserver.smtp.protocol.DataDecoder;
import dev.mailserver.smtp.protocol.LineFramer;
import dev.mailserver.smtp.protocol.MailPath;
import dev.mailserver.smtp.protocol.Replies;
import dev.mailserver.smtp.protocol.Sasl;
import dev.mailserver.smtp.protocol.SmtpCommand;
import dev.mailserver.smtp.protocol.SmtpReply;
import dev.mailserver.smtp.protocol.SmtpVerb;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decisions of one SMTP session: takes a command line, returns the reply. No I/O here except
 * the mailstore calls (and timers for the AUTH throttle); the connection moves the bytes. Replies
 * that need the mailstore (RCPT, AUTH, end of DATA, BDAT LAST) come back as pending futures, and
 * the connection stops reading until they complete: one command in flight, so PIPELINING replies
 * stay in order (RFC 2920 section 3.1) and a slow store slows the client down instead of filling
 * memory.
 *
 * <p>Policy depends on the {@link Listener}: the MX port takes mail for local domains without
 * AUTH; submission and SMTPS (RFC 6409, RFC 8314) need AUTH before MAIL, bind the sender to the
 * account and complete missing Date/Message-ID fields. No listener relays: every recipient must
 * be in a local domain, authenticated or not.
 *
 * <p>Observability: the connection reports each reply it writes ({@link #onReplySent}) and the
 * end of the session ({@link #onDisconnect}), which feeds {@link SmtpMetrics} and logs one INFO line
 * {@code smtp session end client=... helo=... duration_ms=... messages=... rcpts=... bytes=...
 * rejects=... errors=... outcome=...}. Command lines are never logged: an AUTH command line and
 * the lines of an AUTH exchange carry credentials. Per-message lines are DEBUG except the INFO
 * {@code smtp queued id=... from=<...> rcpts=n size=...}; AUTH verdicts are INFO
 * ({@code smtp auth client=... user=... result=...}, never the password).
 *
 * <p>Not thread-safe: one instance per connection, used from its event loop.
 */
public final class SmtpHandler {
  private static final Logger log = LoggerFactory.getLogger(SmtpHandler.class);

  /**
   * Longest command line, octets including CRLF. RFC 5321 section 4.5.3.1.4 sets 512 but lets
   * extensions raise it; MAIL/RCPT with ESMTP parameters and long (UTF-8) addresses can exceed 512,
   * so we allow 2048 like Postfix's line_length_limit. Longer lines get 500 5.5.6. The same limit
   * applies to AUTH lines and responses (RFC 4954 section 4 suggests 12288, which only matters
   * for mechanisms with large tokens; PLAIN and LOGIN fit easily).
   */
  public static final int MAX_COMMAND_LINE = 2048;

  /** The default of {@code smtp.maxErrors}. */
  public static final int HARD_ERROR_LIMIT = SmtpOptions.DEFAULT_MAX_ERRORS;

  /** Where an AUTH exchange is waiting for the client's next line (RFC 4954 section 4). */
  private enum SaslStep { PLAIN, LOGIN_USER, LOGIN_PASSWORD }

  private final SmtpOptions options;
  private final MailstoreClient store;
  private final SmtpSession session;
  private final Clock clock;
  private final Listener listener;
  /** TLS material is configured: STARTTLS may be offered (until TLS is active). */
  private final boolean tlsAvailable;
  private final LoginThrottle throttle;
  /** For the throttle's delays; null applies none (unit tests without an event loop). */
  private final Vertx vertx;
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);
  private DataDecoder decoder;
  /** Length of our trace header at the start of the DATA output buffer. */
  private int dataPrefixLength;
  /** The BDAT chunk being read; null otherwise. */
  private BdatChunk chunk;
  /** The answer to that chunk when it was refused at the command (sent once its octets are read). */
  private SmtpReply chunkRefusal;
  private SaslStep sasl;
  private String saslUser;
  /** STARTTLS was accepted: the connection must switch to TLS after writing the 220. */
  private boolean tlsUpgradeRequested;
  private int errors;
  /** The service is shutting down: finish the open transaction, then 421 (see {@link #onShutdown()}). */
  private boolean draining;
  /** The end of DATA went to the store and its answer has not come back yet. */
  private boolean deliveryPending;

  private final SmtpMetrics metrics;
  private long startNanos;
  private boolean connected;
  private boolean ended;
  /** Set by the reply that closes the session; null while it goes on (or if the peer just leaves). */
  private SmtpMetrics.Outcome outcome;
  /** When the end of DATA went to the store; 0 when no store answer is awaiting its reply. */
  private long ackStartNanos;
  private int messages;
  private int acceptedRcpts;
  private long acceptedBytes;
  private int rejects;

  public SmtpHandler(SmtpOptions options, MailstoreClient store, String clientIp) {
    this(options, store, clientIp, Clock.systemDefaultZone());
  }

  public SmtpHandler(SmtpOptions options, MailstoreClient store, String clientIp, Clock clock) {
    this(options, store, clientIp, clock, SmtpMetrics.detached());
  }

  /** An MX session without TLS, with a throttle of its own and no throttle delays. */
  public SmtpHandler(SmtpOptions options, MailstoreClient store, String clientIp, Clock clock, SmtpMetrics metrics) {
    this(options, store, clientIp, clock, metrics, Listener.MX, false,
        new LoginThrottle(LoginThrottle.Settings.defaults()), null);
  }

  /**
   * @param listener     the port the client connected to: picks the policy
   * @param tlsAvailable TLS is configured (STARTTLS is offered while the session is not yet secure;
   *                     for {@link Listener#SMTPS} the session is secure from the start)
   * @param throttle     shared by the sessions of a verticle: slows down password guessing
   * @param vertx        for the throttle's timers; null to answer without delay
   */
  public SmtpHandler(SmtpOptions options, MailstoreClient store, String clientIp, Clock clock, SmtpMetrics metrics,
                     Listener listener, boolean tlsAvailable, LoginThrottle throttle, Vertx vertx) {
    this.options = options;
    this.store = store;
    this.listener = listener;
    this.tlsAvailable = tlsAvailable;
    this.session = new SmtpSession(clientIp, listener.implicitTls());
    this.clock = clock;
    this.metrics = metrics;
    this.throttle = throttle;
    this.vertx = vertx;
  }

  /** The connection is up (before the greeting is written): the session starts counting. */
  public void onConnect() {
    if (!connected) {
      connected = true;
      startNanos = System.nanoTime();
      metrics.sessionOpened();
      if (session.secure()) {
        metrics.tlsEstablished(true);
      }
    }
  }

  /** The connection wrote this reply: counted by class and code, and it may end a DATA round trip. */
  public void onReplySent(SmtpReply reply) {
    int c = reply.code();
    metrics.replySent(c);
    if (ackStartNanos != 0 && c != 421) {
      metrics.acknowledged(System.nanoTime() - ackStartNanos, c == 250);
      ackStartNanos = 0;
    }
    if (c >= 400 && c != 421 && !isProtocolError(c)) {
      rejects++;
    }
  }

  /** How the session ended; null while it is open. */
  public SmtpMetrics.Outcome outcome() {
    return ended ? outcome : null;
  }

  private void ending(SmtpMetrics.Outcome o) {
    if (outcome == null) {
      outcome = o;
    }
  }

  private static boolean isProtocolError(int c) {
    return c == 500 || c == 501 || c == 502 || c == 503 || c == 555;
  }

  public SmtpSession session() {
    return session;
  }

  public Listener listener() {
    return listener;
  }

  /** RFC 5321 section 4.2: 220, no enhanced code (RFC 2034 exempts the greeting). */
  public SmtpReply greeting() {
    return Replies.greeting(options.hostname());
  }

  /** The decoder to feed while in DATA; null otherwise. */
  public DataDecoder dataDecoder() {
    return session.state() == SmtpState.DATA ? decoder : null;
  }

  /** What the connection feeds instead of the line framer: DATA content or a BDAT chunk; null in command mode. */
  public ContentSink contentSink() {
    DataDecoder d = dataDecoder();
    return d != null ? d : chunk;
  }

  /** The content sink is done: the reply to DATA's end or to the BDAT chunk. */
  public Future<SmtpReply> onContentEnd() {
    if (chunk != null) {
      return onChunkEnd();
    }
    return onDataEnd();
  }

  /**
   * True once after STARTTLS was accepted: the connection writes the 220, switches to TLS and
   * drops whatever plaintext the client sent after the command (RFC 3207 section 4.2).
   */
  public boolean takeTlsUpgrade() {
    boolean t = tlsUpgradeRequested;
    tlsUpgradeRequested = false;
    return t;
  }

  /** The TLS handshake after STARTTLS completed. */
  public void onTlsEstablished() {
    session.tlsEstablished();
    metrics.tlsEstablished(false);
  }

  /** A framed command line (or AUTH response line) from the connection. */
  public Future<SmtpReply> onLine(LineFramer.Line line) {
    if (sasl != null) {
      return finish(saslLine(line));
    }
    if (line.tooLong()) {
      return Future.succeededFuture(afterReply(Replies.LINE_TOO_LONG));
    }
    Buffer b = line.bytes();
    for (int i = 0; i < b.length(); i++) {
      byte c = b.getByte(i);
      if (c == 0) {
        return Future.succeededFuture(afterReply(Replies.NUL_IN_COMMAND));
      }
      // A CR inside a command line is never legitimate (RFC 5321 section 2.3.8).
      if (c == '\r') {
        return Future.succeededFuture(afterReply(Replies.BAD_COMMAND_BYTES));
      }
    }
    String text;
    try {
      // Commands are ASCII, or UTF-8 under SMTPUTF8 (RFC 6531 section 3.3); anything else is garbage.
      text = utf8.decode(ByteBuffer.wrap(b.getBytes())).toString();
    } catch (CharacterCodingException e) {
      return Future.succeededFuture(afterReply(Replies.BAD_COMMAND_BYTES));
    }
    return onCommand(text);
  }

  /**
   * A command line as text, without CRLF. The reply is null for a BDAT command whose chunk is
   * about to be read: its answer comes from {@link #onContentEnd()} (RFC 3030 section 2).
   */
  public Future<SmtpReply> onCommand(String line) {
    if (sasl != null) {
      return onLine(new LineFramer.Line(Buffer.buffer(line.getBytes(StandardCharsets.UTF_8)), false, false));
    }
    Future<SmtpReply> f;
    try {
      f = dispatch(SmtpCommand.parse(line));
    } catch (RuntimeException e) {
      log.error("bug handling command from {}", session.clientIp(), e);
      f = Future.succeededFuture(Replies.INTERNAL_ERROR);
    }
    return finish(f);
  }

  /** The decoder reached CRLF.CRLF: decide, hand the message to the store, reset the transaction. */
  public Future<SmtpReply> onDataEnd() {
    DataDecoder d = decoder;
    Transaction tx = session.transaction();
    decoder = null;
    session.resetTransaction();
    if (d == null || tx == null || !d.isDone()) {
      return finish(Future.succeededFuture(Replies.BAD_SEQUENCE));
    }
    SmtpReply refused = contentRefusal(tx, d.outcome());
    if (refused != null) {
      return finish(Future.succeededFuture(refused));
    }
    return finish(deliver(tx, d.content(), dataPrefixLength, d.size(), d.sawBareLf() || d.sawBareCr()));
  }

  private SmtpReply contentRefusal(Transaction tx, DataDecoder.Outcome o) {
    switch (o) {
      case TOO_LARGE:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "too_large").add("limit", options.maxMessageSize()));
        return Replies.MESSAGE_TOO_BIG;
      case NUL:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "nul"));
        return Replies.NUL_IN_MESSAGE;
      case BARE_LINE_ENDING:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "bare_line_ending"));
        return Replies.BARE_LINE_ENDING;
      default:
        return null;
    }
  }

  /**
   * Hands a complete message to the store; 250 only once the store has it on disk
   * (ARCHITECTURE.md "Durability"). The transaction is already reset.
   *
   * @param content      our trace header followed by the message
   * @param prefixLength length of the trace header
   * @param size         message octets as received (without the trace header)
   */
  private Future<SmtpReply> deliver(Transaction tx, Buffer content, int prefixLength, long size, boolean bareLineEndings) {
    List<String> rcpts = tx.recipients();
    Buffer message = listener.isSubmission() ? completeHeader(tx, content, prefixLength) : content;
    DeliverRequest req = new DeliverRequest(tx.queueId(), tx.sender(), rcpts, message);
    // The session state is already back to GREETED; this flag is what keeps a shutdown from
    // treating a session that waits for the store's answer as idle.
    deliveryPending = true;
    ackStartNanos = System.nanoTime();
    return store.deliver(req).transform(ar -> {
      deliveryPending = false;
      if (ar.succeeded()) {
        messages++;
        acceptedRcpts += rcpts.size();
        acceptedBytes += size;
        metrics.accepted(size);
        LogLine line = LogLine.of("smtp queued").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("rcpts", rcpts.size()).add("size", size);
        if (bareLineEndings) {
          line.add("bare_line_endings", "normalized");
        }
        if (session.authenticatedUser() != null) {
          line.add("user", session.authenticatedUser());
        }
        log.info("{}", line);
        log.debug("{}", LogLine.of("smtp queued to").add("id", tx.queueId()).add("to", String.join(",", rcpts)));
        return Future.succeededFuture(Replies.queued(tx.queueId()));
      }
      MailstoreException e = MailstoreException.from(ar.cause());
      if (e.error().isTemporary()) {
        // The store is unreachable or failing: an operational problem, not just this message.
        log.warn("{}", LogLine.of("smtp delivery failed").add("id", tx.queueId()).add("error", e.error().name())
            .add("detail", e.getMessage()));
        return Future.succeededFuture(Replies.STORE_UNAVAILABLE);
      }
      log.debug("{}", LogLine.of("smtp delivery refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
          .add("error", e.error().name()).add("detail", e.getMessage()));
      return Future.succeededFuture(switch (e.error()) {
        case TOO_LARGE -> Replies.MESSAGE_TOO_BIG;
        case MAILBOX_NOT_FOUND -> SmtpReply.of(550, "5.1.1", "Recipient mailbox no longer exists");
        default -> Replies.STORE_REJECTED;
      });
    });
  }

  /**
   * RFC 6409 section 8.2 and 8.3: adds Date and Message-ID when the submitted header section has
   * none, right after our Received field. The message is not copied: the result is a composite
   * of the original buffer's two parts and the new fields, so memory stays at one message.
   */
  private Buffer completeHeader(Transaction tx, Buffer content, int prefixLength) {
    String fields = HeaderFixups.missingFields(HeaderFixups.scan(content, prefixLength), tx.queueId(),
        options.hostname(), ZonedDateTime.now(clock));
    if (fields.isEmpty()) {
      return content;
    }
    ByteBuf all = ((BufferInternal) content).getByteBuf();
    ByteBuf composite = Unpooled.wrappedBuffer(
        all.slice(0, prefixLength),
        Unpooled.copiedBuffer(fields, StandardCharsets.US_ASCII),
        all.slice(prefixLength, content.length() - prefixLength));
    return BufferInternal.buffer(composite);
  }

  /** The connection was idle too long (RFC 5321 section 4.5.3.2.7). */
  public SmtpReply onIdleTimeout() {
    ending(SmtpMetrics.Outcome.TIMEOUT);
    abandonData();
    session.close();
    return Replies.idleTimeout(options.hostname());
  }

  /**
   * The connection closed (the peer went away, or the shutdown grace ran out): whatever DATA was
   * under way is dropped, nothing goes to the store. A delivery already handed to the store may
   * still be stored, but its 250 is never sent: the client retries, and a duplicate is the safe
   * failure (RFC 5321 section 6.1 forbids losing a message once 250 was given, not duplicating it).
   */
  public void onDisconnect() {
    String why = draining ? "connection closed at the shutdown deadline" : "connection closed";
    if (decoder != null || chunk != null) {
      Transaction tx = session.transaction();
      log.debug("{}: {} during DATA/BDAT, message discarded", tx == null ? "-" : tx.queueId(), why);
    } else if (deliveryPending) {
      log.warn("{} from {} while the store was answering DATA: no 250 sent, the client will retry (the store may keep a duplicate)",
          why, session.clientIp());
    }
    abandonData();
    session.close();
    ending(draining ? SmtpMetrics.Outcome.SHUTDOWN : SmtpMetrics.Outcome.DISCONNECT);
    if (connected && !ended) {
      ended = true;
      metrics.sessionEnded(outcome);
      log.info("{}", LogLine.of("smtp session end")
          .add("client", session.clientIp())
          .add("helo", session.heloName())
          .add("duration_ms", (System.nanoTime() - startNanos) / 1_000_000)
          .add("messages", messages)
          .add("rcpts", acceptedRcpts)
          .add("bytes", acceptedBytes)
          .add("rejects", rejects)
          .add("errors", errors)
          .add("outcome", outcome.tag()));
    }
  }

  /**
   * The service is shutting down (the verticle is being undeployed). Policy, so that no
   * acknowledged message is lost and no accepted transaction is cut needlessly:
   * <ul>
   *   <li>Outside a transaction (no MAIL yet, or after the end of DATA was answered): 421 4.3.2
   *       now and close (RFC 5321 section 3.8; RFC 3463 X.3.2).</li>
   *   <li>Inside one (after MAIL, in DATA or between BDAT chunks, or while the store answers):
   *       it may finish. Only RCPT, DATA and BDAT are still processed; any other command gets
   *       421. The reply to the end of the message (250, or 451/5xx as usual) is followed by 421
   *       and the close.</li>
   * </ul>
   * The grace is bounded by the connection being closed when {@code smtp.shutdownGraceSeconds} ends.
   *
   * @return the 421 to send now (the session is then closed), or null when the session may go on
   */
  public SmtpReply onShutdown() {
    draining = true;
    return drainPoint();
  }

  /**
   * After each reply: while draining, a session that is no longer in a transaction gets its 421
   * now instead of waiting for the next command. Null when there is nothing to send.
   */
  public SmtpReply drainPoint() {
    if (!draining || session.state() == SmtpState.CLOSED || inTransaction()) {
      return null;
    }
    ending(SmtpMetrics.Outcome.SHUTDOWN);
    abandonData();
    session.close();
    return Replies.shuttingDown(options.hostname());
  }

  /** MAIL accepted and the transaction not yet answered: an envelope, content being read, or a delivery in flight. */
  private boolean inTransaction() {
    return deliveryPending || session.transaction() != null || decoder != null || chunk != null;
  }

  private void abandonData() {
    decoder = null;
    chunk = null;
    chunkRefusal = null;
    sasl = null;
    saslUser = null;
  }

  private Future<SmtpReply> dispatch(SmtpCommand cmd) {
    SmtpVerb verb = cmd.verb();
    if (draining && !(verb == SmtpVerb.RCPT || verb == SmtpVerb.DATA || (verb == SmtpVerb.BDAT && inTransaction()))) {
      // Shutting down: only what completes the open transaction is still served (see onShutdown);
      // anything else (RSET, NOOP, a new MAIL, QUIT...) gets 421, which closes (RFC 5321 section 3.8).
      return done(Replies.shuttingDown(options.hostname()));
    }
    if (verb == null) {
      return done(Replies.UNKNOWN_COMMAND);
    }
    if (!verb.implemented()) {
      return done(Replies.NOT_IMPLEMENTED);
    }
    if (!verb.allowedIn(session.state())) {
      return done(sequenceError(verb));
    }
    return switch (verb) {
      case HELO -> done(helo(cmd, false));
      case EHLO -> done(helo(cmd, true));
      case STARTTLS -> done(startTls(cmd));
      case AUTH -> auth(cmd);
      case MAIL -> done(mail(cmd));
      case RCPT -> rcpt(cmd);
      case DATA -> done(data(cmd));
      case BDAT -> done(bdat(cmd));
      case RSET -> done(rset(cmd));
      case NOOP -> done(Replies.OK);
      case QUIT -> done(cmd.hasArgs() ? Replies.syntax("QUIT") : Replies.closing(options.hostname()));
      case VRFY -> done(vrfy(cmd));
      case HELP -> done(Replies.HELP);
      default -> done(Replies.NOT_IMPLEMENTED);
    };
  }

  private SmtpReply sequenceError(SmtpVerb verb) {
    SmtpState s = session.state();
    if (s == SmtpState.CONNECTED) {
      return Replies.NEED_HELO;
    }
    if (verb == SmtpVerb.MAIL) {
      return Replies.NESTED_MAIL;
    }
    if (s == SmtpState.GREETED) {
      return Replies.NEED_MAIL;
    }
    return Replies.BAD_SEQUENCE;
  }

  /** STARTTLS is on offer: TLS is configured and not active yet (RFC 3207 section 4.2: not offered again after it). */
  private boolean startTlsOffered() {
    return tlsAvailable && !session.secure();
  }

  /**
   * AUTH PLAIN/LOGIN may be used now: over TLS, or in plaintext when the operator allows it.
   * RFC 4954 section 4 forbids plaintext mechanisms without a security layer "unless ... explicitly
   * configured"; RFC 3207 section 4 and RFC 8314 section 3 want credentials only under TLS.
   */
  private boolean authAllowedNow() {
    return session.secure() || options.allowPlaintextAuth();
  }

  /** HELO/EHLO reset the session (RFC 5321 section 4.1.4); only EHLO turns extensions on. */
  private SmtpReply helo(SmtpCommand cmd, boolean ehlo) {
    if (!cmd.hasArgs()) {
      return Replies.syntax(ehlo ? "EHLO hostname" : "HELO hostname");
    }
    String name = cmd.args().split("[ \t]+", 2)[0];
    session.greet(name, ehlo);
    if (!ehlo) {
      return Replies.helo(options.hostname());
    }
    // RFC 2920 PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 2034 ENHANCEDSTATUSCODES,
    // RFC 6531 SMTPUTF8, RFC 3030 CHUNKING and BINARYMIME, RFC 3207 STARTTLS, RFC 4954 AUTH.
    List<String> lines = new ArrayList<>(List.of(
        options.hostname(),
        "PIPELINING",
        "SIZE " + options.maxMessageSize(),
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8",
        "CHUNKING",
        "BINARYMIME"));
    if (startTlsOffered()) {
      lines.add("STARTTLS");
    }
    if (authAllowedNow()) {
      // RFC 4954 section 4 / RFC 3207 section 4: PLAIN and LOGIN are only advertised where they
      // may be used, so a client never sends a password in the clear because we listed it.
      lines.add("AUTH " + Sasl.MECHANISMS);
    }
    return new SmtpReply(250, null, lines);
  }

  /**
   * RFC 3207 section 4: 220 and the switch to TLS, which the connection does; the session is
   * reset now (section 4.2), so the client must EHLO again and nothing it sent before counts.
   */
  private SmtpReply startTls(SmtpCommand cmd) {
    if (session.secure()) {
      return Replies.TLS_ALREADY_ACTIVE;
    }
    if (!tlsAvailable) {
      return Replies.NOT_IMPLEMENTED; // not offered: TLS is switched off (tls.enabled false)
    }
    if (cmd.hasArgs()) {
      return Replies.syntax("STARTTLS"); // RFC 3207 section 4: "STARTTLS" takes no parameters
    }
    session.resetForTls();
    abandonData();
    tlsUpgradeRequested = true;
    return Replies.READY_FOR_TLS;
  }

  /** RFC 4954 section 4: {@code AUTH mechanism [initial-response]}. */
  private Future<SmtpReply> auth(SmtpCommand cmd) {
    if (!session.extended()) {
      return done(Replies.AUTH_NEEDS_EHLO); // AUTH is an ESMTP extension: not offered after HELO
    }
    if (session.authenticatedUser() != null) {
      return done(Replies.ALREADY_AUTHENTICATED); // RFC 4954 section 4: only one successful AUTH per session
    }
    if (!cmd.hasArgs()) {
      return done(Replies.syntax("AUTH mechanism [initial-response]"));
    }
    String[] parts = cmd.args().split(" +");
    if (parts.length > 2) {
      return done(Replies.syntax("AUTH mechanism [initial-response]"));
    }
    String mechanism = Sasl.mechanism(parts[0]);
    if (mechanism == null) {
      return done(Replies.UNKNOWN_MECHANISM); // RFC 4954 section 6: 504 5.5.4
    }
    if (!authAllowedNow()) {
      return done(Replies.ENCRYPTION_REQUIRED); // RFC 4954 section 6: 538 5.7.11
    }
    String initial = parts.length == 2 ? parts[1] : null;
    if (initial == null) {
      if (mechanism.equals("PLAIN")) {
        sasl = SaslStep.PLAIN;
        return done(Replies.SASL_EMPTY_CHALLENGE);
      }
      sasl = SaslStep.LOGIN_USER;
      return done(Replies.LOGIN_USERNAME);
    }
    byte[] decoded;
    try {
      decoded = Sasl.decode(initial, true);
    } catch (Sasl.BadBase64 e) {
      return done(Replies.BAD_BASE64);
    }
    if (mechanism.equals("PLAIN")) {
      return plain(decoded);
    }
    // LOGIN's initial response is the user name (what Outlook and others send).
    String user = Sasl.loginField(decoded);
    if (user == null) {
      return done(Replies.BAD_SASL_MESSAGE);
    }
    saslUser = user;
    sasl = SaslStep.LOGIN_PASSWORD;
    return done(Replies.LOGIN_PASSWORD);
  }

  /** A line of an AUTH exchange: base64 or "*". Credentials: never logged, never parsed as a command. */
  private Future<SmtpReply> saslLine(LineFramer.Line line) {
    SaslStep step = sasl;
    String user = saslUser;
    sasl = null;
    saslUser = null;
    if (line.tooLong()) {
      return done(Replies.LINE_TOO_LONG);
    }
    Buffer b = line.bytes();
    StringBuilder sb = new StringBuilder(b.length());
    for (int i = 0; i < b.length(); i++) {
      byte c = b.getByte(i);
      if (c < 0x20 || c > 0x7e) {
        return done(Replies.BAD_BASE64);
      }
      sb.append((char) c);
    }
    String text = sb.toString();
    if (text.equals("*")) {
      return done(Replies.AUTH_CANCELLED); // RFC 4954 section 4
    }
    byte[] decoded;
    try {
      decoded = Sasl.decode(text, false);
    } catch (Sasl.BadBase64 e) {
      return done(Replies.BAD_BASE64);
    }
    switch (step) {
      case PLAIN:
        return plain(decoded);
      case LOGIN_USER: {
        String u = Sasl.loginField(decoded);
        if (u == null) {
          return done(Replies.BAD_SASL_MESSAGE);
        }
        saslUser = u;
        sasl = SaslStep.LOGIN_PASSWORD;
        return done(Replies.LOGIN_PASSWORD);
      }
      default: {
        String password = Sasl.loginField(decoded);
        if (password == null) {
          return done(Replies.BAD_SASL_MESSAGE);
        }
        return verify(user, password, "LOGIN");
      }
    }
  }

  private Future<SmtpReply> plain(byte[] message) {
    Sasl.Plain p = Sasl.parsePlain(message);
    if (p == null) {
      return done(Replies.BAD_SASL_MESSAGE);
    }
    if (!p.authzid().isEmpty() && !p.authzid().equalsIgnoreCase(p.authcid())) {
      // RFC 4616 section 2: acting as another identity is a policy decision; we allow none.
      return done(Replies.AUTH_INVALID);
    }
    return verify(p.authcid(), p.password(), "PLAIN");
  }

  /**
   * Checks a password with the mailstore (bcrypt on its side, asynchronous), throttled per client
   * IP and account: a locked key is answered 454 without asking the store; otherwise the throttle's
   * current delay is waited out first (so an attacker cannot tell a failure by the missing answer),
   * and a failure waits the delay the failure earns before its 535. Timers, never sleeps: other
   * sessions go on meanwhile.
   */
  private Future<SmtpReply> verify(String user, String password, String mechanism) {
    String account = user.toLowerCase(Locale.ROOT);
    String ip = session.clientIp();
    LoginThrottle.Decision d = throttle.check(ip, account);
    if (d.locked()) {
      metrics.auth(SmtpMetrics.AuthResult.LOCKED);
      log.info("{}", LogLine.of("smtp auth").add("client", ip).add("user", account).add("mechanism", mechanism)
          .add("result", "locked"));
      return done(Replies.AUTH_TEMPORARY_FAILURE);
    }
    return delay(d.delayMs()).compose(v -> session.state() == SmtpState.CLOSED
        ? Future.<String>failedFuture("session closed") // the client left during the delay: no store call
        : store.authenticate(user, password)).transform(ar -> {
      if (session.state() == SmtpState.CLOSED) {
        return done(Replies.BAD_SEQUENCE); // nobody reads this
      }
      if (ar.succeeded()) {
        throttle.success(ip, account);
        session.authenticate(ar.result());
        metrics.auth(SmtpMetrics.AuthResult.SUCCESS);
        log.info("{}", LogLine.of("smtp auth").add("client", ip).add("user", ar.result()).add("mechanism", mechanism)
            .add("result", "success"));
        return done(Replies.AUTH_SUCCESSFUL);
      }
      MailstoreException e = MailstoreException.from(ar.cause());
      if (e.error().isTemporary()) {
        metrics.auth(SmtpMetrics.AuthResult.UNAVAILABLE);
        log.warn("{}", LogLine.of("smtp auth").add("client", ip).add("user", account).add("result", "unavailable")
            .add("detail", e.getMessage()));
        return done(Replies.AUTH_TEMPORARY_FAILURE);
      }
      long wait = throttle.failure(ip, account);
      metrics.auth(SmtpMetrics.AuthResult.FAILURE);
      log.info("{}", LogLine.of("smtp auth").add("client", ip).add("user", account).add("mechanism", mechanism)
          .add("result", "failure").add("delay_ms", wait));
      return delay(wait).map(v -> Replies.AUTH_INVALID);
    });
  }

  private Future<Void> delay(long ms) {
    if (ms <= 0 || vertx == null) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    vertx.setTimer(ms, id -> p.complete());
    return p.future();
  }

  /** RFC 4954 section 6: 530 where policy requires authentication (submission, RFC 6409 section 4.3). */
  private boolean needsAuth() {
    return listener.isSubmission() && session.authenticatedUser() == null;
  }

  private SmtpReply vrfy(SmtpCommand cmd) {
    if (needsAuth()) {
      return Replies.AUTH_REQUIRED;
    }
    return cmd.hasArgs() ? Replies.CANNOT_VRFY : Replies.syntax("VRFY address");
  }

  private SmtpReply mail(SmtpCommand cmd) {
    if (needsAuth()) {
      return Replies.AUTH_REQUIRED;
    }
    MailPath path;
    try {
      path = MailPath.parseReversePath(cmd.args());
    } catch (MailPath.ParseException e) {
      return switch (e.problem()) {
        case SYNTAX -> Replies.syntax("MAIL FROM:<address>");
        case ADDRESS -> Replies.BAD_SENDER_SYNTAX;
        case PARAMETER -> Replies.badParameter(e.getMessage());
      };
    }
    if (!path.params().isEmpty() && !session.extended()) {
      // No extensions were offered after HELO, so none may be used (RFC 5321 section 4.1.1.11).
      return Replies.NO_PARAMS_AFTER_HELO;
    }
    boolean smtputf8 = false;
    boolean eightBit = false;
    boolean binary = false;
    for (Map.Entry<String, String> p : path.params().entrySet()) {
      String v = p.getValue();
      switch (p.getKey()) {
        case "SIZE" -> {
          // RFC 1870 section 6: size-value = 1*20DIGIT; refuse early if it exceeds our limit.
          if (v == null || v.length() > 20 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Replies.badParameter("SIZE needs a number");
          }
          String digits = v.replaceFirst("^0+(?=.)", "");
          if (digits.length() > 18 || Long.parseLong(digits) > options.maxMessageSize()) {
            return Replies.MESSAGE_TOO_BIG;
          }
        }
        case "BODY" -> {
          // RFC 6152 (7BIT, 8BITMIME) and RFC 3030 section 3 (BINARYMIME, content by BDAT only).
          if ("7BIT".equalsIgnoreCase(v)) {
            eightBit = false;
          } else if ("8BITMIME".equalsIgnoreCase(v)) {
            eightBit = true;
          } else if ("BINARYMIME".equalsIgnoreCase(v)) {
            binary = true;
          } else {
            return Replies.badParameter("BODY must be 7BIT, 8BITMIME or BINARYMIME");
          }
        }
        case "SMTPUTF8" -> {
          if (v != null) {
            return Replies.badParameter("SMTPUTF8 takes no value");
          }
          smtputf8 = true;
        }
        case "AUTH" -> {
          // RFC 4954 section 5: the AUTH parameter may be sent where AUTH is offered; we are the
          // final destination and trust nobody's claim, so it is accepted and ignored.
          if (!authAllowedNow()) {
            return Replies.unsupportedParameter(p.getKey());
          }
          if (v == null) {
            return Replies.badParameter("AUTH needs a value");
          }
        }
        default -> {
          return Replies.unsupportedParameter(p.getKey());
        }
      }
    }
    if (path.nonAscii() && !smtputf8) {
      // RFC 6531 section 3.5: UTF-8 in the envelope without SMTPUTF8 is 553 5.6.7.
      return Replies.NEED_SMTPUTF8;
    }
    String user = session.authenticatedUser();
    if (user != null && !owns(user, path)) {
      // An authenticated submitter may only send as itself (RFC 6409 section 6.1 lets the MSA
      // enforce this; RFC 4954 section 5 ties the identity to the session). The null
      // reverse-path is refused too: bounces are not something a user submits.
      return Replies.senderNotOwned(path.address(), user);
    }
    session.beginTransaction(new Transaction(QueueIds.next(), path.address(), smtputf8, eightBit, binary));
    return Replies.SENDER_OK;
  }

  private static boolean owns(String user, MailPath path) {
    if (path.isNull() || path.domain() == null) {
      return false;
    }
    Optional<MailboxAddress> sender = MailboxAddress.parse(path.address());
    Optional<MailboxAddress> account = MailboxAddress.parse(user);
    return sender.isPresent() && account.isPresent() && sender.get().equals(account.get());
  }

  private Future<SmtpReply> rcpt(SmtpCommand cmd) {
    MailPath path;
    try {
      path = MailPath.parseForwardPath(cmd.args());
    } catch (MailPath.ParseException e) {
      return done(switch (e.problem()) {
        case SYNTAX -> Replies.syntax("RCPT TO:<address>");
        case ADDRESS -> Replies.BAD_RECIPIENT_SYNTAX;
        case PARAMETER -> Replies.badParameter(e.getMessage());
      });
    }
    if (!path.params().isEmpty()) {
      // No RCPT parameters are offered (no DSN).
      return done(session.extended() ? Replies.unsupportedParameter(path.params().keySet().iterator().next())
          : Replies.NO_PARAMS_AFTER_HELO);
    }
    Transaction tx = session.transaction();
    if (tx.bdatStarted()) {
      // The trace header with its "for" clause is written with the first chunk: the envelope is closed.
      return done(Replies.RCPT_AFTER_BDAT);
    }
    if (path.nonAscii() && !tx.smtputf8()) {
      return done(Replies.NEED_SMTPUTF8);
    }
    String address;
    if (path.isBarePostmaster()) {
      // RFC 5321 section 4.5.1: "RCPT TO:<Postmaster>" must be accepted; it means our postmaster.
      if (options.domains().isEmpty()) {
        return done(Replies.noSuchUser("postmaster"));
      }
      address = "postmaster@" + options.domains().get(0);
    } else if (!options.isLocalDomain(path.domain())) {
      // We are a final destination only: never relay, on any port, authenticated or not.
      return done(Replies.relayDenied(path.address()));
    } else {
      address = path.address();
    }
    Optional<MailboxAddress> mailbox = MailboxAddress.parse(address);
    if (mailbox.isEmpty()) {
      // Outside the mailbox name set of the store: cannot be a mailbox here.
      return done(Replies.noSuchUser(path.address()));
    }
    String canonical = mailbox.get().toString();
    if (tx.hasRecipient(canonical)) {
      // A duplicate is accepted again but stored once (the store writes one copy per mailbox).
      return done(Replies.RECIPIENT_OK);
    }
    if (tx.recipientCount() >= options.maxRecipients()) {
      return done(Replies.TOO_MANY_RECIPIENTS);
    }
    return store.mailboxExists(canonical).transform(ar -> Future.succeededFuture(recipientChecked(tx, canonical, ar)));
  }

  private SmtpReply recipientChecked(Transaction tx, String canonical, AsyncResult<Boolean> ar) {
    if (session.transaction() != tx) {
      return Replies.BAD_SEQUENCE; // the connection went away meanwhile; nobody reads this
    }
    if (ar.succeeded()) {
      if (Boolean.TRUE.equals(ar.result())) {
        session.addRecipient(canonical);
        return Replies.RECIPIENT_OK;
      }
      return Replies.noSuchUser(canonical);
    }
    MailstoreException e = MailstoreException.from(ar.cause());
    if (e.error().isTemporary()) {
      log.warn("mailbox lookup for {} failed: {}", canonical, e.getMessage());
      return Replies.STORE_UNAVAILABLE;
    }
    return Replies.noSuchUser(canonical);
  }

  private String traceHeader(Transaction tx) {
    List<String> rcpts = tx.recipients();
    return ReceivedHeader.format(session.heloName(), session.clientIp(), options.hostname(),
        ReceivedHeader.protocol(session.extended(), tx.smtputf8(), session.secure(), session.authenticatedUser() != null),
        tx.queueId(), rcpts.size() == 1 ? rcpts.get(0) : null, ZonedDateTime.now(clock));
  }

  private SmtpReply data(SmtpCommand cmd) {
    if (cmd.hasArgs()) {
      return Replies.syntax("DATA");
    }
    Transaction tx = session.transaction();
    if (tx.bdatStarted()) {
      // RFC 3030 section 2: "If a DATA statement is issued after a BDAT for the current
      // transaction, a 503 ... MUST be issued"; the state is then indeterminate until RSET.
      tx.markFailed();
      return Replies.DATA_AFTER_BDAT;
    }
    if (tx.binaryMime()) {
      // RFC 3030 section 3: DATA after MAIL with BODY=BINARYMIME MUST get 503; RSET is required.
      tx.markFailed();
      tx.bdatSeen();
      return Replies.BINARYMIME_NEEDS_BDAT;
    }
    if (tx.recipientCount() == 0) {
      // RFC 5321 section 3.3: DATA after MAIL with no accepted RCPT: 554 "no valid recipients".
      return Replies.NO_VALID_RECIPIENTS;
    }
    Buffer out = Buffer.buffer(8192).appendString(traceHeader(tx), "UTF-8");
    dataPrefixLength = out.length();
    decoder = new DataDecoder(options.maxMessageSize(), options.bareLineEndings(), out);
    session.beginData();
    return Replies.START_DATA;
  }

  /**
   * RFC 3030 section 2: {@code BDAT chunk-size [LAST]}. The octets follow the command line at
   * once, so there is no reply now (null): the connection reads exactly chunk-size octets and
   * then asks {@link #onContentEnd()}. Any refusal is decided here but sent only after the
   * octets were read and discarded ("the receiver-SMTP MUST accept and discard the associated
   * message data before sending the appropriate 5XX or 4XX code"), so chunk content is never
   * taken for commands. Only a command line that does not parse (no size to go by) is answered
   * at once with 501.
   */
  private SmtpReply bdat(SmtpCommand cmd) {
    long[] parsed = BdatChunk.parseArgs(cmd.args());
    if (parsed == null) {
      return Replies.syntax("BDAT chunk-size [LAST]");
    }
    long size = parsed[0];
    boolean last = parsed[1] == 1;
    SmtpReply refusal = bdatRefusal(size);
    if (refusal != null) {
      chunk = new BdatChunk(size, last, null);
      chunkRefusal = refusal;
      return null;
    }
    Transaction tx = session.transaction();
    Buffer target = tx.chunkBuffer(traceHeader(tx));
    chunk = new BdatChunk(size, last, target);
    return null;
  }

  private SmtpReply bdatRefusal(long size) {
    if (session.state() == SmtpState.CONNECTED) {
      return Replies.NEED_HELO;
    }
    if (!session.extended()) {
      return Replies.BDAT_NEEDS_EHLO; // CHUNKING is only offered in the EHLO reply
    }
    Transaction tx = session.transaction();
    if (tx == null) {
      return Replies.NEED_MAIL; // includes any BDAT after BDAT LAST (RFC 3030 section 2: 503)
    }
    tx.bdatSeen();
    if (tx.failed()) {
      // RFC 3030 section 2: after a failed BDAT the client "MUST NOT send any additional BDAT
      // segments"; those already pipelined are read and discarded, and answered 503 until RSET.
      return Replies.BDAT_AFTER_FAILURE;
    }
    if (tx.recipientCount() == 0) {
      return Replies.NO_VALID_RECIPIENTS; // as for DATA, RFC 5321 section 3.3
    }
    if (size > options.maxMessageSize() - tx.chunkOctets()) {
      // RFC 1870 section 6.3 / RFC 3030: the limit applies to the whole message across chunks.
      // Known from the chunk-size alone, so the octets are never held; the transaction has failed.
      tx.markFailed();
      log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
          .add("reason", "too_large").add("limit", options.maxMessageSize()));
      return Replies.MESSAGE_TOO_BIG;
    }
    return null;
  }

  /** The chunk's octets are in: 250 for a middle chunk, delivery for the LAST one, or the refusal. */
  private Future<SmtpReply> onChunkEnd() {
    BdatChunk c = chunk;
    SmtpReply refusal = chunkRefusal;
    chunk = null;
    chunkRefusal = null;
    if (refusal != null) {
      return finish(Future.succeededFuture(refusal));
    }
    Transaction tx = session.transaction();
    if (tx == null || !c.isDone()) {
      return finish(Future.succeededFuture(Replies.BAD_SEQUENCE)); // cannot happen: the envelope outlives its chunks
    }
    tx.chunkAccepted(c.size());
    if (!c.last()) {
      return finish(Future.succeededFuture(Replies.chunkReceived(c.size())));
    }
    Buffer content = tx.chunks();
    int prefix = tx.prefixLength();
    session.resetTransaction();
    return finish(deliver(tx, content, prefix, tx.chunkOctets(), false));
  }

  private SmtpReply rset(SmtpCommand cmd) {
    if (cmd.hasArgs()) {
      return Replies.syntax("RSET");
    }
    // RFC 3030 section 2: also clears all BDAT segments of the transaction.
    session.resetTransaction();
    return Replies.OK;
  }

  private static Future<SmtpReply> done(SmtpReply r) {
    return Future.succeededFuture(r);
  }

  /** Applies the post-reply rules, synchronously when the reply is already there. */
  private Future<SmtpReply> finish(Future<SmtpReply> f) {
    if (f.isComplete()) {
      return Future.succeededFuture(afterReply(f.succeeded() ? f.result() : internalError(f.cause())));
    }
    return f.transform(ar -> Future.succeededFuture(afterReply(ar.succeeded() ? ar.result() : internalError(ar.cause()))));
  }

  private SmtpReply internalError(Throwable t) {
    log.error("bug in SMTP session from {}", session.clientIp(), t);
    return Replies.INTERNAL_ERROR;
  }

  /** Closing replies end the session; too many protocol errors end it too. */
  private SmtpReply afterReply(SmtpReply r) {
    if (r == null) {
      return null; // BDAT: the answer follows the chunk
    }
    int c = r.code();
    // 503s for pipelined chunks after a failed BDAT are what RFC 3030 section 2 expects, not abuse.
    if (isProtocolError(c) && r != Replies.BDAT_AFTER_FAILURE) {
      if (++errors >= options.maxErrors()) {
        ending(SmtpMetrics.Outcome.TOO_MANY_ERRORS);
        abandonData();
        session.close();
        return Replies.TOO_MANY_ERRORS;
      }
    }
    if (r.closesConnection()) {
      ending(c == 221 ? SmtpMetrics.Outcome.QUIT : SmtpMetrics.Outcome.SHUTDOWN);
      abandonData();
      session.close();
    }
    return r;
  }
}
