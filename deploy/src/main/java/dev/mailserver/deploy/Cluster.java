package dev.mailserver.deploy;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.MultiMapConfig;
import com.hazelcast.config.NetworkConfig;
import dev.mailserver.common.metrics.Meters;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds a clustered Vert.x on Hazelcast with a configuration made in code, so that no default
 * (multicast join, auto-detection, phone-home) can leak in from a missing cluster.xml.
 *
 * @param name          cluster name: only members with the same name join each other
 * @param host          the address Hazelcast binds to and announces
 * @param hazelcastPort Hazelcast member port (0 picks a free one; otherwise the next free port
 *                      above it is taken if it is busy, so several members can share a machine)
 * @param members       tcp-ip seed members as {@code host[:port]}; empty for the first member
 * @param kubernetesServiceDns headless Service DNS name for Kubernetes discovery, or empty
 * @param memberTimeoutSeconds how long a silent member stays in the cluster; bounds how long a dead
 *                      node's event-bus subscriptions and shared-data entries linger
 * @param eventBusHost  the address the event-bus TCP server binds to
 * @param eventBusPort  event-bus TCP port (0 picks a free one)
 * @param eventBusPublicHost the address other members use to reach this event bus
 */
public record Cluster(String name, String host, int hazelcastPort, List<String> members, String kubernetesServiceDns,
                      int memberTimeoutSeconds, String eventBusHost, int eventBusPort, String eventBusPublicHost) {

  public Cluster {
    members = List.copyOf(members);
    kubernetesServiceDns = kubernetesServiceDns == null ? "" : kubernetesServiceDns;
  }

  /** A loopback cluster for tests: ephemeral ports everywhere. */
  public static Cluster loopback(String name, List<String> members) {
    return new Cluster(name, "127.0.0.1", 0, members, "", 10, "127.0.0.1", 0, "127.0.0.1");
  }

  /** From the validated {@code cluster} section of the configuration. */
  public static Cluster fromConfig(JsonObject config) {
    JsonObject c = config.getJsonObject("cluster");
    JsonObject eb = c.getJsonObject("eventBus");
    String host = c.getString("host");
    String ebHost = eb.getString("host").isBlank() ? host : eb.getString("host");
    String ebPublic = eb.getString("publicHost").isBlank() ? ebHost : eb.getString("publicHost");
    List<String> members = c.getJsonArray("members").stream().map(String::valueOf).toList();
    return new Cluster(c.getString("name"), host, c.getInteger("port"), members,
        c.getJsonObject("kubernetes").getString("serviceDns"), c.getInteger("memberTimeoutSeconds"),
        ebHost, eb.getInteger("port"), ebPublic);
  }

  /** The Hazelcast configuration: tcp-ip or Kubernetes join only, Vert.x's own maps kept. */
  public Config hazelcastConfig() {
    Config c = new Config();
    c.setClusterName(name);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    // The default 5 s wait before the first join makes every member start slowly; members of this
    // system find each other through explicit seeds or DNS.
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.shutdownhook.enabled", "false");
    c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    c.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(memberTimeoutSeconds));
    NetworkConfig net = c.getNetworkConfig();
    net.setPort(hazelcastPort).setPortAutoIncrement(hazelcastPort != 0);
    JoinConfig join = net.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    if (!kubernetesServiceDns.isBlank()) {
      join.getTcpIpConfig().setEnabled(false);
      join.getKubernetesConfig().setEnabled(true).setProperty("service-dns", kubernetesServiceDns);
      net.setPublicAddress(host);
    } else {
      join.getTcpIpConfig().setEnabled(true).setMembers(members.isEmpty() ? List.of(host) : members);
      // Bind and announce exactly the configured address: on a shared machine nothing else.
      c.setProperty("hazelcast.socket.bind.any", "false");
      net.getInterfaces().setEnabled(true).addInterface(host);
    }
    // Keep the entries of vertx-hazelcast's default-cluster.xml: the event-bus subscriptions and
    // node registries, each with one backup so a member loss does not lose them.
    c.addMultiMapConfig(new MultiMapConfig("__vertx.subs").setBackupCount(1)
        .setValueCollectionType(MultiMapConfig.ValueCollectionType.SET));
    c.addMapConfig(new MapConfig("__vertx.haInfo").setBackupCount(1));
    c.addMapConfig(new MapConfig("__vertx.nodeInfo").setBackupCount(1));
    return c;
  }

  /**
   * Joins the cluster; blocks until joined (call off the event loop). The Vert.x records its own
   * and the JVM's metrics into a new Prometheus registry, bound for the services with
   * {@link Meters#bind} (see {@link MailServer#instrumented}).
   */
  public Vertx start() throws Exception {
    VertxOptions options = new VertxOptions();
    options.getEventBusOptions().setHost(eventBusHost).setPort(eventBusPort).setClusterPublicHost(eventBusPublicHost);
    HazelcastClusterManager cm = new HazelcastClusterManager(hazelcastConfig());
    PrometheusMeterRegistry registry = MailServer.newRegistry();
    Vertx vertx;
    try {
      vertx = MailServer.instrumented(options, registry).withClusterManager(cm).buildClustered().await(2, TimeUnit.MINUTES);
    } catch (Exception e) {
      registry.close();
      throw e;
    }
    Meters.bind(vertx, registry);
    return vertx;
  }

  /** The Hazelcast address this Vert.x member bound, {@code host:port}. */
  public static String memberAddress(Vertx vertx) {
    HazelcastClusterManager cm = (HazelcastClusterManager) ((io.vertx.core.internal.VertxInternal) vertx).clusterManager();
    var a = cm.getHazelcastInstance().getCluster().getLocalMember().getAddress();
    return a.getHost() + ":" + a.getPort();
  }

  /** The Hazelcast port this Vert.x member bound (for seeding the next member in tests). */
  public static int memberPort(Vertx vertx) {
    String a = memberAddress(vertx);
    return Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
  }
}
