package dev.mailserver.pop3;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.net.ListenPorts;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.common.tls.TlsSupport;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.ServerSSLOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The POP3 server (RFC 1939, CAPA of RFC 2449, response codes of RFC 3206, STLS of RFC 2595, AUTH
 * of RFC 5034) on {@code pop3.port}, and POP3 over implicit TLS (RFC 8314 section 3.3) on
 * {@code pop3.pop3sPort}. Reads mail only through the mailstore's event-bus API; holds no mail
 * itself. {@code config()} is the whole system config; the certificate comes from the top-level
 * {@code tls} section through {@link TlsSupport}.
 *
 * <p>Connection limits ({@code pop3.maxConnections}, {@code pop3.maxConnectionsPerIp}) count both
 * listeners together and are shared with the login throttle by all instances of the deployment
 * ({@link ConnectionLimits}), and by further instances made with {@link #Pop3Verticle(Pop3Verticle)}
 * (the launcher deploys one per core on the first one's ports). A refused client gets {@code -ERR [SYS/TEMP] Too many connections}
 * (RFC 3206 section 5: try later) instead of the greeting, and is closed.
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
  private final LoginThrottle.Settings throttleSettings;
  /** The instance whose limits, throttle and TLS this one shares; null for a first instance. */
  private final Pop3Verticle first;
  private volatile TlsSupport.Tls tls;
  /** Ports to listen on when configured as 0, the same for every instance ({@link ListenPorts}). */
  private final int plainKey;
  private final int pop3sKey;
  private final Set<Pop3Connection> connections = ConcurrentHashMap.newKeySet();
  private NetServer server;
  private NetServer pop3sServer;
  private volatile ConnectionLimits limits;
  private volatile int actualPort = -1;
  private volatile int actualPop3sPort = -1;
  private volatile boolean listening;

  public Pop3Verticle() {
    this(SHUTDOWN_GRACE_MS);
  }

  /** With another grace period: tests check the bound without waiting seconds. */
  Pop3Verticle(long shutdownGraceMs) {
    this(shutdownGraceMs, LoginThrottle.Settings.defaults());
  }

  /** With other throttle settings: tests see delays and lockouts in milliseconds, not minutes. */
  Pop3Verticle(long shutdownGraceMs, LoginThrottle.Settings throttleSettings) {
    this(shutdownGraceMs, throttleSettings, null);
  }

  /**
   * A further instance on the same listeners (deploy it with the first one's bound ports in its
   * config): it shares the connection limits, the login throttle and the TLS material (one
   * certificate on every event loop) of {@code first}, which must have started.
   */
  public Pop3Verticle(Pop3Verticle first) {
    this(first.shutdownGraceMs, first.throttleSettings, first);
  }

  private Pop3Verticle(long shutdownGraceMs, LoginThrottle.Settings throttleSettings, Pop3Verticle first) {
    this.shutdownGraceMs = shutdownGraceMs;
    this.throttleSettings = throttleSettings;
    this.first = first;
    this.plainKey = first != null ? first.plainKey : ListenPorts.newSharedKey();
    this.pop3sKey = first != null ? first.pop3sKey : ListenPorts.newSharedKey();
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
    if (!options.tlsEnabled() && !options.allowPlaintextAuth()) {
      log.warn("tls.enabled is false and pop3.allowPlaintextAuth is false: no POP3 client can log in");
    } else if (options.allowPlaintextAuth()) {
      log.warn("pop3.allowPlaintextAuth is true: passwords may cross the network in the clear (RFC 8314 section 2)");
    }
    if (first != null && (first.limits == null || first.tls == null)) {
      return Future.failedFuture(new IllegalStateException("the first POP3 instance has not started"));
    }
    // TlsSupport reads files or generates a key pair (about a second): not on the event loop.
    Future<TlsSupport.Tls> material = first != null ? Future.succeededFuture(first.tls)
        : vertx.executeBlocking(() -> TlsSupport.fromConfig(config()));
    return material.compose(t -> {
      tls = t;
      return listen(options, t);
    });
  }

  private Future<?> listen(Pop3Options options, TlsSupport.Tls tls) {
    MailstoreClient store = new MailstoreClient(vertx, options.storeTimeoutMs());
    Pop3Metrics metrics = new Pop3Metrics(Meters.registry(vertx));
    limits = first != null ? first.limits : ConnectionLimits.forDeployment(vertx, deploymentID(), throttleSettings);
    ServerSSLOptions tlsOptions = tls.enabled() ? tls.serverOptions() : null;
    long idleTimeoutMs = options.idleTimeoutSeconds() * 1000L;
    // RFC 1939 section 3 autologout: Vert.x closes a connection without reads or writes for this long;
    // the close handler then releases the lock without entering UPDATE.
    NetServerOptions netOptions = new NetServerOptions()
        .setHost(options.host())
        .setPort(ListenPorts.forListen(options.port(), plainKey))
        .setIdleTimeout(options.idleTimeoutSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS);
    server = vertx.createNetServer(netOptions)
        .connectHandler(socket -> accept(socket, false, options, store, metrics, tlsOptions, idleTimeoutMs));
    Future<?> plain = server.listen().onSuccess(s -> {
      actualPort = s.actualPort();
      log.info("POP3 listening on {}:{}", options.host(), actualPort);
    });
    if (!options.pop3sEnabled()) {
      return plain.onSuccess(s -> listening = true);
    }
    // RFC 8314 section 3.3: POP3 over implicit TLS, TLS 1.2+ only (TlsSupport.PROTOCOLS, RFC 8996).
    NetServerOptions tlsNetOptions = new NetServerOptions(netOptions)
        .setPort(ListenPorts.forListen(options.pop3sPort(), pop3sKey))
        .setSsl(true)
        .setKeyCertOptions(tls.keyCert().copy())
        .setEnabledSecureTransportProtocols(TlsSupport.PROTOCOLS);
    pop3sServer = vertx.createNetServer(tlsNetOptions)
        .connectHandler(socket -> accept(socket, true, options, store, metrics, tlsOptions, idleTimeoutMs));
    return plain
        .compose(s -> pop3sServer.listen())
        .onSuccess(s -> {
          actualPop3sPort = s.actualPort();
          listening = true;
          log.info("POP3S listening on {}:{}", options.host(), actualPop3sPort);
        })
        .onFailure(t -> server.close());
  }

  /** A new connection: count it against the limits, or refuse it with -ERR [SYS/TEMP] and close. */
  private void accept(NetSocket socket, boolean implicitTls, Pop3Options options, MailstoreClient store,
                      Pop3Metrics metrics, ServerSSLOptions tlsOptions, long idleTimeoutMs) {
    String ip = socket.remoteAddress() == null || socket.remoteAddress().hostAddress() == null
        ? "" : socket.remoteAddress().hostAddress();
    ConnectionLimits.Refusal refusal = limits.tryOpen(ip, options.maxConnections(), options.maxConnectionsPerIp());
    if (refusal != null) {
      metrics.connectionRejected(refusal == ConnectionLimits.Refusal.PER_IP);
      log.debug("POP3 connection from {} refused: limit {}", ip, refusal);
      socket.pause();
      socket.write((refusal == ConnectionLimits.Refusal.PER_IP
          ? Pop3Handler.TOO_MANY_CONNECTIONS_FROM_IP : Pop3Handler.TOO_MANY_CONNECTIONS).encode())
          .onComplete(ar -> socket.close());
      return;
    }
    Pop3Handler handler = new Pop3Handler(vertx, store, options, options.lockLeaseMs(), metrics, limits.throttle());
    Pop3Connection connection = new Pop3Connection(socket, handler, idleTimeoutMs, tlsOptions, implicitTls);
    // Tracked so that stop can wait until every session has released its maildrop lease.
    connections.add(connection);
    connection.finished().onComplete(ar -> {
      connections.remove(connection);
      limits.closed(ip);
    });
    connection.start();
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
    List<Future<Void>> shutdowns = new ArrayList<>();
    shutdowns.add(server.shutdown(shutdownGraceMs, TimeUnit.MILLISECONDS));
    if (pop3sServer != null) {
      shutdowns.add(pop3sServer.shutdown(shutdownGraceMs, TimeUnit.MILLISECONDS));
    }
    return Future.join(shutdowns)
        .transform(ar -> {
          if (ar.failed()) {
            log.warn("POP3 server shutdown: {}", ar.cause().toString());
          }
          List<Future<Void>> open = connections.stream().map(Pop3Connection::finished).toList();
          return bounded(Future.join(open), RELEASE_WAIT_MS);
        })
        .onComplete(ar -> ConnectionLimits.forget(vertx, deploymentID()))
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

  /** The bound POP3S port (useful with port 0); -1 before start and when POP3S is off. */
  public int actualPop3sPort() {
    return actualPop3sPort;
  }

  /** Open connections of this instance (tests read their write-queue high-water marks). */
  Set<Pop3Connection> connections() {
    return connections;
  }

  /** True between a successful listen and the start of stop: the readiness check uses it. */
  public boolean isListening() {
    return listening;
  }
}
