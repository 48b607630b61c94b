package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.net.ListenPorts;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.common.tls.TlsSupport;
import dev.mailserver.smtp.protocol.Replies;
import dev.mailserver.smtp.protocol.SmtpReply;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.ServerSSLOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP service: up to three NetServers speaking RFC 5321 + ESMTP that hand each message to
 * the mailstore over the event bus and answer 250 only once the store has it. {@link #config()} is
 * the whole system config; see {@link SmtpOptions} for the keys it reads, and the top-level
 * {@code tls} section ({@link TlsSupport}) for the certificate.
 *
 * <ul>
 *   <li>{@code smtp.port}: the MX port ({@link Listener#MX}), STARTTLS when TLS is on.</li>
 *   <li>{@code smtp.submissionPort}: message submission ({@link Listener#SUBMISSION}, RFC 6409),
 *       STARTTLS then AUTH. Not started when TLS is off and plaintext AUTH is not allowed: nobody
 *       could authenticate on it.</li>
 *   <li>{@code smtp.smtpsPort}: submission over implicit TLS ({@link Listener#SMTPS}, RFC 8314).
 *       Not started when TLS is off.</li>
 * </ul>
 *
 * <p>Connection limits ({@code smtp.maxConnections}, {@code smtp.maxConnectionsPerIp}) and the
 * AUTH throttle are per process: the launcher deploys one instance per core on the same ports, and
 * every further instance is made with {@link #SmtpVerticle(SmtpVerticle)} and so shares the first
 * one's limits, throttle and TLS material (one certificate whichever event loop takes a client).
 *
 * <p>Undeploying drains gracefully (see {@link #stop()}): no acknowledged message is lost and open
 * transactions get up to {@code smtp.shutdownGraceSeconds} to finish, on every listener.
 */
public class SmtpVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(SmtpVerticle.class);

  private final List<NetServer> servers = new ArrayList<>();
  private NetServer mx;
  private NetServer submission;
  private NetServer smtps;
  private SmtpOptions options;
  private volatile TlsSupport.Tls tls;
  private ServerSSLOptions sslOptions;
  private MailstoreClient store;
  private SmtpMetrics metrics;
  private volatile ConnectionLimits limits;
  private volatile LoginThrottle throttle;
  /** Read by the launcher's readiness check from another thread. */
  private volatile boolean listening;
  /** stop() has begun; only touched on this verticle's context (connect handler and stop). */
  private boolean stopping;

  /** The instance whose limits, throttle and TLS this one shares; null for a first instance. */
  private final SmtpVerticle first;

  /** Ports to listen on when configured as 0, the same for every instance ({@link ListenPorts}). */
  private final java.util.Map<Listener, Integer> sharedKeys;

  public SmtpVerticle() {
    this.first = null;
    java.util.Map<Listener, Integer> keys = new java.util.EnumMap<>(Listener.class);
    for (Listener l : Listener.values()) {
      keys.put(l, ListenPorts.newSharedKey());
    }
    this.sharedKeys = keys;
  }

  /**
   * A further instance on the same listeners (deploy it with the first one's bound ports in its
   * config): it counts connections and failed logins together with {@code first}, which must have
   * started, so the configured limits hold for the process, not per event loop.
   */
  public SmtpVerticle(SmtpVerticle first) {
    this.first = java.util.Objects.requireNonNull(first, "first");
    this.sharedKeys = first.sharedKeys;
  }

  @Override
  public Future<?> start() {
    try {
      options = SmtpOptions.fromConfig(config());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    if (options.domains().isEmpty()) {
      log.warn("no local domains configured: every recipient will be refused");
    }
    store = new MailstoreClient(vertx, options.storeTimeoutMs());
    metrics = new SmtpMetrics(Meters.registry(vertx));
    if (first != null) {
      if (first.limits == null || first.tls == null) {
        return Future.failedFuture(new IllegalStateException("the first SMTP instance has not started"));
      }
      limits = first.limits;
      throttle = first.throttle;
    } else {
      limits = new ConnectionLimits(options.maxConnections(), options.maxConnectionsPerIp());
      throttle = new LoginThrottle(LoginThrottle.Settings.defaults());
    }
    // Reading PEM files or generating the self-signed certificate (about a second) blocks: worker thread.
    Future<TlsSupport.Tls> material = first != null ? Future.succeededFuture(first.tls)
        : vertx.executeBlocking(() -> TlsSupport.fromConfig(config()));
    return material.compose(t -> {
      tls = t;
      sslOptions = t.enabled() ? t.serverOptions() : null;
      return listenAll();
    });
  }

  private Future<?> listenAll() {
    List<Future<NetServer>> listens = new ArrayList<>();
    if (!tls.enabled()) {
      log.warn("TLS is disabled (tls.enabled false): no STARTTLS, no SMTPS listener, AUTH only if smtp.allowPlaintextAuth");
    }
    mx = server(Listener.MX, options.port(), listens);
    if (options.submissionPort() == SmtpOptions.OFF) {
      log.info("SMTP submission listener off (smtp.submissionPort is -1)");
    } else if (!tls.enabled() && !options.allowPlaintextAuth()) {
      log.warn("SMTP submission listener off: TLS is disabled and smtp.allowPlaintextAuth is false, so no client could authenticate");
    } else {
      submission = server(Listener.SUBMISSION, options.submissionPort(), listens);
    }
    if (options.smtpsPort() == SmtpOptions.OFF) {
      log.info("SMTP SMTPS listener off (smtp.smtpsPort is -1)");
    } else if (!tls.enabled()) {
      log.warn("SMTP SMTPS listener off: TLS is disabled (tls.enabled false)");
    } else {
      smtps = server(Listener.SMTPS, options.smtpsPort(), listens);
    }
    return Future.all(listens).map(cf -> {
      listening = true;
      return cf;
    }).recover(err -> {
      // One port could not be bound: release the others so a retry (or another process) can have them.
      List<Future<Void>> closes = servers.stream().map(NetServer::close).toList();
      servers.clear();
      return Future.join(closes).transform(ar -> Future.failedFuture(err));
    });
  }

  private NetServer server(Listener listener, int port, List<Future<NetServer>> listens) {
    NetServerOptions o = new NetServerOptions().setHost(options.host())
        .setPort(ListenPorts.forListen(port, sharedKeys.get(listener))).setTcpNoDelay(true);
    if (listener.implicitTls()) {
      // RFC 8314 section 3.3: TLS from the first byte; the same certificate and protocols as STARTTLS.
      o.setSsl(true)
          .setKeyCertOptions(sslOptions.getKeyCertOptions())
          .setEnabledSecureTransportProtocols(sslOptions.getEnabledSecureTransportProtocols());
    }
    NetServer s = vertx.createNetServer(o);
    s.connectHandler(socket -> accept(socket, listener));
    servers.add(s);
    listens.add(s.listen().onSuccess(bound ->
        log.info("SMTP {} listening on {}:{}", listener.label(), options.host(), bound.actualPort())));
    return s;
  }

  private void accept(NetSocket socket, Listener listener) {
    String ip = SmtpConnection.clientIp(socket);
    ConnectionLimits.Refusal refusal = limits.tryAcquire(ip);
    if (refusal != null) {
      // RFC 5321 section 3.8 lets a server answer 421 at any time; X.7.0 is a policy reason.
      metrics.connectionRefused(refusal == ConnectionLimits.Refusal.PER_IP);
      log.debug("connection from {} refused: {} connection limit", ip, refusal);
      SmtpReply reply = refusal == ConnectionLimits.Refusal.PER_IP
          ? Replies.TOO_MANY_CONNECTIONS_FROM_IP : Replies.TOO_MANY_CONNECTIONS;
      socket.end(reply.toBuffer()).onComplete(ar -> socket.close());
      return;
    }
    SmtpHandler handler = new SmtpHandler(options, store, ip, Clock.systemDefaultZone(), metrics, listener,
        tls.enabled(), throttle, vertx);
    SmtpConnection conn = new SmtpConnection(vertx, SmtpTransport.of(socket, sslOptions), handler,
        options.idleTimeoutSeconds() * 1000L);
    conn.closed().onComplete(v -> limits.release(ip));
    conn.start();
    if (stopping) {
      // Accepted just before the listener closed, but handed to us after the shutdown event went
      // out: it would never see that event, so it gets its 421 now (after the 220 already queued).
      conn.shutdown();
    }
  }

  /**
   * Graceful drain, for SIGTERM (the launcher's shutdown hook undeploys SMTP before the mailstore
   * and Vert.x). {@code NetServer.shutdown(grace)} closes each listening socket at once (new
   * connects are refused), then signals every open connection (its shutdown handler), and closes
   * whatever is still open when the grace ends. Each session reacts per
   * {@link SmtpHandler#onShutdown()}: idle ones get 421 4.3.2 now; one inside a transaction may
   * finish it (its DATA is read to the end, stored, and answered as usual), then gets 421. The
   * same for all three listeners.
   *
   * <p>At the deadline a session still in DATA is cut without a reply, and one whose delivery is
   * at the store gets no reply unless the store answered first: 250 is only ever sent after the
   * store confirmed, so a cut session never loses an acknowledged message; the client retries.
   *
   * @return completes when every session is closed, or when the grace ran out and the rest were closed
   */
  @Override
  public Future<?> stop() {
    listening = false;
    if (servers.isEmpty()) {
      return Future.succeededFuture();
    }
    stopping = true;
    int grace = options.shutdownGraceSeconds();
    log.info("SMTP stopping: no new connections, open transactions get up to {} s to finish", grace);
    List<Future<Void>> shutdowns = servers.stream().map(s -> s.shutdown(grace, TimeUnit.SECONDS)).toList();
    return Future.join(shutdowns).onComplete(ar -> log.info("SMTP stopped"));
  }

  /** True between a successful listen and the start of stop (for the launcher's readiness check). */
  public boolean isListening() {
    return listening;
  }

  /** The bound MX port (useful with port 0); -1 before start. */
  public int actualPort() {
    return port(mx);
  }

  /** The bound submission port; -1 before start or when that listener is off. */
  public int actualSubmissionPort() {
    return port(submission);
  }

  /** The bound SMTPS (implicit TLS) port; -1 before start or when that listener is off. */
  public int actualSmtpsPort() {
    return port(smtps);
  }

  private static int port(NetServer s) {
    return s == null || s.actualPort() <= 0 ? -1 : s.actualPort();
  }

  /** The parsed options after start; null before. */
  public SmtpOptions options() {
    return options;
  }

  /** The TLS material in use after start (disabled when {@code tls.enabled} is false); null before. */
  public TlsSupport.Tls tls() {
    return tls;
  }
}
