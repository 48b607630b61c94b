package dev.mailserver.pop3;

import dev.mailserver.pop3.protocol.LineFramer;
import dev.mailserver.pop3.protocol.Pop3Reply;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Socket glue for one POP3 client: bytes in, framed lines to the {@link Pop3Handler}, encoded
 * replies out. One command in flight: while a reply is pending (or the socket's write queue is
 * full) reading is paused, so pipelined commands (RFC 2449 section 6.6) are answered in order and
 * a slow store or a slow reader stops reads instead of buffering without bound.
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

  private final NetSocket socket;
  private final Pop3Handler handler;
  /** The server's idle timeout: a close this long after the last traffic was Vert.x's idle close. */
  private final long idleTimeoutMs;
  private long lastActivityNanos = System.nanoTime();
  private boolean leaseLost;
  private final LineFramer framer = new LineFramer(MAX_COMMAND_LINE);
  private final Promise<Void> finished = Promise.promise();
  private boolean busy;
  private boolean pumping;
  private boolean closed;
  /** Server stop requested: start no more commands. */
  private boolean draining;
  private boolean goodbyeSent;

  Pop3Connection(NetSocket socket, Pop3Handler handler, long idleTimeoutMs) {
    this.socket = socket;
    this.handler = handler;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  void start() {
    socket.handler(this::onData);
    socket.closeHandler(v -> onClose());
    socket.shutdownHandler(v -> shutdown());
    handler.onLeaseLost(this::leaseLost);
    socket.exceptionHandler(t -> log.debug("POP3 connection {}: {}", socket.remoteAddress(), t.toString()));
    handler.onConnect(socket.remoteAddress() == null || socket.remoteAddress().hostAddress() == null
        ? "" : socket.remoteAddress().hostAddress());
    socket.write(handler.greeting().encode());
  }

  private void onData(Buffer data) {
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
      while (!busy && !closed && !handler.session().isQuit()) {
        if (draining) {
          sayShuttingDown();
          return;
        }
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
      if (busy) {
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
    Future<Void> written = socket.write(reply.encode());
    lastActivityNanos = System.nanoTime();
    if (handler.session().isQuit()) {
      // RFC 1939 section 6: after the QUIT reply the server closes the connection.
      written.onComplete(ar -> socket.close());
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
    socket.write(Pop3Handler.SHUTTING_DOWN.encode()).onComplete(ar -> socket.close());
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
   * Client hang-up, idle timeout, QUIT, lease loss or server stop: release the lock (without UPDATE
   * unless QUIT ran). {@link #finished()} completes once the lease is released.
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
}
