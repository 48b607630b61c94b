package dev.mailserver.mailstore;

import dev.mailserver.common.metrics.Meters;
import dev.mailserver.mailstore.journal.FileEventJournal;
import dev.mailserver.mailstore.store.Durability;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The mailstore service's meters, registered once per verticle on the process registry
 * ({@link Meters#registry}). Names as Micrometer writes them; Prometheus shows {@code .} as
 * {@code _}, counters with {@code _total}, and base units ({@code _seconds}, {@code _bytes}), e.g.
 * {@code mail_store_deliveries_total}, {@code mail_store_fsync_latency_seconds_bucket}:
 *
 * <ul>
 *   <li>{@value #DELIVERIES} (counter, tag {@code result}: stored, failed): delivery requests
 *       answered, whatever the reason for a failure (bad request, unknown mailbox, storage).</li>
 *   <li>{@value #DELIVERED_COPIES} (counter) and {@value #DELIVERED_BYTES} (counter, bytes): copies
 *       written (one per distinct recipient) and their size on disk, Return-Path included.</li>
 *   <li>{@value #DELIVERY_LATENCY} (timer, histogram buckets from 1 ms to 30 s, no client-side
 *       percentiles): the whole durable write of one delivery on the worker, every copy written and
 *       fsynced, their directories fsynced, and the events journaled. Only deliveries that got as
 *       far as writing are timed, failed ones included.</li>
 *   <li>{@value #FSYNCS} (counter) and {@value #FSYNC_LATENCY} (timer, buckets from 100 us to 10 s),
 *       both with tag {@code kind}: {@code file} for data flushes (the delivery log's group-commit
 *       fdatasync, or with {@code store.durability: fsync} a message file before its rename),
 *       {@code directory} for name flushes (a checkpoint's syncfs of the mail file system, a
 *       directory after renames or unlinks, the directories of a new mailbox), {@code journal} for
 *       the event journal's group commits; failed ones included. {@code fsyncs / delivered.copies}
 *       is the fsyncs per stored message. {@code accounts.json}'s own fsyncs are not counted.</li>
 *   <li>{@value #DELETIONS} (counter): messages removed (ids that were already gone do not count).</li>
 *   <li>{@value #FETCHES} (counter): messages read successfully (bus and HTTP): whole, as a TOP, or
 *       in byte ranges (counted once, at the range from offset 0).</li>
 *   <li>{@value #MAILBOXES} (gauge): accounts (each has its mailbox) in the account table.</li>
 *   <li>{@value #JOURNAL_EVENTS} (gauge): events retained in the journal (newest id minus the oldest
 *       retained, plus one) and {@value #JOURNAL_BYTES} (gauge, bytes): size of its segment files.
 *       Both are answered from memory (see {@link FileEventJournal#stats()}): up to date after every
 *       append of this process, otherwise as of the last refresh (every
 *       {@link MailstoreVerticle#JOURNAL_STATS_INTERVAL_MS} ms, and after each compaction).</li>
 *   <li>{@value #JOURNAL_APPENDS} (counter): events this process appended to the journal.</li>
 *   <li>{@value #AUTH} (counter, tag {@code result}: success, failure): password checks (bcrypt)
 *       that reached a verdict, from the bus or the HTTP API; HTTP answers from its credential cache
 *       are not checks and are not counted.</li>
 * </ul>
 *
 * <p>The gauges read objects of a running verticle. They are registered once per registry and
 * read the most recently bound live verticle's objects through weak references; a verticle unbinds
 * in {@code stop()}. So an undeployed verticle is never kept alive by the registry, a redeployed
 * one takes over the same gauges, and with none bound they read NaN.
 *
 * <p>Thread-safe.
 */
public final class MailstoreMetrics {

  public static final String DELIVERIES = "mail.store.deliveries";
  public static final String DELIVERED_COPIES = "mail.store.delivered.copies";
  public static final String DELIVERED_BYTES = "mail.store.delivered.bytes";
  public static final String DELIVERY_LATENCY = "mail.store.delivery.latency";
  public static final String FSYNCS = "mail.store.fsyncs";
  public static final String FSYNC_LATENCY = "mail.store.fsync.latency";
  public static final String DELETIONS = "mail.store.deletions";
  public static final String FETCHES = "mail.store.fetches";
  public static final String MAILBOXES = "mail.store.mailboxes";
  public static final String JOURNAL_EVENTS = "mail.store.journal.events";
  public static final String JOURNAL_BYTES = "mail.store.journal.bytes";
  public static final String JOURNAL_APPENDS = "mail.store.journal.appends";
  public static final String AUTH = "mail.store.auth";

  /** What the gauges of one verticle read; each method answers from memory. */
  public interface GaugeSource {
    /** Accounts in the table. */
    int mailboxes();

    /** The journal's statistics, or null while unknown. */
    FileEventJournal.Stats journal();
  }

  /** The gauges' state, one per registry: the bound sources, newest last. Holds no reference to its registry. */
  private static final class Shared {
    final List<WeakReference<GaugeSource>> sources = new CopyOnWriteArrayList<>();

    /** The newest live source (dropping collected ones), or null. */
    GaugeSource current() {
      for (int i = sources.size() - 1; i >= 0; i--) {
        WeakReference<GaugeSource> ref = sources.get(i);
        GaugeSource s = ref.get();
        if (s != null) {
          return s;
        }
        sources.remove(ref);
      }
      return null;
    }

    double read(ToDoubleFunction<GaugeSource> f) {
      GaugeSource s = current();
      return s == null ? Double.NaN : f.applyAsDouble(s);
    }
  }

  private static final Map<MeterRegistry, Shared> SHARED = Collections.synchronizedMap(new WeakHashMap<>());

  private final Counter stored;
  private final Counter failed;
  private final Counter copies;
  private final Counter bytes;
  private final Timer deliveryLatency;
  private final Counter fileFsyncs;
  private final Counter dirFsyncs;
  private final Timer fileFsyncLatency;
  private final Timer dirFsyncLatency;
  private final Counter journalFsyncs;
  private final Timer journalFsyncLatency;
  private final Counter deletions;
  private final Counter fetches;
  private final Counter journalAppends;
  private final Counter authSuccess;
  private final Counter authFailure;
  private final Shared shared;
  /** The source this instance bound (strongly held here, weakly by the gauges); null when unbound. */
  private volatile GaugeSource bound;

  public MailstoreMetrics(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    stored = deliveries(registry, "stored");
    failed = deliveries(registry, "failed");
    copies = Counter.builder(DELIVERED_COPIES).description("Message copies stored, one per distinct recipient")
        .register(registry);
    bytes = Counter.builder(DELIVERED_BYTES).description("Bytes of message copies stored, Return-Path included")
        .baseUnit("bytes").register(registry);
    deliveryLatency = Timer.builder(DELIVERY_LATENCY)
        .description("The durable write of one delivery: every copy and its directory fsynced, events journaled")
        .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30))
        .register(registry);
    fileFsyncs = fsyncs(registry, "file");
    dirFsyncs = fsyncs(registry, "directory");
    fileFsyncLatency = fsyncTimer(registry, "file");
    dirFsyncLatency = fsyncTimer(registry, "directory");
    journalFsyncs = fsyncs(registry, "journal");
    journalFsyncLatency = fsyncTimer(registry, "journal");
    deletions = Counter.builder(DELETIONS).description("Messages removed from mailboxes").register(registry);
    fetches = Counter.builder(FETCHES).description("Messages read from mailboxes, whole or TOP").register(registry);
    journalAppends = Counter.builder(JOURNAL_APPENDS).description("Events appended to the event journal by this process")
        .register(registry);
    authSuccess = auth(registry, "success");
    authFailure = auth(registry, "failure");
    Shared s;
    synchronized (SHARED) {
      s = SHARED.computeIfAbsent(registry, r -> new Shared());
      // Once per registry (a second registration would only be ignored, with a warning).
      if (registry.find(MAILBOXES).gauge() == null) {
        Gauge.builder(MAILBOXES, s, x -> x.read(GaugeSource::mailboxes))
            .description("Mail accounts, each with its mailbox").strongReference(true).register(registry);
      }
      if (registry.find(JOURNAL_EVENTS).gauge() == null) {
        Gauge.builder(JOURNAL_EVENTS, s, x -> x.read(src -> journal(src, FileEventJournal.Stats::events)))
            .description("Events retained in the event journal").strongReference(true).register(registry);
      }
      if (registry.find(JOURNAL_BYTES).gauge() == null) {
        Gauge.builder(JOURNAL_BYTES, s, x -> x.read(src -> journal(src, FileEventJournal.Stats::bytes)))
            .description("Size of the event journal's segment files").baseUnit("bytes").strongReference(true)
            .register(registry);
      }
    }
    shared = s;
  }

  /** Meters nobody reads (a service built outside a verticle, in unit tests). */
  public static MailstoreMetrics detached() {
    return new MailstoreMetrics(new SimpleMeterRegistry());
  }

  private static double journal(GaugeSource src, ToDoubleFunction<FileEventJournal.Stats> f) {
    FileEventJournal.Stats s = src.journal();
    return s == null ? Double.NaN : f.applyAsDouble(s);
  }

  private static Counter deliveries(MeterRegistry registry, String result) {
    return Counter.builder(DELIVERIES).description("Delivery requests answered, by result").tag("result", result)
        .register(registry);
  }

  private static Counter fsyncs(MeterRegistry registry, String kind) {
    return Counter.builder(FSYNCS).description("fsyncs of the Maildir store, by what was synced").tag("kind", kind)
        .register(registry);
  }

  private static Timer fsyncTimer(MeterRegistry registry, String kind) {
    return Timer.builder(FSYNC_LATENCY).description("Time of each fsync of the Maildir store").tag("kind", kind)
        .serviceLevelObjectives(Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(10))
        .register(registry);
  }

  private static Counter auth(MeterRegistry registry, String result) {
    return Counter.builder(AUTH).description("Password checks, by result").tag("result", result).register(registry);
  }

  // ------------------------------------------------------------------------------------ gauges

  /**
   * Makes the gauges read these (until {@link #unbindGauges()}, or until they are garbage). The
   * suppliers must answer from memory: they run on the scrape thread.
   */
  public void bindGauges(IntSupplier mailboxes, Supplier<FileEventJournal.Stats> journal) {
    GaugeSource source = new GaugeSource() {
      @Override
      public int mailboxes() {
        return mailboxes.getAsInt();
      }

      @Override
      public FileEventJournal.Stats journal() {
        return journal.get();
      }
    };
    unbindGauges();
    bound = source;
    shared.sources.add(new WeakReference<>(source));
  }

  /** Stops the gauges reading what {@link #bindGauges} gave them (they fall back to another bound verticle, or NaN). */
  public void unbindGauges() {
    GaugeSource s = bound;
    bound = null;
    if (s != null) {
      shared.sources.removeIf(ref -> {
        GaugeSource x = ref.get();
        return x == null || x == s;
      });
    }
  }

  // ------------------------------------------------------------------------------------ recording

  /** For {@link Durability}: every fsync of the Maildir store. */
  public Durability.Observer fsyncObserver() {
    return this::fsynced;
  }

  void fsynced(boolean directory, long nanos) {
    (directory ? dirFsyncs : fileFsyncs).increment();
    (directory ? dirFsyncLatency : fileFsyncLatency).record(nanos, TimeUnit.NANOSECONDS);
  }

  /** For the event journal: each of its fsyncs (one per group of appended events). */
  public void journalFsynced(long nanos) {
    journalFsyncs.increment();
    journalFsyncLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void deliveryWritten(long nanos) {
    deliveryLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void delivered(int copyCount, long byteCount) {
    stored.increment();
    copies.increment(copyCount);
    bytes.increment(byteCount);
  }

  void deliveryFailed() {
    failed.increment();
  }

  void deleted(int n) {
    deletions.increment(n);
  }

  void fetched() {
    fetches.increment();
  }

  void journaled(int events) {
    journalAppends.increment(events);
  }

  void authenticated(boolean success) {
    (success ? authSuccess : authFailure).increment();
  }
}
