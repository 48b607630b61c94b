package dev.mailserver.smtp;

import dev.mailserver.smtp.protocol.DataDecoder;
import dev.mailserver.smtp.protocol.LineFramer;
import dev.mailserver.smtp.protocol.SmtpReply;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Socket glue: moves bytes between a NetSocket and an {@link SmtpHandler}. Input goes to the
 * {@link LineFramer} in command mode and to the handler's {@link DataDecoder} in DATA mode; the
 * bytes after a command line or after CRLF.CRLF stay queued for whichever mode comes next.
 *
 * <p>One command in flight: while a reply is pending the socket is paused, so pipelined commands
 * (RFC 2920) are answered in order and a slow mailstore stops reads at TCP level. The same happens
 * when the client does not read our replies (write queue full). All callbacks run on the
 * connection's event loop; nothing here blocks.
 *
 * <p>Shutdown: {@code NetServer.shutdown(grace)} calls the socket's shutdown handler; the handler
 * decides whether the session ends now (421) or may finish its transaction first. Vert.x closes
 * the socket itself when the grace runs out.
 */
final class SmtpConnection {
  private static final Logger log = LoggerFactory.getLogger(SmtpConnection.class);

  private final Vertx vertx;
  private final NetSocket socket;
  private final SmtpHandler handler;
  private final long idleTimeoutMs;
  private final LineFramer framer = new LineFramer(SmtpHandler.MAX_COMMAND_LINE);
  /** Received but not yet consumed; the head is consumed from {@link #headPos}. */
  private final ArrayDeque<Buffer> input = new ArrayDeque<>();
  private int headPos;
  private boolean inFlight;
  private boolean writeBlocked;
  private boolean paused;
  private boolean closed;
  private long lastActivity;
  private long idleTimer = -1;

  SmtpConnection(Vertx vertx, NetSocket socket, SmtpHandler handler, long idleTimeoutMs) {
    this.vertx = vertx;
    this.socket = socket;
    this.handler = handler;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  static String clientIp(NetSocket socket) {
    SocketAddress a = socket.remoteAddress();
    return a == null || a.hostAddress() == null ? "" : a.hostAddress();
  }

  void start() {
    socket.handler(this::onData);
    socket.closeHandler(v -> onClosed());
    socket.shutdownHandler(v -> shutdown());
    socket.exceptionHandler(t -> {
      log.debug("connection error from {}: {}", handler.session().clientIp(), t.toString());
      socket.close();
    });
    socket.drainHandler(v -> {
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
      write(bye);
    }
  }

  private void onData(Buffer chunk) {
    if (closed) {
      return;
    }
    touch();
    if (chunk.length() > 0) {
      input.add(chunk);
    }
    process();
  }

  /** Consumes queued input until a reply is pending, the input runs out, or the session ends. */
  private void process() {
    while (!closed && !inFlight && !writeBlocked && !input.isEmpty()) {
      Buffer head = input.peek();
      DataDecoder decoder = handler.dataDecoder();
      if (decoder != null) {
        headPos += decoder.feed(head, headPos, head.length());
        dropConsumedHead(head);
        if (decoder.isDone()) {
          dispatch(handler.onDataEnd());
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
        socket.pause();
      } else {
        socket.resume();
      }
    }
  }

  private void dropConsumedHead(Buffer head) {
    if (headPos >= head.length()) {
      input.poll();
      headPos = 0;
    }
  }

  private void dispatch(Future<SmtpReply> pending) {
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
      socket.close();
      return;
    }
    write(f.result());
    if (!closed) {
      // While shutting down, the reply that ends a transaction is followed by 421 at once.
      SmtpReply bye = handler.drainPoint();
      if (bye != null) {
        write(bye);
      }
    }
  }

  private void write(SmtpReply reply) {
    touch();
    handler.onReplySent(reply);
    if (reply.closesConnection()) {
      closed = true;
      input.clear();
      socket.end(reply.toBuffer()).onComplete(ar -> socket.close());
      return;
    }
    socket.write(reply.toBuffer());
    if (socket.writeQueueFull()) {
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
        // Waiting on the store is our delay, not the client's.
        scheduleIdleCheck(inFlight ? idleTimeoutMs : idleTimeoutMs - idleMs);
        return;
      }
      log.debug("idle timeout for {}", handler.session().clientIp());
      write(handler.onIdleTimeout());
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
  }
}
