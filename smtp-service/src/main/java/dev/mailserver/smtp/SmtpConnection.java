package dev.mailserver.smtp;

import dev.mailserver.smtp.protocol.BdatChunk;
import dev.mailserver.smtp.protocol.ContentSink;
import dev.mailserver.smtp.protocol.LineFramer;
import dev.mailserver.smtp.protocol.SmtpReply;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Socket glue: moves bytes between a transport (a NetSocket) and an {@link SmtpHandler}. Input
 * goes to the {@link LineFramer} in command mode and to the handler's {@link ContentSink} (the
 * DATA decoder or a BDAT chunk) in content mode; the bytes after a command line or after the end
 * of the content stay queued for whichever mode comes next.
 *
 * <p>One command in flight: while a reply is pending the socket is paused, so pipelined commands
 * (RFC 2920) are answered in order and a slow mailstore stops reads at TCP level. The same happens
 * when the client does not read our replies (write queue full). All callbacks run on the
 * connection's event loop; nothing here blocks.
 *
 * <p>STARTTLS (RFC 3207 section 4.2, the "STARTTLS command injection" bug class, CVE-2011-0411):
 * when the handler accepts STARTTLS, the 220 is written and the socket switches to TLS; every
 * byte the client sent after the STARTTLS line in plaintext (queued here, or delivered before
 * the handshake completed) is dropped, never executed, and a fresh line framer starts on the
 * decrypted stream.
 *
 * <p>Shutdown: {@code NetServer.shutdown(grace)} calls the socket's shutdown handler; the handler
 * decides whether the session ends now (421) or may finish its transaction first. Vert.x closes
 * the socket itself when the grace runs out.
 */
final class SmtpConnection {
  private static final Logger log = LoggerFactory.getLogger(SmtpConnection.class);

  private final Vertx vertx;
  private final SmtpTransport transport;
  private final SmtpHandler handler;
  private final long idleTimeoutMs;
  private final Promise<Void> closedPromise = Promise.promise();
  private LineFramer framer = new LineFramer(SmtpHandler.MAX_COMMAND_LINE);
  /** Received but not yet consumed; the head is consumed from {@link #headPos}. */
  private final ArrayDeque<Buffer> input = new ArrayDeque<>();
  private int headPos;
  private boolean inFlight;
  private boolean writeBlocked;
  private boolean paused;
  private boolean closed;
  /** Between the accepted STARTTLS and the end of the handshake: input is plaintext to drop. */
  private boolean upgrading;
  private long droppedPlaintext;
  private long lastActivity;
  private long idleTimer = -1;
  /** Commands and content ends handed to the handler, and what became of them (for tests). */
  long dispatched;
  long answered;
  long deferred;
  long chunkEnds;

  SmtpConnection(Vertx vertx, SmtpTransport transport, SmtpHandler handler, long idleTimeoutMs) {
    this.vertx = vertx;
    this.transport = transport;
    this.handler = handler;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  static String clientIp(NetSocket socket) {
    SocketAddress a = socket.remoteAddress();
    return a == null || a.hostAddress() == null ? "" : a.hostAddress();
  }

  /** Nothing to do until the client sends more (or the connection is closed): for tests. */
  boolean idle() {
    return closed || (!inFlight && !upgrading && !writeBlocked && input.isEmpty()
        && (handler.contentSink() == null || !handler.contentSink().isDone()));
  }

  /** Completes when the connection has closed (for the connection limits). */
  Future<Void> closed() {
    return closedPromise.future();
  }

  void start() {
    transport.handlers(this::onData, v -> onClosed(), v -> shutdown(), t -> {
      log.debug("connection error from {}: {}", handler.session().clientIp(), t.toString());
      transport.close();
    }, v -> {
      writeBlocked = false;
      process();
    });
    touch();
    scheduleIdleCheck(idleTimeoutMs);
    handler.onConnect();
    write(handler.greeting());
  }

  /**
   * The service is stopping: 421 now if the session is idle, otherwise let the transaction finish
   * (the reply after it triggers the 421 in {@link #reply}). Until then input keeps being read,
   * because the DATA content still has to arrive.
   */
  void shutdown() {
    if (closed) {
      return;
    }
    SmtpReply bye = handler.onShutdown();
    if (bye != null) {
      log.debug("shutdown: closing idle session from {}", handler.session().clientIp());
      if (upgrading) {
        // Mid-handshake a reply cannot be delivered readably: just close.
        closed = true;
        transport.close();
        return;
      }
      write(bye);
    }
  }

  private void onData(Buffer chunk) {
    if (closed) {
      return;
    }
    touch();
    if (upgrading) {
      // Plaintext that arrived after STARTTLS and before the handshake finished: the client
      // pipelined it behind STARTTLS, which RFC 3207 section 4.2 says must not be acted upon.
      droppedPlaintext += chunk.length();
      return;
    }
    if (chunk.length() > 0) {
      input.add(chunk);
    }
    process();
  }

  /** Consumes queued input until a reply is pending, the input runs out, or the session ends. */
  private void process() {
    while (!closed && !upgrading && !inFlight && !writeBlocked) {
      ContentSink sink = handler.contentSink();
      if (sink != null && sink.isDone()) {
        // A zero-length BDAT chunk is done before any byte arrives.
        contentEnd(sink);
        continue;
      }
      Buffer head = input.peek();
      if (head == null) {
        break;
      }
      if (sink != null) {
        headPos += sink.feed(head, headPos, head.length());
        dropConsumedHead(head);
        if (sink.isDone()) {
          contentEnd(sink);
        }
      } else {
        headPos += framer.feed(head, headPos, head.length());
        dropConsumedHead(head);
        LineFramer.Line line = framer.take();
        if (line != null) {
          dispatch(handler.onLine(line));
        }
      }
    }
    boolean wantPause = !closed && (inFlight || writeBlocked);
    if (wantPause != paused) {
      paused = wantPause;
      if (wantPause) {
        transport.pause();
      } else {
        transport.resume();
      }
    }
  }

  private void contentEnd(ContentSink sink) {
    if (sink instanceof BdatChunk) {
      chunkEnds++;
    }
    dispatch(handler.onContentEnd());
  }

  private void dropConsumedHead(Buffer head) {
    if (headPos >= head.length()) {
      input.poll();
      headPos = 0;
    }
  }

  private void dispatch(Future<SmtpReply> pending) {
    dispatched++;
    if (pending.isComplete()) {
      reply(pending);
      return;
    }
    inFlight = true;
    pending.onComplete(ar -> {
      inFlight = false;
      reply(pending);
      process();
    });
  }

  private void reply(Future<SmtpReply> f) {
    if (closed) {
      return; // the client went away while the store was answering
    }
    if (f.failed()) {
      // SmtpHandler never fails its futures; this is only a safety net.
      log.error("reply future failed", f.cause());
      closed = true;
      transport.close();
      return;
    }
    SmtpReply r = f.result();
    if (r == null) {
      deferred++;
      return; // BDAT: the chunk's octets come first, the reply after them
    }
    answered++;
    if (handler.takeTlsUpgrade()) {
      startTls(r);
      return;
    }
    write(r);
    if (!closed) {
      // While shutting down, the reply that ends a transaction is followed by 421 at once.
      SmtpReply bye = handler.drainPoint();
      if (bye != null) {
        write(bye);
      }
    }
  }

  /**
   * RFC 3207 section 4.2: write the 220, switch to TLS, and forget everything the client sent
   * after STARTTLS in plaintext. The handler already reset the session; a fresh framer makes sure
   * no half line survives either.
   */
  private void startTls(SmtpReply ready) {
    upgrading = true;
    droppedPlaintext = 0;
    for (Buffer b : input) {
      droppedPlaintext += b.length();
    }
    droppedPlaintext -= headPos;
    input.clear();
    headPos = 0;
    framer = new LineFramer(SmtpHandler.MAX_COMMAND_LINE);
    touch();
    handler.onReplySent(ready);
    transport.upgradeToTls(ready.toBuffer()).onComplete(ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        log.debug("TLS handshake with {} failed: {}", handler.session().clientIp(), ar.cause().toString());
        closed = true;
        transport.close();
        return;
      }
      upgrading = false;
      if (droppedPlaintext > 0) {
        log.info("dropped {} octets from {} pipelined in plaintext after STARTTLS (RFC 3207 section 4.2)",
            droppedPlaintext, handler.session().clientIp());
      }
      handler.onTlsEstablished();
      touch();
      process();
    });
  }

  private void write(SmtpReply reply) {
    touch();
    handler.onReplySent(reply);
    if (reply.closesConnection()) {
      closed = true;
      input.clear();
      transport.end(reply.toBuffer()).onComplete(ar -> transport.close());
      return;
    }
    transport.write(reply.toBuffer());
    if (transport.writeQueueFull()) {
      writeBlocked = true;
    }
  }

  private void touch() {
    lastActivity = System.nanoTime();
  }

  /** One timer per connection, re-armed lazily instead of on every chunk. */
  private void scheduleIdleCheck(long delayMs) {
    idleTimer = vertx.setTimer(Math.max(1, delayMs), id -> {
      idleTimer = -1;
      if (closed) {
        return;
      }
      long idleMs = (System.nanoTime() - lastActivity) / 1_000_000;
      if (inFlight || idleMs < idleTimeoutMs) {
        // Waiting on the store (or the AUTH throttle) is our delay, not the client's.
        scheduleIdleCheck(inFlight ? idleTimeoutMs : idleTimeoutMs - idleMs);
        return;
      }
      log.debug("idle timeout for {}", handler.session().clientIp());
      SmtpReply bye = handler.onIdleTimeout();
      if (upgrading) {
        closed = true; // a stalled handshake: nothing readable can be said
        transport.close();
        return;
      }
      write(bye);
    });
  }

  private void onClosed() {
    if (idleTimer >= 0) {
      vertx.cancelTimer(idleTimer);
      idleTimer = -1;
    }
    closed = true;
    input.clear();
    handler.onDisconnect();
    closedPromise.tryComplete();
  }
}
