package dev.mailserver.pop3;

import dev.mailserver.pop3.protocol.DotEncoder;
import dev.mailserver.pop3.protocol.LineFramer;
import dev.mailserver.pop3.protocol.Pop3Reply;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.ServerSSLOptions;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Socket glue for one POP3 client: bytes in, framed lines to the {@link Pop3Handler}, encoded
 * replies out. One command in flight: while a reply is pending (or the socket's write queue is
 * full) reading is paused, so pipelined commands (RFC 2449 section 6.6) are answered in order and
 * a slow store or a slow reader stops reads instead of buffering without bound.
 *
 * <p>Multi-line replies (RETR, TOP, LIST, UIDL, CAPA) are written in slices of {@value #SLICE}
 * octets through an incremental {@link DotEncoder}; before each slice the socket's write queue is
 * checked and, when full, writing waits for its drain handler. So a slow reader holds the server
 * to at most about one slice (stuffed: up to twice its size) beyond the socket's high-water mark,
 * never a whole dot-stuffed copy of a message. For RETR of a message up to
 * {@link Pop3Handler#STREAM_THRESHOLD} octets the fetched {@link Buffer} stays in memory until the
 * reply is written; bigger ones are fetched in ranges while they are written ({@link RangedWriter}),
 * so a RETR holds at most two ranges of {@link Pop3Handler#RANGE_LENGTH} octets.
 *
 * <p>STLS (RFC 2595 section 4): after the handler accepts it, the connection stops interpreting
 * input, drops every byte buffered or still queued behind STLS (plaintext a man in the middle may
 * have injected: the "STARTTLS command injection" class, CVE-2011-0411 and relatives), writes the
 * +OK and starts the handshake with {@code NetSocket.upgradeToSsl}, which pauses reads until the
 * TLS handler is in place. After the handshake a fresh {@link LineFramer} reads the first
 * encrypted command.
 *
 * <p>Server stop ({@code NetServer.shutdown}, which calls the socket's shutdown handler): no further
 * command is started, so a QUIT not yet started never enters UPDATE (RFC 1939 section 6 deletes only
 * after a QUIT the server acted on); the command in flight, if any, finishes and is answered; then
 * {@code -ERR [SYS/TEMP] server shutting down} and close. Vert.x force-closes a connection that is
 * still open when the shutdown grace period ends.
 * All methods run on the connection's event loop.
 */
final class Pop3Connection {

  private static final Logger log = LoggerFactory.getLogger(Pop3Connection.class);

  /** RFC 2449 section 4: a command line is at most 255 octets including CRLF. */
  static final int MAX_COMMAND_LINE = 255;
  /**
   * A SASL response line (RFC 5034 section 4: responses are as long as the mechanism needs). PLAIN
   * with the 255-octet identities and password RFC 4616 section 2 asks servers to accept is
   * at most 1,024 base64 characters; 4 KiB leaves room without inviting abuse.
   */
  static final int MAX_SASL_LINE = 4_096;
  /** Slice of a multi-line reply handed to the socket at a time. */
  static final int SLICE = 64 * 1024;
  /**
   * Most octets a multi-line reply keeps handed to the socket but not yet written to the kernel;
   * also the socket's own mark ({@code NetSocket.setWriteQueueMaxSize}, 1 MiB by default in Vert.x).
   * 64 KiB keeps a TCP connection busy: the kernel's send buffer sits behind it.
   */
  static final int WRITE_QUEUE_MAX = 64 * 1024;

  private final NetSocket socket;
  private final Pop3Handler handler;
  /** The server's idle timeout: a close this long after the last traffic was Vert.x's idle close. */
  private final long idleTimeoutMs;
  /** For STLS; null when TLS is disabled. */
  private final ServerSSLOptions tlsOptions;
  /** POP3S (RFC 8314 section 3.3): TLS from the first byte. */
  private final boolean implicitTls;
  private Context context;
  private long lastActivityNanos = System.nanoTime();
  private boolean leaseLost;
  private LineFramer framer = new LineFramer(MAX_COMMAND_LINE);
  private final Promise<Void> finished = Promise.promise();
  private boolean busy;
  private boolean pumping;
  private boolean closed;
  /** Server stop requested: start no more commands. */
  private boolean draining;
  private boolean goodbyeSent;
  /** Between STLS's +OK and the end of the handshake. */
  private boolean upgrading;
  /** Drop inbound bytes: the plaintext that arrived behind STLS. */
  private boolean discardInput;
  /** Octets handed to the socket whose write has not completed yet, and their maximum. */
  private long queuedBytes;
  private long queuedHighWater;
  /** A parked multi-line reply, resumed when {@link #queuedBytes} falls to half the mark. */
  private Runnable lowWaterHook;
  private boolean writeFailed;

  /**
   * @param tlsOptions  for STLS; null when TLS is disabled (the handler then refuses STLS)
   * @param implicitTls the POP3S listener: the session is secure from the greeting on
   */
  Pop3Connection(NetSocket socket, Pop3Handler handler, long idleTimeoutMs, ServerSSLOptions tlsOptions,
                 boolean implicitTls) {
    this.socket = socket;
    this.handler = handler;
    this.idleTimeoutMs = idleTimeoutMs;
    this.tlsOptions = tlsOptions;
    this.implicitTls = implicitTls;
  }

  void start() {
    context = Vertx.currentContext();
    socket.setWriteQueueMaxSize(WRITE_QUEUE_MAX);
    socket.handler(this::onData);
    socket.closeHandler(v -> onClose());
    socket.shutdownHandler(v -> shutdown());
    handler.onLeaseLost(this::leaseLost);
    socket.exceptionHandler(t -> log.debug("POP3 connection {}: {}", socket.remoteAddress(), t.toString()));
    handler.onConnect(socket.remoteAddress() == null || socket.remoteAddress().hostAddress() == null
        ? "" : socket.remoteAddress().hostAddress());
    if (implicitTls) {
      handler.tlsStarted();
    }
    queue(handler.greeting().encode());
  }

  private void onData(Buffer data) {
    // Until the handshake has completed, whatever reaches us is plaintext the client (or a man in
    // the middle) sent behind STLS (RFC 2595 section 4): Vert.x may hand over bytes it read before
    // the TLS handler was installed even after it was, so neither isSsl() nor timing can tell them
    // apart. A client only sends protected commands after its handshake, so nothing valid is lost.
    if (discardInput || upgrading) {
      return;
    }
    lastActivityNanos = System.nanoTime();
    framer.feed(data);
    pump();
  }

  /**
   * Hands buffered lines to the handler one at a time. Replies that complete synchronously loop
   * here instead of recursing, so a long pipelined burst cannot overflow the stack.
   */
  private void pump() {
    if (pumping) {
      return;
    }
    pumping = true;
    try {
      while (!busy && !closed && !handler.session().isQuit() && !handler.closeRequested()) {
        if (draining) {
          sayShuttingDown();
          return;
        }
        // RFC 5034 section 4: a SASL response may be longer than a command line.
        framer.setMaxLineLength(handler.expectsSaslResponse() ? MAX_SASL_LINE : MAX_COMMAND_LINE);
        LineFramer.Frame frame = framer.next();
        if (frame == null) {
          socket.resume();
          return;
        }
        busy = true;
        Future<Pop3Reply> reply = frame instanceof LineFramer.Line line
            ? handler.handle(line.bytes().toString(StandardCharsets.UTF_8))
            : Future.succeededFuture(handler.lineTooLong());
        reply.onComplete(ar -> respond(ar.succeeded() ? ar.result() : Pop3Handler.INTERNAL));
      }
      if (busy && !upgrading) {
        socket.pause();
      }
    } finally {
      pumping = false;
    }
  }

  private void respond(Pop3Reply reply) {
    if (closed) {
      return;
    }
    lastActivityNanos = System.nanoTime();
    if (handler.takeTlsRequest()) {
      startTls(reply);
      return;
    }
    Pop3Handler.StreamedRetr stream = handler.takeStreamedRetr();
    if (stream != null && reply instanceof Pop3Reply.MultiLine) {
      new RangedWriter(reply.statusLine(), stream, this::afterReply).start();
      return;
    }
    write(reply, this::afterReply);
  }

  /** The reply is handed to the socket ({@code last} is its last write): close, stop, or read on. */
  private void afterReply(Future<Void> last) {
    if (closed) {
      return;
    }
    if (handler.session().isQuit() || handler.closeRequested()) {
      // RFC 1939 section 6: after the QUIT reply the server closes the connection; after too many
      // bad commands we close the same way, without UPDATE.
      last.onComplete(ar -> socket.close());
      return;
    }
    if (draining) {
      // Server stop arrived while this command ran: it is answered, no further command starts.
      busy = false;
      sayShuttingDown();
      return;
    }
    if (socket.writeQueueFull()) {
      socket.drainHandler(v -> {
        socket.drainHandler(null);
        busy = false;
        pump();
      });
      return;
    }
    busy = false;
    pump();
  }

  // --- writing -------------------------------------------------------------------------------

  private void write(Pop3Reply reply, Handler<Future<Void>> then) {
    if (reply instanceof Pop3Reply.MultiLine multi) {
      new MultiLineWriter(multi, then).step();
    } else {
      then.handle(queue(reply.encode()));
    }
  }

  /** Writes and keeps count of the octets not yet written out (the high-water mark is for tests). */
  private Future<Void> queue(Buffer bytes) {
    int len = bytes.length();
    queuedBytes += len;
    if (queuedBytes > queuedHighWater) {
      queuedHighWater = queuedBytes;
    }
    lastActivityNanos = System.nanoTime();
    Future<Void> written = socket.write(bytes);
    written.onComplete(ar -> {
      queuedBytes -= len;
      if (ar.failed()) {
        // The connection is broken; its close handler may not have run yet. Stop streaming now
        // rather than encode the rest of a big message into failing writes.
        writeFailed = true;
      }
      if (lowWaterHook != null && queuedBytes <= WRITE_QUEUE_MAX / 2) {
        Runnable hook = lowWaterHook;
        lowWaterHook = null;
        hook.run();
      }
    });
    return written;
  }

  /**
   * Streams one multi-line reply: status line, dot-stuffed slices of the content, terminator
   * (RFC 1939 section 3). Before every slice it checks the socket's write queue and waits for the
   * drain handler when it is full; the event loop is free meanwhile.
   */
  private final class MultiLineWriter {
    private final Buffer content;
    private final DotEncoder encoder = new DotEncoder();
    private final Handler<Future<Void>> then;
    private Buffer head;
    private int offset;

    MultiLineWriter(Pop3Reply.MultiLine reply, Handler<Future<Void>> then) {
      this.content = reply.content();
      this.then = then;
      this.head = Buffer.buffer(reply.statusLine(), StandardCharsets.US_ASCII.name());
    }

    void step() {
      while (!closed && !writeFailed) {
        if (queuedBytes >= WRITE_QUEUE_MAX || socket.writeQueueFull()) {
          park(this::step);
          return;
        }
        int end = Math.min(content.length(), offset + SLICE);
        // Read-only: may be the fetched bytes themselves (nothing to stuff).
        Buffer encoded = encoder.encode(content.slice(offset, end));
        offset = end;
        boolean done = offset >= content.length();
        Buffer tail = done ? encoder.finish() : null;
        // A reply that fits one slice is one buffer (status line, data, terminator): one write, one
        // segment. A bigger one is written slice by slice as the encoder returns them (no copy).
        Buffer chunk = encoded;
        if (head != null && done) {
          chunk = Buffer.buffer(head.length() + encoded.length() + tail.length())
              .appendBuffer(head).appendBuffer(encoded).appendBuffer(tail);
          head = null;
        } else {
          if (head != null) {
            queue(head);
            head = null;
          }
          if (tail != null) {
            queue(encoded);
            chunk = tail;
          }
        }
        Future<Void> written = queue(chunk);
        if (done) {
          then.handle(written);
          return;
        }
      }
    }
  }

  /**
   * Parks a multi-line writer: runs {@code step} once our own count of unsent octets falls to half
   * the mark, or Vert.x reports the socket drained, whichever comes first. Both, because Vert.x
   * learns of Netty's writability change late (it let about 1 MiB through in a tight write loop
   * when measured), while the completion of each write is exact.
   */
  private void park(Runnable step) {
    boolean[] resumed = {false};
    Runnable resume = () -> {
      if (!resumed[0]) {
        resumed[0] = true;
        socket.drainHandler(null);
        lowWaterHook = null;
        step.run();
      }
    };
    lowWaterHook = resume;
    socket.drainHandler(v -> resume.run());
  }

  /**
   * Streams a big RETR ({@link Pop3Handler.StreamedRetr}): the status line, then the message range
   * by range, each in {@value #SLICE}-octet slices through one incremental {@link DotEncoder}
   * (stuffing state carries across slices and ranges), parking on a full write queue like
   * {@link MultiLineWriter} ({@link #park}). While range k is written, range k+1 is being fetched;
   * range k+2 is asked for only once range k+1 is taken up for writing, so a RETR holds at most two
   * ranges and a slow reader slows the fetching down too.
   *
   * <p>Every range must be exactly as long as the snapshot size (on the +OK line) says. A range that
   * is short or long, or that fails (the message removed meanwhile: MESSAGE_NOT_FOUND; the store
   * down), aborts: nothing more is written, no terminating dot, and the connection is closed (no
   * UPDATE). RFC 1939 has no way to report an error after the +OK; a client sees a retrieval that
   * did not end and fails it.
   */
  private final class RangedWriter {
    private final Pop3Handler.StreamedRetr source;
    private final DotEncoder encoder = new DotEncoder();
    private final Handler<Future<Void>> then;
    private final long size;
    private Buffer head;
    /** The range being written, and the position in it. */
    private Buffer current;
    private int pos;
    /** Octets of the ranges taken up so far: the offset of the next range. */
    private long taken;
    /** Octets written (before stuffing). */
    private long written;
    /** The next range, being fetched; null when none is left. */
    private Future<Buffer> ahead;
    private boolean waiting;

    RangedWriter(String statusLine, Pop3Handler.StreamedRetr source, Handler<Future<Void>> then) {
      this.source = source;
      this.then = then;
      this.size = source.size();
      this.head = Buffer.buffer(statusLine, StandardCharsets.US_ASCII.name());
    }

    void start() {
      if (take(source.takeFirst())) {
        step();
      }
    }

    void step() {
      while (!closed && !writeFailed) {
        if (current == null) {
          if (taken >= size) {
            Buffer end = encoder.finish();
            source.completed();
            then.handle(queue(end));
            return;
          }
          if (!ahead.isComplete()) {
            if (!waiting) {
              waiting = true;
              ahead.onComplete(ar -> {
                waiting = false;
                step();
              });
            }
            return;
          }
          if (ahead.failed()) {
            abort(source.failure(ahead.cause()));
            return;
          }
          if (!take(ahead.result())) {
            return;
          }
        }
        if (queuedBytes >= WRITE_QUEUE_MAX || socket.writeQueueFull()) {
          park(this::step);
          return;
        }
        int end = Math.min(current.length(), pos + SLICE);
        Buffer chunk = encoder.encode(current.slice(pos, end));
        written += end - pos;
        pos = end;
        if (pos >= current.length()) {
          current = null; // let the range go before the next one arrives
        }
        if (head != null) {
          chunk = head.appendBuffer(chunk);
          head = null;
        }
        queue(chunk);
      }
    }

    /** Checks a range against the snapshot size and starts fetching the one after it; false: aborted. */
    private boolean take(Buffer range) {
      int expected = source.expectedLength(taken);
      if (range.length() != expected) {
        abort(range.length() < expected
            ? "the message ended early (range at " + taken + ": " + range.length() + " of " + expected + " octets)"
            : "the message is longer than its listed size " + size);
        return false;
      }
      current = range;
      pos = 0;
      taken += range.length();
      ahead = taken < size ? source.fetch(taken) : null;
      return true;
    }

    private void abort(String why) {
      current = null;
      ahead = null;
      source.aborted(written, why);
      socket.close();
    }

  }

  // --- STLS ----------------------------------------------------------------------------------

  /**
   * RFC 2595 section 4. Everything already buffered (the rest of the framer) is dropped with the
   * old framer; everything Vert.x still queues for this socket is delivered now, by resuming, and
   * dropped in {@link #onData}. The switch itself runs as the next event-loop task, after that
   * delivery (same event loop, tasks in order), so no plaintext read before the switch can reach
   * the fresh framer.
   */
  private void startTls(Pop3Reply ok) {
    if (tlsOptions == null) {
      log.error("POP3 connection {}: STLS accepted without TLS options; closing", socket.remoteAddress());
      socket.close();
      return;
    }
    upgrading = true;
    discardInput = true;
    framer = new LineFramer(MAX_COMMAND_LINE);
    socket.resume();
    context.runOnContext(v -> handshake(ok));
  }

  private void handshake(Pop3Reply ok) {
    if (closed) {
      return;
    }
    // upgradeToSsl stops reading until its TLS handler is in place, so from here on whatever
    // arrives has been decrypted.
    discardInput = false;
    framer = new LineFramer(MAX_COMMAND_LINE);
    socket.upgradeToSsl(tlsOptions, ok.encode()).onComplete(ar -> {
      upgrading = false;
      if (closed) {
        return;
      }
      if (ar.failed()) {
        log.debug("POP3 connection {}: TLS handshake failed: {}", socket.remoteAddress(), ar.cause().toString());
        socket.close();
        return;
      }
      handler.tlsStarted();
      busy = false;
      pump();
    });
  }

  // --- shutdown and close --------------------------------------------------------------------

  /**
   * Server stop (the socket's shutdown handler). Nothing in flight: say so and close now; otherwise
   * {@link #respond} does it after the reply. After QUIT the connection is closing anyway.
   */
  void shutdown() {
    if (closed || draining) {
      return;
    }
    draining = true;
    if (!busy && !handler.session().isQuit()) {
      sayShuttingDown();
    }
  }

  private void sayShuttingDown() {
    if (goodbyeSent || closed) {
      return;
    }
    goodbyeSent = true;
    socket.pause();
    queue(Pop3Handler.SHUTTING_DOWN.encode()).onComplete(ar -> socket.close());
  }

  /**
   * The maildrop lease was lost (see {@link MaildropLock}): another session may own the maildrop, so
   * this one ends at once, without UPDATE and without reading further commands.
   */
  private void leaseLost() {
    if (!closed) {
      leaseLost = true;
      log.debug("POP3 connection {}: closing after losing the maildrop lease", socket.remoteAddress());
      socket.close();
    }
  }

  /**
   * Client hang-up, idle timeout, QUIT, lease loss, too many errors or server stop: release the
   * lock (without UPDATE unless QUIT ran). {@link #finished()} completes once the lease is released.
   */
  private void onClose() {
    if (!closed) {
      closed = true;
      handler.onSessionEnd(outcome());
      handler.close().onComplete(ar -> finished.tryComplete());
      log.debug("POP3 connection {} closed", socket.remoteAddress());
    }
  }

  /**
   * Why the connection closed. Vert.x's idle close has no callback of its own, so a close that comes
   * a whole idle timeout (less a small margin) after the last read or write counts as the timeout:
   * a client cannot have been quiet that long, or we would have closed it first.
   */
  private Pop3Metrics.Outcome outcome() {
    if (handler.session().isQuit()) {
      return Pop3Metrics.Outcome.QUIT;
    }
    if (handler.closeRequested()) {
      return Pop3Metrics.Outcome.ERRORS;
    }
    if (draining || goodbyeSent) {
      return Pop3Metrics.Outcome.SHUTDOWN;
    }
    if (leaseLost) {
      return Pop3Metrics.Outcome.LOCK_LOST;
    }
    long quietMs = (System.nanoTime() - lastActivityNanos) / 1_000_000;
    if (idleTimeoutMs > 0 && quietMs >= idleTimeoutMs - IDLE_MARGIN_MS) {
      return Pop3Metrics.Outcome.TIMEOUT;
    }
    return Pop3Metrics.Outcome.DISCONNECT;
  }

  /** Timer slack for telling Vert.x's idle close from a client hang-up. */
  private static final long IDLE_MARGIN_MS = 250;

  /** Completes (never fails) when the connection is closed and its maildrop lease released. */
  Future<Void> finished() {
    return finished.future();
  }

  /** The most octets this connection ever had written but not yet sent (tests bound it). */
  long queuedHighWater() {
    return queuedHighWater;
  }

  /** Octets written but not yet sent, now. */
  long queuedBytes() {
    return queuedBytes;
  }
}
