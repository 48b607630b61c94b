package dev.mailserver.common.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where the services record their meters: one Micrometer {@link MeterRegistry} per Vert.x
 * instance. The launcher binds the process registry (Prometheus, also fed by Vert.x's own metrics
 * and the JVM binders) to the Vert.x it builds, before any verticle is deployed; a verticle asks for
 * it in {@code start()}:
 *
 * <pre>{@code
 * MeterRegistry registry = Meters.registry(vertx);
 * Counter stored = Counter.builder("mail.store.messages.stored").register(registry);
 * }</pre>
 *
 * <p>A Vert.x nobody bound (unit tests, an embedding application) gets its own
 * {@link SimpleMeterRegistry} on first use: meters always work, and tests that each start their own
 * Vert.x never see each other's counts. A test that shares one Vert.x between tests binds a fresh
 * registry before deploying. Only the Micrometer API is needed here; the Prometheus backend and
 * Vert.x's metrics SPI stay in the launcher.
 *
 * <p>Naming: dotted lower-case Micrometer names under {@code mail.<service>.}; the Prometheus
 * registry turns {@code mail.smtp.sessions} (a counter) into {@code mail_smtp_sessions_total}. Tag
 * values must come from small fixed sets (reply codes, outcomes), never from client input.
 *
 * <p>Thread-safe.
 */
public final class Meters {

  /** Weak keys: a closed, unreferenced Vert.x does not keep its registry alive. */
  private static final Map<Vertx, MeterRegistry> REGISTRIES = Collections.synchronizedMap(new WeakHashMap<>());
  /** The state behind {@link #upDown} gauges, per registry; holds no reference back to its registry. */
  private static final Map<MeterRegistry, Map<String, AtomicLong>> UP_DOWN = Collections.synchronizedMap(new WeakHashMap<>());

  private Meters() {}

  /** The registry of this Vert.x instance: the bound one, else a private in-memory one created now. */
  public static MeterRegistry registry(Vertx vertx) {
    Objects.requireNonNull(vertx, "vertx");
    return REGISTRIES.computeIfAbsent(vertx, v -> new SimpleMeterRegistry());
  }

  /**
   * Makes {@code registry} the one {@link #registry(Vertx)} returns for {@code vertx}; verticles
   * deployed afterwards record into it (those already started keep the meters they registered).
   */
  public static void bind(Vertx vertx, MeterRegistry registry) {
    REGISTRIES.put(Objects.requireNonNull(vertx, "vertx"), Objects.requireNonNull(registry, "registry"));
  }

  /** The registry bound to (or already created for) this Vert.x, without creating one. */
  public static Optional<MeterRegistry> bound(Vertx vertx) {
    return Optional.ofNullable(REGISTRIES.get(vertx));
  }

  /** Forgets this Vert.x (when it is closed). */
  public static void unbind(Vertx vertx) {
    REGISTRIES.remove(vertx);
  }

  /**
   * A gauge that code moves up and down ("sessions active"), shared by every caller asking for the
   * same registry and name: several verticle instances (or redeployments) on one registry add into
   * one value, instead of the first instance's gauge silently hiding the others. Increment on open,
   * decrement on close.
   *
   * @param tags alternating keys and values, fixed for this name
   */
  public static AtomicLong upDown(MeterRegistry registry, String name, String description, String... tags) {
    Objects.requireNonNull(registry, "registry");
    Map<String, AtomicLong> byName = UP_DOWN.computeIfAbsent(registry, r -> new ConcurrentHashMap<>());
    return byName.computeIfAbsent(name + '\u0000' + String.join("\u0000", tags), k -> {
      AtomicLong value = new AtomicLong();
      Gauge.builder(name, value, AtomicLong::get).description(description).tags(tags).strongReference(true).register(registry);
      return value;
    });
  }
}
