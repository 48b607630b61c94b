package dev.mailserver.deploy;

import dev.mailserver.common.bus.Codecs;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.deploy.Main.Role;
import dev.mailserver.mailstore.MailstoreVerticle;
import dev.mailserver.pop3.Pop3Verticle;
import dev.mailserver.smtp.SmtpVerticle;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running process: a Vert.x instance (embedded or clustered), the verticles of its roles and
 * the management port. Blocking methods; call them from {@code main} or a test thread, never from
 * an event loop.
 *
 * <p>Metrics: one Prometheus registry per process (per Vert.x), fed by Vert.x's metrics SPI
 * (vertx-micrometer-metrics: net and HTTP servers, event bus, pools), the JVM binders (memory, GC,
 * threads, class loading, compilation, processor, uptime) and the services' own meters, which
 * they record through {@link Meters#registry} without knowing about Prometheus. The management port
 * serves it at {@link ManagementServer#METRICS}.
 */
public final class MailServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(MailServer.class);

  private static final AtomicInteger REGISTRY_SEQ = new AtomicInteger();

  private final Vertx vertx;
  private final JsonObject config;
  private final boolean clustered;
  private final PrometheusMeterRegistry registry;
  /**
   * Deployment ids per role, newest role first: undeployed in that order so SMTP drains before the
   * store goes; the deployments of one role (its instances) are undeployed together.
   */
  private final Deque<List<String>> deployments = new ArrayDeque<>();
  private MailstoreVerticle mailstore;
  /** The first SMTP instance (its ports are everybody's); all instances in {@link #smtpInstances}. */
  private SmtpVerticle smtp;
  private Pop3Verticle pop3;
  private final List<SmtpVerticle> smtpInstances = new ArrayList<>();
  private final List<Pop3Verticle> pop3Instances = new ArrayList<>();
  private ManagementServer management;
  private volatile boolean closed;
  /** SMTP and POP3 verticle instances each. */
  private final int instances;

  private MailServer(Vertx vertx, JsonObject config, boolean clustered, PrometheusMeterRegistry registry, int instances) {
    this.instances = Math.max(1, instances);
    this.vertx = vertx;
    this.config = config;
    this.clustered = clustered;
    this.registry = registry;
  }

  /** A registry for one process: Prometheus naming, histograms and percentiles as each meter asks. */
  static PrometheusMeterRegistry newRegistry() {
    return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  }

  /**
   * A builder for a Vert.x that records its metrics (and the JVM's) into {@code registry}: add a
   * cluster manager and {@code buildClustered()}, or {@code build()}. Bind the registry with
   * {@link Meters#bind} before deploying anything. Each call gets its own registry name, so several
   * Vert.x instances in one JVM (tests) never share or close each other's registry.
   */
  static VertxBuilder instrumented(VertxOptions options, PrometheusMeterRegistry registry) {
    // epoll when its native library loads (Linux x86-64), else NIO: see Vertx#isNativeTransportEnabled.
    options.setPreferNativeTransport(true);
    options.setMetricsOptions(new MicrometerMetricsOptions()
        .setEnabled(true)
        .setJvmMetricsEnabled(true)
        // The listening address tells the SMTP, POP3, HTTP and management servers apart; a handful
        // of values. Never REMOTE or HTTP_PATH: one series per client or URL.
        .addLabels(Label.LOCAL)
        .setRegistryName("mailserver-" + REGISTRY_SEQ.incrementAndGet())
        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true)));
    return Vertx.builder().with(options).withMetrics(new MicrometerMetricsFactory(registry));
  }

  /** Starts the roles: clustered when {@code cluster.enabled}, else in one embedded Vert.x. */
  public static MailServer start(JsonObject config, List<Role> roles) throws StartupException {
    return start(config, roles, protocolInstances());
  }

  /** With another number of SMTP and POP3 instances than one per core (tests: the same on any machine). */
  static MailServer start(JsonObject config, List<Role> roles, int instances) throws StartupException {
    boolean clustered = config.getJsonObject("cluster").getBoolean("enabled");
    Vertx vertx;
    if (clustered) {
      Cluster cluster = Cluster.fromConfig(config);
      try {
        vertx = cluster.start();
      } catch (Exception e) {
        throw new StartupException("cannot join cluster '" + cluster.name() + "' on " + cluster.host() + ":"
            + cluster.hazelcastPort() + ": " + rootMessage(e), e);
      }
    } else {
      PrometheusMeterRegistry registry = newRegistry();
      vertx = instrumented(new VertxOptions(), registry).build();
      Meters.bind(vertx, registry);
    }
    return start(vertx, config, roles, clustered, instances);
  }

  /**
   * Starts the roles on a given Vert.x instance; closes it if start fails. A Vert.x from
   * {@link Cluster#start()} already has its Prometheus registry; for any other one a registry is
   * made here, holding the services' meters only (Vert.x's own need the metrics SPI at build time).
   */
  public static MailServer start(Vertx vertx, JsonObject config, List<Role> roles) throws StartupException {
    return start(vertx, config, roles, vertx.isClustered(), protocolInstances());
  }

  private static MailServer start(Vertx vertx, JsonObject config, List<Role> roles, boolean clustered, int instances)
      throws StartupException {
    Codecs.register(vertx);
    // Operators comparing hosts should see which I/O transport they got (epoll only on Linux x86-64).
    Throwable noNative = vertx.unavailableNativeTransportCause();
    LOG.info("I/O transport: {}", vertx.isNativeTransportEnabled() ? "native (epoll)"
        : "NIO" + (noNative != null ? " (native transport unavailable: " + noNative + ")" : ""));
    PrometheusMeterRegistry registry = Meters.bound(vertx)
        .filter(PrometheusMeterRegistry.class::isInstance).map(PrometheusMeterRegistry.class::cast)
        .orElseGet(() -> {
          PrometheusMeterRegistry r = newRegistry();
          Meters.bind(vertx, r);
          return r;
        });
    MailServer server = new MailServer(vertx, config, clustered, registry, instances);
    try {
      for (Role role : roles.stream().sorted().toList()) {
        server.deploy(role);
      }
      server.startManagement();
    } catch (StartupException e) {
      server.close();
      throw e;
    }
    return server;
  }

  /**
   * SMTP and POP3 instances per process: one per core, so every event loop serves connections
   * (Vert.x hands the accepted connections of a shared port to its instances in turn).
   */
  static int protocolInstances() {
    return Math.max(1, Runtime.getRuntime().availableProcessors());
  }

  /**
   * How many instances of a protocol to run. Only one while {@code tls.enabled}: in Vert.x 5.0.8 a
   * server that joins another's shared port has no SslContextManager, so
   * {@code NetSocket.upgradeToSsl} (STARTTLS, RFC 3207; STLS, RFC 2595) throws a
   * NullPointerException on every connection it is handed and the client hangs. Implicit TLS is
   * not affected, but the MX port always offers STARTTLS when TLS is on.
   */
  private int instancesFor(Role role) {
    if (instances > 1 && config.getJsonObject("tls").getBoolean("enabled", true)) {
      LOG.info("{}: 1 instance, not {}: in-band TLS upgrades fail on shared ports in Vert.x 5.0.8 (tls.enabled is true)",
          role.name().toLowerCase(), instances);
      return 1;
    }
    return instances;
  }

  private void deploy(Role role) throws StartupException {
    DeploymentOptions opts = new DeploymentOptions().setConfig(config);
    try {
      switch (role) {
        case MAILSTORE -> {
          MailstoreVerticle v = new MailstoreVerticle();
          deployments.push(List.of(vertx.deployVerticle(v, opts).await(2, TimeUnit.MINUTES)));
          mailstore = v;
        }
        case SMTP -> {
          SmtpVerticle v = new SmtpVerticle();
          List<String> ids = new ArrayList<>();
          deployments.push(ids);
          ids.add(vertx.deployVerticle(v, opts).await(1, TimeUnit.MINUTES));
          smtp = v;
          synchronized (smtpInstances) {
            smtpInstances.add(v);
          }
          // The others share the first one's sockets (ephemeral ones too, see ListenPorts), limits,
          // AUTH throttle and certificate; so it has to be up before they start.
          ids.addAll(deployMore(instancesFor(role) - 1, () -> {
            SmtpVerticle more = new SmtpVerticle(v);
            synchronized (smtpInstances) {
              smtpInstances.add(more);
            }
            return more;
          }, opts));
        }
        case POP3 -> {
          Pop3Verticle v = new Pop3Verticle();
          List<String> ids = new ArrayList<>();
          deployments.push(ids);
          ids.add(vertx.deployVerticle(v, opts).await(1, TimeUnit.MINUTES));
          pop3 = v;
          synchronized (pop3Instances) {
            pop3Instances.add(v);
          }
          ids.addAll(deployMore(instancesFor(role) - 1, () -> {
            Pop3Verticle more = new Pop3Verticle(v);
            synchronized (pop3Instances) {
              pop3Instances.add(more);
            }
            return more;
          }, opts));
        }
      }
    } catch (Exception e) {
      throw new StartupException(role.name().toLowerCase() + ": " + describe(e), e);
    }
  }

  private List<String> deployMore(int count, java.util.function.Supplier<io.vertx.core.Deployable> factory,
                                  DeploymentOptions opts) throws Exception {
    if (count < 1) {
      return List.of();
    }
    return List.of(vertx.deployVerticle(factory, new DeploymentOptions(opts).setInstances(count))
        .await(1, TimeUnit.MINUTES));
  }

  private void startManagement() throws StartupException {
    Map<String, BooleanSupplier> checks = new LinkedHashMap<>();
    if (mailstore != null) {
      MailstoreVerticle m = mailstore;
      checks.put("mailstore", m::isReady);
    }
    if (smtp != null) {
      List<SmtpVerticle> all;
      synchronized (smtpInstances) {
        all = List.copyOf(smtpInstances);
      }
      checks.put("smtp", () -> all.stream().allMatch(SmtpVerticle::isListening));
    }
    if (pop3 != null) {
      List<Pop3Verticle> all;
      synchronized (pop3Instances) {
        all = List.copyOf(pop3Instances);
      }
      checks.put("pop3", () -> all.stream().allMatch(Pop3Verticle::isListening));
    }
    management = new ManagementServer(vertx, checks, smtp != null || pop3 != null, registry);
    JsonObject m = config.getJsonObject("management");
    try {
      management.listen(m.getString("host"), m.getInteger("port")).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new StartupException("management: " + describe(e), e);
    }
  }

  private static String describe(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null || t instanceof java.util.concurrent.CompletionException)) {
      t = t.getCause();
    }
    // NIO throws BindException; the epoll transport an IOException "bind(..) failed with error(-98): ...".
    if (t instanceof java.net.BindException
        || (t instanceof java.io.IOException && t.getMessage() != null && t.getMessage().startsWith("bind("))) {
      return "cannot listen: " + t.getMessage() + " (is another server using the port? set it in the config or to 0)";
    }
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }

  public Vertx vertx() {
    return vertx;
  }

  public JsonObject config() {
    return config;
  }

  /** Running SMTP verticle instances (all on the same ports). */
  int smtpInstanceCount() {
    synchronized (smtpInstances) {
      return smtpInstances.size();
    }
  }

  /** Running POP3 verticle instances (all on the same ports). */
  int pop3InstanceCount() {
    synchronized (pop3Instances) {
      return pop3Instances.size();
    }
  }

  /** Bound SMTP port, or -1 if this process has no SMTP role. */
  public int smtpPort() {
    return smtp == null ? -1 : smtp.actualPort();
  }

  public int pop3Port() {
    return pop3 == null ? -1 : pop3.actualPort();
  }

  /** Bound submission port (RFC 6409), or -1 if off or no SMTP role. */
  public int submissionPort() {
    return smtp == null ? -1 : smtp.actualSubmissionPort();
  }

  /** Bound SMTPS (implicit TLS, RFC 8314) port, or -1 if off or no SMTP role. */
  public int smtpsPort() {
    return smtp == null ? -1 : smtp.actualSmtpsPort();
  }

  /** Bound POP3S (implicit TLS) port, or -1 if off or no POP3 role. */
  public int pop3sPort() {
    return pop3 == null ? -1 : pop3.actualPop3sPort();
  }

  public int httpPort() {
    return mailstore == null ? -1 : mailstore.actualHttpPort();
  }

  public int managementPort() {
    return management == null ? -1 : management.actualPort();
  }

  /** This process's metrics (what {@link ManagementServer#METRICS} serves). */
  public PrometheusMeterRegistry meterRegistry() {
    return registry;
  }

  /** The lines printed at start-up: where each service listens and where data lives. */
  public String describe() {
    StringBuilder b = new StringBuilder("mailserver started (").append(config.getString("hostname"))
        .append(", domains ").append(config.getJsonArray("domains").encode()).append(")\n");
    if (clustered) {
      b.append("  cluster         ").append(config.getJsonObject("cluster").getString("name"))
          .append(" member ").append(Cluster.memberAddress(vertx)).append('\n');
    }
    if (mailstore != null) {
      b.append("  mailstore data  ").append(Path.of(config.getString("dataDir")).toAbsolutePath().normalize()).append('\n');
      b.append("  HTTP            ").append(config.getJsonObject("http").getString("host")).append(':').append(httpPort()).append('\n');
    }
    if (smtp != null) {
      String host = config.getJsonObject("smtp").getString("host");
      b.append("  SMTP            ").append(host).append(':').append(smtpPort()).append('\n');
      if (smtp.actualSubmissionPort() > 0) {
        b.append("  submission      ").append(host).append(':').append(smtp.actualSubmissionPort()).append(" (STARTTLS, AUTH)\n");
      }
      if (smtp.actualSmtpsPort() > 0) {
        b.append("  SMTPS           ").append(host).append(':').append(smtp.actualSmtpsPort()).append(" (implicit TLS, AUTH)\n");
      }
    }
    if (pop3 != null) {
      b.append("  POP3            ").append(config.getJsonObject("pop3").getString("host")).append(':').append(pop3Port()).append('\n');
      if (pop3.actualPop3sPort() > 0) {
        b.append("  POP3S           ").append(config.getJsonObject("pop3").getString("host")).append(':')
            .append(pop3.actualPop3sPort()).append(" (implicit TLS)\n");
      }
    }
    b.append("  management      ").append(config.getJsonObject("management").getString("host")).append(':')
        .append(managementPort()).append(" (").append(ManagementServer.LIVEZ).append(", ").append(ManagementServer.READYZ)
        .append(", ").append(ManagementServer.METRICS).append(")\n");
    return b.toString().stripTrailing();
  }

  /**
   * Stops in order: POP3 and SMTP first (SMTP drains open transactions while the mailstore, local
   * or remote, still answers), then the mailstore, then the management port, then Vert.x (which
   * leaves the cluster). Bounded by {@code smtp.shutdownGraceSeconds} plus {@link #CLOSE_MARGIN_SECONDS}
   * in all, so an orchestrator's grace period (Kubernetes terminationGracePeriodSeconds) can be
   * sized from the config. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    long graceSeconds = config.getJsonObject("smtp").getLong("shutdownGraceSeconds", 30L);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(graceSeconds + CLOSE_MARGIN_SECONDS);
    while (!deployments.isEmpty()) {
      List<String> ids = deployments.pop();
      // A role's instances drain in parallel: each gets the whole grace, not a share of it.
      try {
        Future.join(ids.stream().map(vertx::undeploy).toList()).await(remaining(deadline, 1), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        LOG.warn("undeploy of {} did not complete cleanly: {}", ids, e.toString());
      }
    }
    try {
      if (management != null) {
        management.close().await(remaining(deadline, 1_000), TimeUnit.MILLISECONDS);
      }
      vertx.close().await(remaining(deadline, 3_000), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      LOG.warn("shutdown did not complete cleanly: {}", e.toString());
    } finally {
      Meters.unbind(vertx);
      registry.close();
    }
  }

  /** Seconds on top of the SMTP grace for undeploying the rest and leaving the cluster. */
  public static final long CLOSE_MARGIN_SECONDS = 10;

  private static long remaining(long deadline, long minimumMs) {
    return Math.max(minimumMs, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
  }
}
