package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.metrics.LogLine;
import dev.mailserver.common.model.MailboxAddress;
import dev.mailserver.smtp.protocol.DataDecoder;
import dev.mailserver.smtp.protocol.LineFramer;
import dev.mailserver.smtp.protocol.MailPath;
import dev.mailserver.smtp.protocol.Replies;
import dev.mailserver.smtp.protocol.SmtpCommand;
import dev.mailserver.smtp.protocol.SmtpReply;
import dev.mailserver.smtp.protocol.SmtpVerb;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decisions of one SMTP session: takes a command line, returns the reply. No I/O here except
 * the mailstore calls; the connection moves the bytes. Replies that need the mailstore (RCPT,
 * end of DATA) come back as pending futures, and the connection stops reading until they
 * complete: one command in flight, so PIPELINING replies stay in order (RFC 2920 section 3.1)
 * and a slow store slows the client down instead of filling memory.
 *
 * <p>Observability: the connection reports each reply it writes ({@link #onReplySent}) and the
 * end of the session ({@link #onDisconnect}), which feeds {@link SmtpMetrics} and logs one INFO line
 * {@code smtp session end client=... helo=... duration_ms=... messages=... rcpts=... bytes=...
 * rejects=... errors=... outcome=...}. Command lines are never logged (AUTH is not offered, but a
 * client may still send credentials); per-message lines are DEBUG except the INFO
 * {@code smtp queued id=... from=<...> rcpts=n size=...}.
 *
 * <p>Not thread-safe: one instance per connection, used from its event loop.
 */
public final class SmtpHandler {
  private static final Logger log = LoggerFactory.getLogger(SmtpHandler.class);

  /**
   * Longest command line, octets including CRLF. RFC 5321 section 4.5.3.1.4 sets 512 but lets
   * extensions raise it; MAIL/RCPT with ESMTP parameters and long (UTF-8) addresses can exceed 512,
   * so we allow 2048 like Postfix's line_length_limit. Longer lines get 500 5.5.6.
   */
  public static final int MAX_COMMAND_LINE = 2048;

  /** Protocol errors (500-503, 555) tolerated before we hang up with 421, like Postfix's smtpd_hard_error_limit. */
  public static final int HARD_ERROR_LIMIT = 20;

  private final SmtpOptions options;
  private final MailstoreClient store;
  private final SmtpSession session;
  private final Clock clock;
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);
  private DataDecoder decoder;
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

  public SmtpHandler(SmtpOptions options, MailstoreClient store, String clientIp, Clock clock, SmtpMetrics metrics) {
    this.options = options;
    this.store = store;
    this.session = new SmtpSession(clientIp);
    this.clock = clock;
    this.metrics = metrics;
  }

  /** The connection is up (before the greeting is written): the session starts counting. */
  public void onConnect() {
    if (!connected) {
      connected = true;
      startNanos = System.nanoTime();
      metrics.sessionOpened();
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

  /** RFC 5321 section 4.2: 220, no enhanced code (RFC 2034 exempts the greeting). */
  public SmtpReply greeting() {
    return Replies.greeting(options.hostname());
  }

  /** The decoder to feed while in DATA; null otherwise. */
  public DataDecoder dataDecoder() {
    return session.state() == SmtpState.DATA ? decoder : null;
  }

  /** A framed command line from the connection. */
  public Future<SmtpReply> onLine(LineFramer.Line line) {
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

  /** A command line as text, without CRLF. */
  public Future<SmtpReply> onCommand(String line) {
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
      return Future.succeededFuture(Replies.BAD_SEQUENCE);
    }
    switch (d.outcome()) {
      case TOO_LARGE:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "too_large").add("limit", options.maxMessageSize()));
        return Future.succeededFuture(Replies.MESSAGE_TOO_BIG);
      case NUL:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "nul"));
        return Future.succeededFuture(Replies.NUL_IN_MESSAGE);
      case BARE_LINE_ENDING:
        log.debug("{}", LogLine.of("smtp refused").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("reason", "bare_line_ending"));
        return Future.succeededFuture(Replies.BARE_LINE_ENDING);
      default:
        break;
    }
    List<String> rcpts = tx.recipients();
    DeliverRequest req = new DeliverRequest(tx.queueId(), tx.sender(), rcpts, d.content());
    // The session state is already back to GREETED; this flag is what keeps a shutdown from
    // treating a session that waits for the store's answer as idle.
    deliveryPending = true;
    ackStartNanos = System.nanoTime();
    // 250 only once the store has the bytes on disk (ARCHITECTURE.md "Durability").
    return finish(store.deliver(req).transform(ar -> {
      deliveryPending = false;
      if (ar.succeeded()) {
        messages++;
        acceptedRcpts += rcpts.size();
        acceptedBytes += d.size();
        metrics.accepted(d.size());
        LogLine line = LogLine.of("smtp queued").add("id", tx.queueId()).add("from", "<" + tx.sender() + ">")
            .add("rcpts", rcpts.size()).add("size", d.size());
        if (d.sawBareLf() || d.sawBareCr()) {
          line.add("bare_line_endings", "normalized");
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
    }));
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
    if (decoder != null) {
      Transaction tx = session.transaction();
      log.debug("{}: {} during DATA, message discarded", tx == null ? "-" : tx.queueId(), why);
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
   *   <li>Inside one (after MAIL, in DATA, or while the store answers the end of DATA): it may
   *       finish. Only RCPT and DATA are still processed; any other command gets 421. The reply
   *       to the end of DATA (250, or 451/5xx as usual) is followed by 421 and the close.</li>
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

  /** MAIL accepted and the transaction not yet answered: MAIL/RCPT/DATA state or a delivery in flight. */
  private boolean inTransaction() {
    SmtpState s = session.state();
    return deliveryPending || s == SmtpState.MAIL || s == SmtpState.RCPT || s == SmtpState.DATA;
  }

  private void abandonData() {
    decoder = null;
  }

  private Future<SmtpReply> dispatch(SmtpCommand cmd) {
    SmtpVerb verb = cmd.verb();
    if (draining && verb != SmtpVerb.RCPT && verb != SmtpVerb.DATA) {
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
      case MAIL -> done(mail(cmd));
      case RCPT -> rcpt(cmd);
      case DATA -> done(data(cmd));
      case RSET -> done(rset(cmd));
      case NOOP -> done(Replies.OK);
      case QUIT -> done(cmd.hasArgs() ? Replies.syntax("QUIT") : Replies.closing(options.hostname()));
      case VRFY -> done(cmd.hasArgs() ? Replies.CANNOT_VRFY : Replies.syntax("VRFY address"));
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
    // RFC 2920 PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 2034 ENHANCEDSTATUSCODES, RFC 6531 SMTPUTF8.
    return new SmtpReply(250, null, List.of(
        options.hostname(),
        "PIPELINING",
        "SIZE " + options.maxMessageSize(),
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8"));
  }

  private SmtpReply mail(SmtpCommand cmd) {
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
          // RFC 6152: 7BIT or 8BITMIME; BINARYMIME needs CHUNKING, which we do not offer.
          if ("7BIT".equalsIgnoreCase(v)) {
            eightBit = false;
          } else if ("8BITMIME".equalsIgnoreCase(v)) {
            eightBit = true;
          } else {
            return Replies.badParameter("BODY must be 7BIT or 8BITMIME");
          }
        }
        case "SMTPUTF8" -> {
          if (v != null) {
            return Replies.badParameter("SMTPUTF8 takes no value");
          }
          smtputf8 = true;
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
    session.beginTransaction(new Transaction(QueueIds.next(), path.address(), smtputf8, eightBit));
    return Replies.SENDER_OK;
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
      // We are a final destination only: never relay.
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

  private SmtpReply data(SmtpCommand cmd) {
    if (cmd.hasArgs()) {
      return Replies.syntax("DATA");
    }
    Transaction tx = session.transaction();
    if (tx.recipientCount() == 0) {
      // RFC 5321 section 3.3: DATA after MAIL with no accepted RCPT: 554 "no valid recipients".
      return Replies.NO_VALID_RECIPIENTS;
    }
    List<String> rcpts = tx.recipients();
    String header = ReceivedHeader.format(session.heloName(), session.clientIp(), options.hostname(),
        ReceivedHeader.protocol(session.extended(), tx.smtputf8()), tx.queueId(),
        rcpts.size() == 1 ? rcpts.get(0) : null, ZonedDateTime.now(clock));
    Buffer out = Buffer.buffer(8192).appendString(header, "UTF-8");
    decoder = new DataDecoder(options.maxMessageSize(), options.bareLineEndings(), out);
    session.beginData();
    return Replies.START_DATA;
  }

  private SmtpReply rset(SmtpCommand cmd) {
    if (cmd.hasArgs()) {
      return Replies.syntax("RSET");
    }
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
    int c = r.code();
    if (isProtocolError(c)) {
      if (++errors >= HARD_ERROR_LIMIT) {
        ending(SmtpMetrics.Outcome.TOO_MANY_ERRORS);
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
