package dev.mailserver.pop3;

import dev.mailserver.common.bus.MailstoreClient;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The POP3 server (RFC 1939, CAPA of RFC 2449, response codes of RFC 3206). Reads mail only through
 * the mailstore's event-bus API; holds no mail itself. {@code config()} is the whole system config.
 */
public class Pop3Verticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(Pop3Verticle.class);

  private NetServer server;
  private volatile int actualPort = -1;

  public Pop3Verticle() {}

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
    // RFC 1939 section 3 autologout: Vert.x closes a connection without reads or writes for this long;
    // the close handler then releases the lock without entering UPDATE.
    NetServerOptions netOptions = new NetServerOptions()
        .setHost(options.host())
        .setPort(options.port())
        .setIdleTimeout(options.idleTimeoutSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS);
    server = vertx.createNetServer(netOptions)
        .connectHandler(socket -> new Pop3Connection(socket, new Pop3Handler(vertx, store, options)).start());
    return server.listen().onSuccess(s -> {
      actualPort = s.actualPort();
      log.info("POP3 listening on {}:{}", options.host(), actualPort);
    });
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  /** The bound port (useful with port 0); -1 before start. */
  public int actualPort() {
    return actualPort;
  }
}
