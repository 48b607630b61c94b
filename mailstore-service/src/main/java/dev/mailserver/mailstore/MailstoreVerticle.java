package dev.mailserver.mailstore;

import dev.mailserver.common.bus.Codecs;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.bus.MailstoreBusApi;
import dev.mailserver.mailstore.http.MailstoreHttpApi;
import dev.mailserver.mailstore.store.MaildirStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailstore service: Maildir storage and accounts under {@code dataDir}, the event-bus API of
 * {@code common/README.md}, and an HTTP server for probes. {@link #config()} is the whole system
 * configuration (see {@link MailstoreOptions}). Deploy one instance per data directory: the account
 * file has a single writer.
 */
public class MailstoreVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(MailstoreVerticle.class);

  /** Deliveries and reads; parallel deliveries each hold one thread while they fsync. */
  static final int IO_POOL_SIZE = 16;
  /** bcrypt is CPU-bound: a small pool bounds the CPU that login attempts can take. */
  static final int AUTH_POOL_SIZE = 2;

  private MailstoreOptions options;
  private WorkerExecutor io;
  private WorkerExecutor auth;
  private MailstoreService service;
  private MailstoreBusApi busApi;
  private HttpServer server;

  public MailstoreVerticle() {
  }

  private record Init(MaildirStore store, Accounts accounts, String node, Path dataDir, Optional<String> demoPassword) {}

  @Override
  public Future<?> start() {
    try {
      options = MailstoreOptions.fromConfig(config());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new IllegalArgumentException("mailstore configuration: " + e.getMessage(), e));
    }
    Codecs.register(vertx);
    io = vertx.createSharedWorkerExecutor("mailstore-io", IO_POOL_SIZE);
    auth = vertx.createSharedWorkerExecutor("mailstore-auth", AUTH_POOL_SIZE);
    MailstoreOptions opts = options;
    return io.<Init>executeBlocking(() -> init(opts), true)
        .compose(init -> {
          init.demoPassword().ifPresent(pw -> announceDemo("demo@" + opts.domains().get(0), pw));
          service = new MailstoreService(vertx, init.store(), init.accounts(), io, auth);
          busApi = new MailstoreBusApi(vertx, service, init.node());
          log.info("Mailstore data in {}", init.dataDir());
          return busApi.start();
        })
        .compose(v -> {
          MailstoreHttpApi http = new MailstoreHttpApi(vertx,
              () -> busApi.isRegistered() ? service.storeHealthy() : Future.succeededFuture(false));
          return vertx.createHttpServer().requestHandler(http.router()).listen(opts.httpPort(), opts.httpHost());
        })
        .<Void>map(s -> {
          server = s;
          log.info("Mailstore HTTP listening on {}:{}", opts.httpHost(), s.actualPort());
          return null;
        })
        .recover(t -> {
          log.error("Mailstore failed to start: {}", t.getMessage());
          return stop().transform(ignored -> Future.failedFuture(t));
        });
  }

  /** Blocking part of the start: directories, tmp cleanup, accounts. Runs on a worker. */
  private static Init init(MailstoreOptions opts) throws Exception {
    Path dataDir = opts.dataDir().toAbsolutePath().normalize();
    Files.createDirectories(dataDir);
    String node = machineHostname(opts.hostname());
    MaildirStore store = new MaildirStore(dataDir.resolve("mail"), node);
    store.open();
    Accounts accounts = new Accounts(dataDir.resolve("accounts.json"), store);
    accounts.load();
    Accounts.SeedResult seeded = accounts.seed(opts.accounts());
    if (!seeded.created().isEmpty() || !seeded.updated().isEmpty()) {
      log.info("Accounts from configuration: created {}, password updated {}", seeded.created(), seeded.updated());
    }
    Optional<String> demo = accounts.createDemoIfEmpty(opts.domains().get(0));
    return new Init(store, accounts, node, dataDir, demo);
  }

  /**
   * The name of this machine (pod), for unique Maildir names: several pods sharing a volume share
   * the configured mail host name but not this. Falls back to the configured name.
   */
  static String machineHostname(String configured) {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isBlank()) {
      return env.strip();
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return configured;
    }
  }

  /** Printed once, when the account is created; on later starts it exists and nothing is shown. */
  private static void announceDemo(String address, String password) {
    String banner = String.join(System.lineSeparator(),
        "",
        "==================================================================",
        "  No mail account was configured: created a demo account",
        "    address:  " + address,
        "    password: " + password,
        "  It is shown only this once. Configure \"accounts\" to replace it.",
        "==================================================================",
        "");
    System.out.println(banner);
    System.out.flush();
    log.info("No account configured: created demo account {} (its password is printed above, once)", address);
  }

  /** The HTTP port actually bound (useful with port 0), or -1 before the server is up. */
  public int actualHttpPort() {
    return server == null ? -1 : server.actualPort();
  }

  @Override
  public Future<?> stop() {
    List<Future<?>> steps = new ArrayList<>();
    if (server != null) {
      steps.add(server.close());
      server = null;
    }
    if (busApi != null) {
      steps.add(busApi.stop());
    }
    return Future.join(steps).eventually(() -> {
      List<Future<?>> pools = new ArrayList<>();
      if (io != null) {
        pools.add(io.close());
        io = null;
      }
      if (auth != null) {
        pools.add(auth.close());
        auth = null;
      }
      return Future.join(pools);
    }).mapEmpty();
  }
}
