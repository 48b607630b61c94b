package dev.mailserver.deploy;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.MultiMapConfig;
import com.hazelcast.config.NetworkConfig;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds a clustered Vert.x on Hazelcast with a configuration made in code, so that no default
 * (multicast join, auto-detection, phone-home) can leak in from a missing cluster.xml.
 *
 * @param name          cluster name: only members with the same name join each other
 * @param host          the address Hazelcast and the event bus bind to and announce
 * @param hazelcastPort Hazelcast member port (0 picks a free one)
 * @param eventBusPort  event-bus TCP port (0 picks a free one)
 * @param members       tcp-ip seed members as {@code host:port}; empty for the first member
 * @param kubernetesServiceDns headless Service DNS name for Kubernetes discovery, or null
 */
public record Cluster(String name, String host, int hazelcastPort, int eventBusPort, List<String> members,
                      String kubernetesServiceDns) {

  public Cluster {
    members = List.copyOf(members);
  }

  /** The Hazelcast configuration: tcp-ip or Kubernetes join only, Vert.x's own maps kept. */
  public Config hazelcastConfig() {
    Config c = new Config();
    c.setClusterName(name);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    // The default 5 s wait before the first join makes every member start slowly; members of this
    // system are started by an orchestrator and find each other through explicit seeds.
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.shutdownhook.enabled", "false");
    NetworkConfig net = c.getNetworkConfig();
    net.setPort(hazelcastPort).setPortAutoIncrement(hazelcastPort != 0);
    JoinConfig join = net.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    if (kubernetesServiceDns != null && !kubernetesServiceDns.isBlank()) {
      join.getTcpIpConfig().setEnabled(false);
      join.getKubernetesConfig().setEnabled(true).setProperty("service-dns", kubernetesServiceDns);
    } else {
      join.getTcpIpConfig().setEnabled(true).setMembers(members.isEmpty() ? List.of(host) : members);
      if (isLoopback(host)) {
        // On one machine, never announce or bind anything but loopback.
        c.setProperty("hazelcast.socket.bind.any", "false");
        net.getInterfaces().setEnabled(true).addInterface(host);
      }
    }
    // Keep the entries of vertx-hazelcast's default-cluster.xml: the event-bus subscriptions and
    // node registries, each with one backup so a member loss does not lose them.
    c.addMultiMapConfig(new MultiMapConfig("__vertx.subs").setBackupCount(1)
        .setValueCollectionType(MultiMapConfig.ValueCollectionType.SET));
    c.addMapConfig(new MapConfig("__vertx.haInfo").setBackupCount(1));
    c.addMapConfig(new MapConfig("__vertx.nodeInfo").setBackupCount(1));
    return c;
  }

  private static boolean isLoopback(String host) {
    return host.startsWith("127.") || host.equals("::1") || host.equals("localhost");
  }

  /** Joins the cluster; blocks until joined (call off the event loop). */
  public Vertx start() throws Exception {
    VertxOptions options = new VertxOptions();
    options.getEventBusOptions().setHost(host).setPort(eventBusPort).setClusterPublicHost(host);
    HazelcastClusterManager cm = new HazelcastClusterManager(hazelcastConfig());
    return Vertx.builder().with(options).withClusterManager(cm).buildClustered().await(2, TimeUnit.MINUTES);
  }

  /** The Hazelcast port this Vert.x member bound (for seeding the next member in tests). */
  public static int memberPort(Vertx vertx) {
    HazelcastClusterManager cm = (HazelcastClusterManager) ((io.vertx.core.internal.VertxInternal) vertx).clusterManager();
    return cm.getHazelcastInstance().getCluster().getLocalMember().getAddress().getPort();
  }
}
