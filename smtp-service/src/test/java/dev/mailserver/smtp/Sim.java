package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.security.LoginThrottle;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One SMTP session without sockets: a real {@link SmtpConnection} and {@link SmtpHandler} over a
 * {@link FakeTransport}, on one Vert.x event-loop context, against whatever mailstore listens on
 * the Vert.x event bus. The test thread sends bytes and waits for the session to settle.
 */
final class Sim implements AutoCloseable {
  final Context context;
  final FakeTransport transport;
  SmtpHandler handler;
  SmtpConnection connection;

  /**
   * @param throttleDelays false: the AUTH throttle's delays are skipped (fast fuzzing)
   */
  Sim(Vertx vertx, SmtpOptions options, Listener listener, boolean tlsAvailable, LoginThrottle throttle,
      boolean throttleDelays) {
    this.context = vertx.getOrCreateContext();
    this.transport = new FakeTransport(context);
    on(() -> {
      handler = new SmtpHandler(options, new MailstoreClient(vertx, options.storeTimeoutMs()), transport.remoteIp(),
          Clock.systemUTC(), SmtpMetrics.detached(), listener, tlsAvailable, throttle, throttleDelays ? vertx : null);
      connection = new SmtpConnection(vertx, transport, handler, options.idleTimeoutSeconds() * 1000L);
      connection.start();
      return null;
    });
  }

  static SmtpOptions options(JsonObject smtp) {
    return SmtpOptions.fromConfig(TestSupport.config(smtp));
  }

  /** Runs on the session's context and waits for the result. */
  <T> T on(Supplier<T> action) {
    CompletableFuture<T> f = new CompletableFuture<>();
    context.runOnContext(v -> {
      try {
        f.complete(action.get());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  Sim send(String s) {
    on(() -> {
      transport.clientSends(s);
      return null;
    });
    return this;
  }

  Sim send(Buffer b) {
    on(() -> {
      transport.clientSends(b);
      return null;
    });
    return this;
  }

  /** Waits until the session has nothing left to do with the input it has (or is closed). */
  Sim settle() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int calm = 0;
    while (calm < 2) {
      boolean quiet = on(() -> connection.idle() && (transport.pendingChunks() == 0 || transport.isClosed()));
      calm = quiet ? calm + 1 : 0;
      if (System.nanoTime() > deadline) {
        throw new AssertionError("session did not settle; written so far: " + transport.written());
      }
      if (!quiet) {
        try {
          Thread.sleep(0, 200_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
      }
    }
    return this;
  }

  /** The last line of every reply so far, the greeting first. */
  List<String> replies() {
    return on(transport::replies);
  }

  String written() {
    return on(transport::written);
  }

  @Override
  public void close() {
    on(() -> {
      transport.close();
      return null;
    });
  }
}
