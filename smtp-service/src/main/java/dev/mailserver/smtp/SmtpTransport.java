package dev.mailserver.smtp;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.ServerSSLOptions;
import io.vertx.core.net.SocketAddress;

/**
 * The byte pipe under an {@link SmtpConnection}: a NetSocket in production, an in-memory fake in
 * tests (so the connection's framing, pausing and STARTTLS logic can be driven without sockets).
 * Handlers are called on the connection's event loop.
 */
interface SmtpTransport {

  /** The client's IP address as text, "" when unknown. */
  String remoteIp();

  /** Wires the callbacks: input, close, graceful shutdown signal, error, write queue drained. */
  void handlers(Handler<Buffer> data, Handler<Void> closed, Handler<Void> shutdown, Handler<Throwable> error,
                Handler<Void> drained);

  void write(Buffer data);

  boolean writeQueueFull();

  /** Writes the last bytes and closes. */
  Future<Void> end(Buffer data);

  void close();

  /** Stop delivering input (TCP back-pressure). */
  void pause();

  void resume();

  /**
   * Writes {@code reply} in plaintext, then starts a server-side TLS handshake (RFC 3207 section 4:
   * the 220 goes out before the switch). Completes when the handshake is done.
   */
  Future<Void> upgradeToTls(Buffer reply);

  /** The NetSocket adapter; {@code tls} is null when TLS is not configured. */
  static SmtpTransport of(NetSocket socket, ServerSSLOptions tls) {
    return new SmtpTransport() {
      @Override
      public String remoteIp() {
        SocketAddress a = socket.remoteAddress();
        return a == null || a.hostAddress() == null ? "" : a.hostAddress();
      }

      @Override
      public void handlers(Handler<Buffer> data, Handler<Void> closed, Handler<Void> shutdown, Handler<Throwable> error,
                           Handler<Void> drained) {
        socket.handler(data);
        socket.closeHandler(closed);
        socket.shutdownHandler(shutdown);
        socket.exceptionHandler(error);
        socket.drainHandler(drained);
      }

      @Override
      public void write(Buffer data) {
        socket.write(data);
      }

      @Override
      public boolean writeQueueFull() {
        return socket.writeQueueFull();
      }

      @Override
      public Future<Void> end(Buffer data) {
        return socket.end(data);
      }

      @Override
      public void close() {
        socket.close();
      }

      @Override
      public void pause() {
        socket.pause();
      }

      @Override
      public void resume() {
        socket.resume();
      }

      @Override
      public Future<Void> upgradeToTls(Buffer reply) {
        if (tls == null) {
          return Future.failedFuture("TLS is not configured");
        }
        // Vert.x writes the reply, then installs the SSL handler once that write is flushed, with
        // reads paused in between: the client's ClientHello cannot reach the plaintext path.
        return socket.upgradeToSsl(tls, reply);
      }
    };
  }
}
