package dev.mailserver.pop3;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.metrics.Meters;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The POP3 server (RFC 1939, CAPA of RFC 2449, response codes of RFC 3206). Reads mail only through
 * the mailstore's event-bus API; holds no mail itself. {@code config()} is the whole system config.
 */
public class Pop3Verticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(Pop3Verticle.class);

  /**
   * How long stop lets a command already in flight finish before its connection is force-closed.
   * Short: a slow store must not hold up a rolling restart, and the client just reconnects.
   */
  static final long SHUTDOWN_GRACE_MS = 2_000;
  /** After the grace period, how long stop still waits for the closed sessions to release their leases. */
  static final long RELEASE_WAIT_MS = 1_000;

  private final long shutdownGraceMs;
  private final Set<Pop3Connection> connections = ConcurrentHashMap.newKeySet();
  private NetServer server;
  private volatile int actualPort = -1;
  private volatile boolean listening;

  public Pop3Verticle() {
    this(SHUTDOWN_GRACE_MS);
  }

  /** With another grace period: tests check the bound without waiting seconds. */
  Pop3Verticle(long shutdownGraceMs) {
    this.shutdownGraceMs = shutdownGraceMs;
  }

  @Override
  public Future<?> start() {
    Pop3Options options;
    try {
      options = Pop3Options.fromConfig(config());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    if (options.idleTimeoutSeconds() < Pop3Options.DEFAULT_IDLE_TIMEOUT_SECONDS) {
      log.warn("pop3.idleTimeoutSeconds {} is below the 10 minutes RFC 1939 section 3 asks for", options.idleTimeoutSeconds());
    }
    MailstoreClient store = new MailstoreClient(vertx, options.storeTimeoutMs());
    Pop3Metrics metrics = new Pop3Metrics(Meters.registry(vertx));
    long idleTimeoutMs = options.idleTimeoutSeconds() * 1000L;
    // RFC 1939 section 3 autologout: Vert.x closes a connection without reads or writes for this long;
    // the close handler then releases the lock without entering UPDATE.
    NetServerOptions netOptions = new NetServerOptions()
        .setHost(options.host())
        .setPort(options.port())
        .setIdleTimeout(options.idleTimeoutSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS);
    server = vertx.createNetServer(netOptions).connectHandler(socket -> {
      Pop3Connection connection = new Pop3Connection(socket, new Pop3Handler(vertx, store, options, metrics), idleTimeoutMs);
      // Tracked so that stop can wait until every session has released its maildrop lease.
      connections.add(connection);
      connection.finished().onComplete(ar -> connections.remove(connection));
      connection.start();
    });
    return server.listen().onSuccess(s -> {
      actualPort = s.actualPort();
      listening = true;
      log.info("POP3 listening on {}:{}", options.host(), actualPort);
    });
  }

  /**
   * Graceful stop: {@code NetServer.shutdown} unbinds at once (no new connections) and calls every
   * open socket's shutdown handler: {@link Pop3Connection} lets a command in flight finish, sends
   * {@code -ERR [SYS/TEMP] server shutting down} and closes, without UPDATE (RFC 1939 section 6:
   * marked messages are deleted only after the client's QUIT). Connections still open after the
   * grace period ({@link #SHUTDOWN_GRACE_MS}) are force-closed. Closing releases each session's lease, and stop
   * waits (bounded) for those releases, so the maildrops are free for other nodes right away
   * instead of after a lease period.
   */
  @Override
  public Future<?> stop() {
    listening = false;
    if (server == null) {
      return Future.succeededFuture();
    }
    return server.shutdown(shutdownGraceMs, TimeUnit.MILLISECONDS)
        .transform(ar -> {
          if (ar.failed()) {
            log.warn("POP3 server shutdown: {}", ar.cause().toString());
          }
          List<Future<Void>> open = connections.stream().map(Pop3Connection::finished).toList();
          return bounded(Future.join(open), RELEASE_WAIT_MS);
        })
        .onComplete(ar -> log.info("POP3 stopped"));
  }

  /** Completes when {@code f} does or after {@code ms}, whichever comes first; never fails. */
  private Future<Void> bounded(Future<?> f, long ms) {
    if (f.isComplete()) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    long timer = vertx.setTimer(ms, id -> {
      log.warn("POP3 stop: {} session(s) still releasing their maildrop lease; the leases expire by themselves",
          connections.size());
      p.tryComplete();
    });
    f.onComplete(ar -> {
      vertx.cancelTimer(timer);
      p.tryComplete();
    });
    return p.future();
  }

  /** The bound port (useful with port 0); -1 before start. */
  public int actualPort() {
    return actualPort;
  }

  /** True between a successful listen and the start of stop: the readiness check uses it. */
  public boolean isListening() {
    return listening;
  }
}
