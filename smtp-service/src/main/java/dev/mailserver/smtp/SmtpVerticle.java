package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.metrics.Meters;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP service: a NetServer speaking RFC 5321 + ESMTP that hands each message to the mailstore
 * over the event bus and answers 250 only once the store has it. {@link #config()} is the whole
 * system config; see {@link SmtpOptions} for the keys it reads.
 *
 * <p>Undeploying drains gracefully (see {@link #stop()}): no acknowledged message is lost and open
 * transactions get up to {@code smtp.shutdownGraceSeconds} to finish.
 */
public class SmtpVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(SmtpVerticle.class);

  private NetServer server;
  private SmtpOptions options;
  /** Read by the launcher's readiness check from another thread. */
  private volatile boolean listening;
  /** stop() has begun; only touched on this verticle's context (connect handler and stop). */
  private boolean stopping;

  public SmtpVerticle() {}

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
    MailstoreClient store = new MailstoreClient(vertx, options.storeTimeoutMs());
    SmtpMetrics metrics = new SmtpMetrics(Meters.registry(vertx));
    long idleMs = options.idleTimeoutSeconds() * 1000L;
    server = vertx.createNetServer(new NetServerOptions().setHost(options.host()).setPort(options.port()).setTcpNoDelay(true));
    server.connectHandler(socket -> {
      SmtpHandler handler = new SmtpHandler(options, store, SmtpConnection.clientIp(socket), Clock.systemDefaultZone(), metrics);
      SmtpConnection conn = new SmtpConnection(vertx, socket, handler, idleMs);
      conn.start();
      if (stopping) {
        // Accepted just before the listener closed, but handed to us after the shutdown event went
        // out: it would never see that event, so it gets its 421 now (after the 220 already queued).
        conn.shutdown();
      }
    });
    return server.listen().map(s -> {
      listening = true;
      log.info("SMTP listening on {}:{}", options.host(), s.actualPort());
      return s;
    });
  }

  /**
   * Graceful drain, for SIGTERM (the launcher's shutdown hook undeploys SMTP before the mailstore
   * and Vert.x). {@code NetServer.shutdown(grace)} closes the listening socket at once (new
   * connects are refused), then signals every open connection (its shutdown handler), and closes
   * whatever is still open when the grace ends. Each session reacts per
   * {@link SmtpHandler#onShutdown()}: idle ones get 421 4.3.2 now; one inside a transaction may
   * finish it (its DATA is read to the end, stored, and answered as usual), then gets 421.
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
    if (server == null) {
      return Future.succeededFuture();
    }
    stopping = true;
    int grace = options.shutdownGraceSeconds();
    log.info("SMTP stopping: no new connections, open transactions get up to {} s to finish", grace);
    return server.shutdown(grace, TimeUnit.SECONDS).onComplete(ar -> log.info("SMTP stopped"));
  }

  /** True between a successful listen and the start of stop (for the launcher's readiness check). */
  public boolean isListening() {
    return listening;
  }

  /** The bound port after start (useful with port 0); -1 before. */
  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }

  /** The parsed options after start; null before. */
  public SmtpOptions options() {
    return options;
  }
}
