package dev.mailserver.deploy;

import dev.mailserver.common.bus.Codecs;
import dev.mailserver.deploy.Main.Role;
import dev.mailserver.mailstore.MailstoreVerticle;
import dev.mailserver.pop3.Pop3Verticle;
import dev.mailserver.smtp.SmtpVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running process: a Vert.x instance and the verticles of its roles. Blocking methods; call
 * them from {@code main} or a test thread, never from an event loop.
 */
public final class MailServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(MailServer.class);

  private final Vertx vertx;
  private final JsonObject config;
  private MailstoreVerticle mailstore;
  private SmtpVerticle smtp;
  private Pop3Verticle pop3;
  private volatile boolean closed;

  private MailServer(Vertx vertx, JsonObject config) {
    this.vertx = vertx;
    this.config = config;
  }

  /** Starts the roles in one embedded (non-clustered) Vert.x instance. */
  public static MailServer start(JsonObject config, List<Role> roles) throws StartupException {
    return start(Vertx.vertx(new VertxOptions()), config, roles);
  }

  /** Starts the roles on a given Vert.x instance (clustered or not); closes it if start fails. */
  public static MailServer start(Vertx vertx, JsonObject config, List<Role> roles) throws StartupException {
    Codecs.register(vertx);
    MailServer server = new MailServer(vertx, config);
    try {
      for (Role role : roles.stream().sorted().toList()) {
        server.deploy(role);
      }
    } catch (StartupException e) {
      server.close();
      throw e;
    }
    return server;
  }

  private void deploy(Role role) throws StartupException {
    DeploymentOptions opts = new DeploymentOptions().setConfig(config);
    try {
      switch (role) {
        case MAILSTORE -> {
          MailstoreVerticle v = new MailstoreVerticle();
          vertx.deployVerticle(v, opts).await(2, TimeUnit.MINUTES);
          mailstore = v;
        }
        case SMTP -> {
          SmtpVerticle v = new SmtpVerticle();
          vertx.deployVerticle(v, opts).await(1, TimeUnit.MINUTES);
          smtp = v;
        }
        case POP3 -> {
          Pop3Verticle v = new Pop3Verticle();
          vertx.deployVerticle(v, opts).await(1, TimeUnit.MINUTES);
          pop3 = v;
        }
      }
    } catch (Exception e) {
      throw new StartupException(role.name().toLowerCase() + ": " + describe(e), e);
    }
  }

  private static String describe(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null || t instanceof java.util.concurrent.CompletionException)) {
      t = t.getCause();
    }
    if (t instanceof java.net.BindException) {
      return "cannot listen: " + t.getMessage() + " (is another server using the port? set it in the config or to 0)";
    }
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }

  public Vertx vertx() {
    return vertx;
  }

  public JsonObject config() {
    return config;
  }

  /** Bound SMTP port, or -1 if this process has no SMTP role. */
  public int smtpPort() {
    return smtp == null ? -1 : smtp.actualPort();
  }

  public int pop3Port() {
    return pop3 == null ? -1 : pop3.actualPort();
  }

  public int httpPort() {
    return mailstore == null ? -1 : mailstore.actualHttpPort();
  }

  /** The lines printed at start-up: where each service listens and where data lives. */
  public String describe() {
    StringBuilder b = new StringBuilder("mailserver started (").append(config.getString("hostname"))
        .append(", domains ").append(config.getJsonArray("domains").encode()).append(")\n");
    if (mailstore != null) {
      b.append("  mailstore data  ").append(Path.of(config.getString("dataDir")).toAbsolutePath().normalize()).append('\n');
      b.append("  HTTP            ").append(config.getJsonObject("http").getString("host")).append(':').append(httpPort()).append('\n');
    }
    if (smtp != null) {
      b.append("  SMTP            ").append(config.getJsonObject("smtp").getString("host")).append(':').append(smtpPort()).append('\n');
    }
    if (pop3 != null) {
      b.append("  POP3            ").append(config.getJsonObject("pop3").getString("host")).append(':').append(pop3Port()).append('\n');
    }
    return b.toString().stripTrailing();
  }

  /** Undeploys everything and closes Vert.x; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      vertx.close().await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("shutdown did not complete cleanly: {}", e.toString());
    }
  }
}
