package dev.mailserver.mailstore;

import dev.mailserver.common.http.HttpServers;
import dev.mailserver.common.bus.Codecs;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.accounts.Passwords;
import dev.mailserver.mailstore.bus.MailstoreBusApi;
import dev.mailserver.mailstore.http.EventStreamHandler;
import dev.mailserver.mailstore.http.HttpApiConfig;
import dev.mailserver.mailstore.http.MailstoreHttpApi;
import dev.mailserver.mailstore.journal.FileEventJournal;
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
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailstore service: Maildir storage and accounts under {@code dataDir}, the event-bus API of
 * {@code common/README.md}, and an HTTP server for probes. {@link #config()} is the whole system
 * configuration (see {@link MailstoreOptions}).
 *
 * <p>Several instances (separate JVMs, e.g. pods on one ReadWriteMany volume) may share a data
 * directory: Maildir delivery is safe with several writers, listings are always read from disk,
 * and {@link Accounts} notices other instances' account changes within about a second and writes
 * {@code accounts.json} only under a cross-process file lock.
 */
public class MailstoreVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(MailstoreVerticle.class);

  /** Where the delivery log's segments live, under the data directory. */
  static final String DELIVERY_LOG_DIR = "deliverylog";
  /** Reads, listings, deletions, account checks (deliveries have their own writers in MailstoreService). */
  static final int IO_POOL_SIZE = 16;
  /** bcrypt is CPU-bound: a small pool bounds the CPU that login attempts can take. */
  static final int AUTH_POOL_SIZE = 2;
  /** Event journal reads (events.since, SSE replays): apart from deliveries so catching up cannot starve them. */
  static final int EVENTS_POOL_SIZE = 4;
  /** How often old journal segments are compacted away (also once at start). */
  static final long COMPACT_INTERVAL_MS = 10 * 60 * 1000;
  /**
   * How often the journal's statistics (for the {@link MailstoreMetrics#JOURNAL_EVENTS} and
   * {@link MailstoreMetrics#JOURNAL_BYTES} gauges) are refreshed from the files, to see other
   * instances' appends and compactions; this instance's own appends update them as they happen.
   */
  static final long JOURNAL_STATS_INTERVAL_MS = 15_000;
  /** How often readiness is re-checked in the background; {@link #isReady()} reads the result. */
  static final long READY_CHECK_INTERVAL_MS = 1000;
  /**
   * A readiness result older than this counts as not ready: a check stuck on a hung volume (e.g.
   * an unreachable NFS server) must not leave the instance reported ready.
   */
  static final long READY_MAX_AGE_MS = 5000;

  /** A readiness check's outcome and when (System.nanoTime) it was taken. */
  private record Readiness(boolean ready, long checkedAt) {}

  private final int bcryptCost;

  private MailstoreOptions options;
  private WorkerExecutor io;
  private WorkerExecutor auth;
  private WorkerExecutor events;
  private FileEventJournal journal;
  private EventStreamHandler eventStream;
  private long compactTimer = -1;
  /** Confined to this verticle's context: at most one compaction runs at a time. */
  private boolean compacting;
  private long statsTimer = -1;
  /** Confined to this verticle's context: at most one journal statistics refresh runs at a time. */
  private boolean refreshingStats;
  private MailstoreMetrics metrics;
  private MailstoreService service;
  private MailstoreBusApi busApi;
  private HttpServer server;
  private Path dataDir;
  private long readyTimer = -1;
  /** Confined to this verticle's context: at most one readiness check runs at a time. */
  private boolean readyCheckRunning;
  private volatile Readiness readiness;
  private volatile boolean stopping;

  public MailstoreVerticle() {
    this(Passwords.DEFAULT_COST);
  }

  /** With another bcrypt cost for new hashes: tests use 4 to stay fast. */
  MailstoreVerticle(int bcryptCost) {
    this.bcryptCost = bcryptCost;
  }

  private record Init(MaildirStore store, Accounts accounts, String node, Path dataDir, Optional<String> demoPassword,
                      FileEventJournal journal) {}

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
    events = vertx.createSharedWorkerExecutor("mailstore-events", EVENTS_POOL_SIZE);
    MailstoreOptions opts = options;
    Passwords passwords = new Passwords(bcryptCost);
    MailstoreMetrics meters = new MailstoreMetrics(Meters.registry(vertx));
    metrics = meters;
    return io.<Init>executeBlocking(() -> init(opts, passwords, meters), true)
        .compose(init -> {
          init.demoPassword().ifPresent(pw -> announceDemo("demo@" + opts.domains().get(0), pw));
          dataDir = init.dataDir();
          journal = init.journal();
          service = new MailstoreService(vertx, init.store(), init.accounts(), journal, io, auth, events, meters);
          // Both answer from memory: nothing here touches the disk on the scrape thread.
          meters.bindGauges(init.accounts()::size, init.journal()::stats);
          eventStream = new EventStreamHandler(vertx, journal, events);
          busApi = new MailstoreBusApi(vertx, service, init.node());
          log.info("Mailstore data in {}", init.dataDir());
          return busApi.start();
        })
        .compose(v -> {
          // /readyz and isReady() report the same background check, so neither does I/O per call.
          MailstoreHttpApi http = new MailstoreHttpApi(vertx, service, HttpApiConfig.from(opts, config()),
              () -> Future.succeededFuture(isReady()))
              .eventsHandler(eventStream);
          return vertx.createHttpServer(HttpServers.options()).requestHandler(http.router()).listen(opts.httpPort(), opts.httpHost());
        })
        .compose(s -> {
          server = s;
          log.info("Mailstore HTTP listening on {}:{}", opts.httpHost(), s.actualPort());
          // The first result is in before the deployment completes, so a started verticle is ready at once.
          return checkReadiness();
        })
        .<Void>map(ready -> {
          readyTimer = vertx.setPeriodic(READY_CHECK_INTERVAL_MS, id -> checkReadiness());
          compactTimer = vertx.setPeriodic(COMPACT_INTERVAL_MS, id -> compactJournal());
          statsTimer = vertx.setPeriodic(JOURNAL_STATS_INTERVAL_MS, id -> refreshJournalStats());
          return null;
        })
        .recover(t -> {
          log.error("Mailstore failed to start: {}", t.getMessage());
          return stop().transform(ignored -> Future.failedFuture(t));
        });
  }

  /** Blocking part of the start: directories, tmp cleanup, accounts. Runs on a worker. */
  private static Init init(MailstoreOptions opts, Passwords passwords, MailstoreMetrics metrics) throws Exception {
    Path dataDir = opts.dataDir().toAbsolutePath().normalize();
    Files.createDirectories(dataDir);
    String node = machineHostname(opts.hostname());
    // Group commit through the delivery log unless every copy is to be fsync'd on its own.
    Path logDir = opts.deliveryLog() ? dataDir.resolve(DELIVERY_LOG_DIR) : null;
    MaildirStore store = new MaildirStore(dataDir.resolve("mail"), node, metrics.fsyncObserver(), logDir);
    store.open();
    Accounts accounts = new Accounts(dataDir.resolve("accounts.json"), store, passwords);
    accounts.load();
    Accounts.SeedResult seeded = accounts.seed(opts.accounts());
    if (!seeded.created().isEmpty() || !seeded.updated().isEmpty()) {
      log.info("Accounts from configuration: created {}, password updated {}", seeded.created(), seeded.updated());
    }
    // Decided under the accounts file lock: of several instances starting together, one creates it.
    Optional<String> demo = accounts.createDemoIfEmpty(opts.domains().get(0));
    // Shared by every instance on this data directory: ids continue across restarts and processes.
    FileEventJournal journal = FileEventJournal.open(dataDir, opts.eventsMaxAgeHours(), opts.eventsMaxCount());
    journal.observeFsyncs(metrics::journalFsynced);
    try {
      journal.compact(); // also takes the journal's statistics
    } catch (RuntimeException e) {
      log.warn("Event journal compaction at start failed (retried every {} min): {}", COMPACT_INTERVAL_MS / 60_000, e.toString());
    }
    if (journal.stats() == null) {
      try {
        journal.refreshStats();
      } catch (RuntimeException e) {
        log.warn("Event journal statistics unavailable (retried every {} s): {}", JOURNAL_STATS_INTERVAL_MS / 1000, e.toString());
      }
    }
    log.info("Event journal in {} (last event id {}; keeps events younger than {} h and among the newest {})",
        journal.dir(), journal.lastId().isEmpty() ? "none" : journal.lastId(), opts.eventsMaxAgeHours(), opts.eventsMaxCount());
    return new Init(store, accounts, node, dataDir, demo, journal);
  }

  /** Drops journal segments beyond the configured bounds, on a worker; one run at a time. */
  private void compactJournal() {
    FileEventJournal j = journal;
    WorkerExecutor pool = events;
    if (compacting || stopping || j == null || pool == null) {
      return;
    }
    compacting = true;
    pool.executeBlocking(j::compact, false).onComplete(ar -> {
      compacting = false;
      if (ar.failed()) {
        log.error("Event journal compaction failed: {}", ar.cause().toString());
      }
    });
  }

  /** Re-reads the journal's statistics for the gauges, on a worker; one run at a time. */
  private void refreshJournalStats() {
    FileEventJournal j = journal;
    WorkerExecutor pool = events;
    if (refreshingStats || stopping || j == null || pool == null) {
      return;
    }
    refreshingStats = true;
    pool.executeBlocking(j::refreshStats, false).onComplete(ar -> {
      refreshingStats = false;
      if (ar.failed()) {
        log.warn("Event journal statistics refresh failed: {}", ar.cause().toString());
      }
    });
  }

  /** The SSE handler for {@code GET /api/v1/events}; null before start. For tests. */
  EventStreamHandler eventStream() {
    return eventStream;
  }

  /**
   * True when started, every bus consumer is registered, and the data directory and mail
   * directory are writable, as found by a background check at most {@link #READY_MAX_AGE_MS} old.
   * Cheap and callable from any thread (the launcher's management server and {@code /readyz} use it).
   */
  public boolean isReady() {
    Readiness r = readiness;
    return r != null && r.ready() && !stopping
        && System.nanoTime() - r.checkedAt() <= TimeUnit.MILLISECONDS.toNanos(READY_MAX_AGE_MS);
  }

  /** Runs one readiness check (the file-system part on a worker) and records its result; on this verticle's context. */
  private Future<Boolean> checkReadiness() {
    if (readyCheckRunning) {
      return Future.succeededFuture(isReady()); // the previous one is still stuck; isReady() ages it out
    }
    MailstoreBusApi bus = busApi;
    MailstoreService svc = service;
    Path dir = dataDir;
    WorkerExecutor pool = io;
    if (stopping || bus == null || svc == null || dir == null || pool == null || !bus.isRegistered()) {
      readiness = new Readiness(false, System.nanoTime());
      return Future.succeededFuture(false);
    }
    readyCheckRunning = true;
    return pool.<Boolean>executeBlocking(() -> Files.isDirectory(dir) && Files.isWritable(dir) && svc.store().healthy(), false)
        .otherwise(t -> {
          log.warn("Readiness check failed: {}", t.toString());
          return false;
        })
        .map(ok -> {
          readyCheckRunning = false;
          boolean ready = ok && bus.isRegistered() && !stopping;
          Readiness previous = readiness;
          if (previous != null && previous.ready() != ready) {
            log.info("Mailstore is {}", ready ? "ready again" : "NOT ready (bus consumers or data directory unusable)");
          }
          readiness = new Readiness(ready, System.nanoTime());
          return ready;
        });
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
    stopping = true;
    readiness = null;
    if (readyTimer >= 0) {
      vertx.cancelTimer(readyTimer);
      readyTimer = -1;
    }
    if (compactTimer >= 0) {
      vertx.cancelTimer(compactTimer);
      compactTimer = -1;
    }
    if (statsTimer >= 0) {
      vertx.cancelTimer(statsTimer);
      statsTimer = -1;
    }
    if (metrics != null) {
      metrics.unbindGauges(); // the registry outlives this verticle: it must not keep our objects
    }
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
      if (events != null) {
        pools.add(events.close());
        events = null;
      }
      return Future.join(pools);
    }).eventually(() -> {
      if (service == null) {
        return Future.succeededFuture();
      }
      MailstoreService svc = service;
      // The last checkpoint makes the logged copies durable in the Maildir (a syncfs): a worker's job.
      return vertx.executeBlocking(() -> {
        svc.close();
        svc.store().close();
        return null;
      });
    }).eventually(() -> {
      if (journal != null) {
        journal.close(); // holds no files between operations; waits for an append in progress
        journal = null;
      }
      return Future.succeededFuture();
    }).mapEmpty();
  }
}
