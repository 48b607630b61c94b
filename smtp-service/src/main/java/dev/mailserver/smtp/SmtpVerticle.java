package dev.mailserver.smtp;

import dev.mailserver.common.bus.MailstoreClient;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP service: a NetServer speaking RFC 5321 + ESMTP that hands each message to the mailstore
 * over the event bus and answers 250 only once the store has it. {@link #config()} is the whole
 * system config; see {@link SmtpOptions} for the keys it reads.
 */
public class SmtpVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(SmtpVerticle.class);

  private NetServer server;
  private SmtpOptions options;

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
    long idleMs = options.idleTimeoutSeconds() * 1000L;
    server = vertx.createNetServer(new NetServerOptions().setHost(options.host()).setPort(options.port()).setTcpNoDelay(true));
    server.connectHandler(socket -> {
      SmtpHandler handler = new SmtpHandler(options, store, SmtpConnection.clientIp(socket));
      new SmtpConnection(vertx, socket, handler, idleMs).start();
    });
    return server.listen().onSuccess(s -> log.info("SMTP listening on {}:{}", options.host(), s.actualPort()));
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
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
