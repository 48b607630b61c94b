package dev.mailserver.smtp;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * An in-memory {@link SmtpTransport} for driving a real {@link SmtpConnection} without sockets.
 * Like a NetSocket it holds input while paused and delivers it on resume; every call must happen
 * on {@link #context}. {@link #upgradeToTls} writes the reply, then completes the "handshake" on a
 * later event-loop turn, after first delivering whatever input was already queued (the plaintext a
 * client pipelined behind STARTTLS, which a real socket may also hand over before the handshake).
 */
final class FakeTransport implements SmtpTransport {
  final Context context;
  private final ArrayDeque<Buffer> pending = new ArrayDeque<>();
  private final Buffer written = Buffer.buffer();
  private Handler<Buffer> data;
  private Handler<Void> closed;
  private Handler<Void> shutdown;
  private boolean paused;
  private boolean isClosed;
  private boolean delivering;
  /** Offset in {@link #written} where each TLS switch happened. */
  final List<Integer> tlsSwitches = new ArrayList<>();

  FakeTransport(Context context) {
    this.context = context;
  }

  @Override
  public String remoteIp() {
    return "192.0.2.7";
  }

  @Override
  public void handlers(Handler<Buffer> data, Handler<Void> closed, Handler<Void> shutdown, Handler<Throwable> error,
                       Handler<Void> drained) {
    this.data = data;
    this.closed = closed;
    this.shutdown = shutdown;
  }

  /** The client sends these bytes (delivered now unless paused). */
  void clientSends(Buffer b) {
    if (isClosed) {
      return;
    }
    pending.add(b);
    pump();
  }

  void clientSends(String s) {
    clientSends(Buffer.buffer(s.getBytes(StandardCharsets.UTF_8)));
  }

  private void pump() {
    if (delivering) {
      return; // re-entrant call from inside a handler: the outer loop continues
    }
    delivering = true;
    try {
      while (!paused && !isClosed && !pending.isEmpty()) {
        data.handle(pending.poll());
      }
    } finally {
      delivering = false;
    }
  }

  /** Input the connection has not been given yet (held by a pause). */
  int pendingChunks() {
    return pending.size();
  }

  void serverShutdown() {
    shutdown.handle(null);
  }

  @Override
  public void write(Buffer b) {
    if (!isClosed) {
      written.appendBuffer(b);
    }
  }

  @Override
  public boolean writeQueueFull() {
    return false;
  }

  @Override
  public Future<Void> end(Buffer b) {
    write(b);
    close();
    return Future.succeededFuture();
  }

  @Override
  public void close() {
    if (isClosed) {
      return;
    }
    isClosed = true;
    pending.clear();
    context.runOnContext(v -> closed.handle(null));
  }

  boolean isClosed() {
    return isClosed;
  }

  @Override
  public void pause() {
    paused = true;
  }

  @Override
  public void resume() {
    paused = false;
    context.runOnContext(v -> pump());
  }

  @Override
  public Future<Void> upgradeToTls(Buffer reply) {
    write(reply);
    tlsSwitches.add(written.length());
    Promise<Void> p = Promise.promise();
    context.runOnContext(v -> {
      // Plaintext the client had already sent reaches the connection during the handshake.
      boolean wasPaused = paused;
      paused = false;
      pump();
      paused = wasPaused;
      p.complete();
    });
    return p.future();
  }

  /** Everything written so far, as text. */
  String written() {
    return written.toString(StandardCharsets.UTF_8);
  }

  /** The reply lines written so far (each without CRLF). */
  List<String> replyLines() {
    List<String> out = new ArrayList<>();
    for (String l : written().split("\r\n")) {
      if (!l.isEmpty()) {
        out.add(l);
      }
    }
    return out;
  }

  /** The last line of each reply, in order (the greeting included). */
  List<String> replies() {
    List<String> out = new ArrayList<>();
    for (String l : replyLines()) {
      if (l.length() < 4 || l.charAt(3) != '-') {
        out.add(l);
      }
    }
    return out;
  }
}
