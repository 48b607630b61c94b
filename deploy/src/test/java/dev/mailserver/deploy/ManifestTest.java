package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.mailserver.deploy.Main.Role;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks deploy/k8s, deploy/Dockerfile and deploy/docker against the code: the configuration
 * schema ({@link ConfigLoader}), the roles ({@link Role}), the launcher's flags ({@link Main#usage()})
 * and the probe paths ({@link ManagementServer}). No cluster and no Docker daemon needed: the YAML
 * is read as data.
 */
class ManifestTest {

  /** Stands in for {@code status.podIP} from the downward API. */
  static final String SAMPLE_POD_IP = "10.244.1.23";

  /** The only paths a probe may ask: the management server's. */
  static final Set<String> PROBE_PATHS = Set.of(ManagementServer.LIVEZ, ManagementServer.READYZ);

  /**
   * Container port name -> the config key of the port it must equal. Every container port must
   * have one of these names: a new listener adds its name and key here.
   */
  static final Map<String, String> PORT_KEYS = orderedMap(
      "smtp", "smtp.port",
      "submission", "smtp.submissionPort",
      "smtps", "smtp.smtpsPort",
      "pop3", "pop3.port",
      "pop3s", "pop3.pop3sPort",
      "http", "http.port",
      "management", "management.port",
      "hazelcast", "cluster.port",
      "eventbus", "cluster.eventBus.port");

  /** Ports reachable only from the mail pods themselves. */
  static final Set<String> CLUSTER_PORTS = Set.of("hazelcast", "eventbus");

  /** The ports each role listens on, by container port name. */
  static final Map<Role, List<String>> ROLE_PORTS = new EnumMap<>(Map.of(
      Role.SMTP, List.of("smtp", "submission", "smtps"),
      Role.POP3, List.of("pop3", "pop3s"),
      Role.MAILSTORE, List.of("http")));

  /** Roles whose ports a LoadBalancer publishes to mail clients and other servers. */
  static final Set<Role> PUBLIC_ROLES = Set.of(Role.SMTP, Role.POP3);

  /** Well-known ports the Services publish (RFC 5321, RFC 6409, RFC 8314, RFC 1939). */
  static final Map<String, Integer> SERVICE_PORTS = Map.of("smtp", 25, "submission", 587, "smtps", 465, "pop3", 110, "pop3s", 995);

  /** Roles that speak TLS (STARTTLS, STLS, implicit TLS) and read the top-level tls section. */
  static final Map<Role, String> TLS_ROLE_SECTION = new EnumMap<>(Map.of(Role.SMTP, "smtp", Role.POP3, "pop3"));

  /** Config key -> the key of a kubernetes.io/tls Secret that must back that file. */
  static final Map<String, String> TLS_FILES = orderedMap("tls.certPath", "tls.crt", "tls.keyPath", "tls.key");

  static final Set<String> WORKLOAD_KINDS = Set.of("Deployment", "StatefulSet", "DaemonSet");

  @TempDir
  static Path tmp;

  static Path deployDir;
  static Path k8sDir;
  static JsonNode kustomization;
  static final List<Doc> docs = new ArrayList<>();
  static final List<Workload> workloads = new ArrayList<>();
  static final AtomicInteger fileCounter = new AtomicInteger();

  record Doc(Path file, JsonNode node) {
    String kind() {
      return node.path("kind").asText();
    }

    String name() {
      return node.path("metadata").path("name").asText();
    }

    @Override
    public String toString() {
      return kind() + "/" + name() + " (" + file.getFileName() + ")";
    }
  }

  record Workload(Doc doc, JsonNode podSpec, Map<String, String> labels) {
    List<JsonNode> containers() {
      return list(podSpec.path("containers"));
    }

    @Override
    public String toString() {
      return doc.toString();
    }
  }

  /** What one container runs: its arguments and the configuration the launcher would build. */
  record Effective(Workload workload, JsonNode container, Path configFile, Map<String, String> env,
                   List<Role> roles, boolean clusterFlag, JsonObject config, List<String> warnings) {
    String where() {
      return workload + " container " + container.path("name").asText();
    }

    long num(String dottedKey) {
      return ((Number) at(config, dottedKey)).longValue();
    }
  }

  @BeforeAll
  static void readManifests() throws IOException {
    Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    deployDir = Files.isDirectory(base.resolve("k8s")) ? base : base.resolve("deploy");
    k8sDir = deployDir.resolve("k8s");
    assertThat(k8sDir).as("deploy/k8s").isDirectory();
    YAMLMapper yaml = new YAMLMapper();
    List<Path> files;
    try (Stream<Path> s = Files.list(k8sDir)) {
      files = s.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml")).sorted().toList();
    }
    for (Path f : files) {
      List<JsonNode> nodes = yaml.readerFor(JsonNode.class).<JsonNode>readValues(f.toFile()).readAll();
      for (JsonNode n : nodes) {
        if (n == null || n.isMissingNode() || n.isNull() || n.isEmpty()) {
          continue;
        }
        if (n.path("kind").asText().equals("Kustomization")) {
          kustomization = n;
        } else {
          docs.add(new Doc(f, n));
        }
      }
    }
    assertThat(kustomization).as("a kustomization.yaml in deploy/k8s").isNotNull();
    for (Doc d : docs) {
      if (WORKLOAD_KINDS.contains(d.kind())) {
        JsonNode template = d.node().path("spec").path("template");
        workloads.add(new Workload(d, template.path("spec"), labels(template.path("metadata").path("labels"))));
      }
    }
    assertThat(workloads).as("workloads in deploy/k8s").isNotEmpty();
  }

  // ---------------------------------------------------------------- kustomize, ConfigMap, env

  @Test
  void kustomizationListsEveryManifestOnceInNamespaceMail() {
    Set<String> listed = new TreeSet<>();
    for (JsonNode r : list(kustomization.path("resources"))) {
      assertThat(listed.add(r.asText())).as("resource listed twice: " + r.asText()).isTrue();
      assertThat(k8sDir.resolve(r.asText())).as("resource " + r.asText()).isRegularFile();
    }
    Set<String> files = docs.stream().map(d -> d.file().getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    assertThat(listed).as("kustomization resources = the manifest files of deploy/k8s").isEqualTo(files);
    assertThat(namespace()).isEqualTo("mail");
    for (Doc d : docs) {
      assertThat(d.node().path("apiVersion").asText()).as(d + " apiVersion").isNotBlank();
      assertThat(d.name()).as(d + " metadata.name").isNotBlank();
      JsonNode ns = d.node().path("metadata").path("namespace");
      assertThat(ns.isMissingNode() || ns.asText().equals(namespace())).as(d + " namespace").isTrue();
    }
    Map<String, Long> names = docs.stream().collect(Collectors.groupingBy(Doc::toString, Collectors.counting()));
    names.forEach((n, c) -> assertThat(c).as("defined twice: " + n).isEqualTo(1));
  }

  @Test
  void configMapLoadsThroughConfigLoaderAndNamesTheHeadlessService() {
    assertThat(docsOf("ConfigMap")).isNotEmpty();
    Doc headless = headlessService();
    for (Doc cm : docsOf("ConfigMap")) {
      for (Iterator<Map.Entry<String, JsonNode>> it = cm.node().path("data").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getKey().endsWith(".json")) {
          continue;
        }
        List<String> warnings = new ArrayList<>();
        Path file = tmp.resolve("configmap-" + fileCounter.incrementAndGet() + ".json");
        JsonObject config = load(cm + " " + e.getKey(), e.getValue().asText(), file, Map.of(), warnings);
        assertThat(warnings).as(cm + " warnings").isEmpty();
        JsonObject cluster = config.getJsonObject("cluster");
        assertThat(cluster.getBoolean("enabled")).as(cm + " cluster.enabled").isTrue();
        assertThat(cluster.getJsonArray("members")).as(cm + " cluster.members (DNS discovery instead)").isEmpty();
        assertThat(cluster.getJsonObject("kubernetes").getString("serviceDns")).as(cm + " cluster.kubernetes.serviceDns")
            .isEqualTo(headless.name() + "." + namespace() + ".svc.cluster.local");
        assertThat(cluster.getInteger("port")).as(cm + " cluster.port: fixed").isPositive();
        assertThat(cluster.getJsonObject("eventBus").getInteger("port"))
            .as(cm + " cluster.eventBus.port: fixed, so that the NetworkPolicy can open it").isPositive();
        assertThat(Path.of(config.getString("dataDir"))).as(cm + " dataDir").isAbsolute();
      }
    }
  }

  @Test
  void everyMailVariableIsAConfigKeyAndLoadsWithoutWarnings() {
    Set<String> known = ConfigLoader.envNames(ConfigLoader.defaults()).keySet();
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        Effective e = effective(w, c);
        for (String name : e.env().keySet()) {
          if (name.startsWith(ConfigLoader.ENV_PREFIX)) {
            assertThat(known).as(e.where() + ": " + name + " is not a config key").contains(name);
          }
        }
        assertThat(e.warnings()).as(e.where() + " start-up warnings").isEmpty();
        assertThat(e.config().getJsonObject("cluster").getBoolean("enabled")).as(e.where() + " clustered").isTrue();
        assertThat(at(e.config(), "cluster.host")).as(e.where() + " cluster.host = pod IP").isEqualTo(SAMPLE_POD_IP);
        assertThat(at(e.config(), "cluster.eventBus.publicHost")).as(e.where() + " cluster.eventBus.publicHost = pod IP")
            .isEqualTo(SAMPLE_POD_IP);
        assertThat(e.env().get("JAVA_TOOL_OPTIONS")).as(e.where() + " JAVA_TOOL_OPTIONS").contains("-XX:MaxRAMPercentage=");
      }
    }
  }

  @Test
  void argumentsNameRealRolesFlagsAndTheMountedConfig() {
    Map<Role, List<String>> deployedBy = new EnumMap<>(Role.class);
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        // No command: the image's ENTRYPOINT (java -jar /app/mailserver.jar) runs, with these args.
        assertThat(c.has("command")).as(w + ": command overrides the image's java -jar entrypoint").isFalse();
        Effective e = effective(w, c); // resolves --config to a mounted ConfigMap key, or fails
        assertThat(e.roles()).as(e.where() + " --roles").isNotEmpty();
        assertThat(e.clusterFlag()).as(e.where() + " --cluster").isTrue();
        e.roles().forEach(r -> deployedBy.computeIfAbsent(r, k -> new ArrayList<>()).add(e.where()));
      }
    }
    for (Role r : Role.values()) {
      assertThat(deployedBy.get(r)).as("workloads running role " + r).hasSize(1);
    }
  }

  // ---------------------------------------------------------------- ports, Services, probes

  @Test
  void containerPortsAreTheConfiguredPorts() {
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        Effective e = effective(w, c);
        Map<String, Integer> ports = containerPorts(c);
        for (JsonNode p : list(c.path("ports"))) {
          String name = p.path("name").asText();
          assertThat(PORT_KEYS).as(e.where() + " port " + p + ": every port named after its config key").containsKey(name);
          assertThat(p.path("protocol").asText("TCP")).as(e.where() + " port " + name + " protocol").isEqualTo("TCP");
        }
        ports.forEach((name, number) -> assertThat(number.longValue())
            .as(e.where() + " containerPort " + name + " = " + PORT_KEYS.get(name))
            .isEqualTo(e.num(PORT_KEYS.get(name))));
        Set<String> required = new LinkedHashSet<>();
        e.roles().forEach(r -> required.addAll(ROLE_PORTS.get(r)));
        required.add("management");
        required.addAll(CLUSTER_PORTS);
        assertThat(ports.keySet()).as(e.where() + " exposes the ports of its roles").containsAll(required);
      }
    }
  }

  @Test
  void servicesTargetPortsOfThePodsTheySelect() {
    assertThat(docsOf("Service")).isNotEmpty();
    for (Doc s : docsOf("Service")) {
      Map<String, String> selector = labels(s.node().path("spec").path("selector"));
      assertThat(selector).as(s + " selector").isNotEmpty();
      List<Workload> selected = workloads.stream().filter(w -> w.labels().entrySet().containsAll(selector.entrySet())).toList();
      assertThat(selected).as(s + " selects pods").isNotEmpty();
      for (JsonNode p : list(s.node().path("spec").path("ports"))) {
        JsonNode target = p.has("targetPort") ? p.path("targetPort") : p.path("port");
        for (Workload w : selected) {
          assertThat(resolvePort(w, target)).as(s + " port " + p.path("name").asText() + " -> " + target + " in " + w).isPresent();
        }
        Integer wellKnown = SERVICE_PORTS.get(p.path("name").asText());
        if (wellKnown != null) {
          assertThat(p.path("port").asInt()).as(s + " port " + p.path("name").asText()).isEqualTo(wellKnown);
        }
      }
    }
    // SMTP and POP3 are published to the Internet, every listener on its well-known port.
    for (Role role : PUBLIC_ROLES) {
      Workload w = workloadWith(role);
      List<Doc> balancers = docsOf("Service").stream().filter(s -> s.node().path("spec").path("type").asText().equals("LoadBalancer"))
          .filter(s -> w.labels().entrySet().containsAll(labels(s.node().path("spec").path("selector")).entrySet())).toList();
      for (Doc lb : balancers) {
        // maxConnectionsPerIp and the login throttle count per client address: no SNAT to a node's.
        assertThat(lb.node().path("spec").path("externalTrafficPolicy").asText()).as(lb + " externalTrafficPolicy").isEqualTo("Local");
      }
      for (String name : ROLE_PORTS.get(role)) {
        Optional<Integer> container = resolvePort(w, new TextNode(name));
        assertThat(container).as(w + " container port " + name).isPresent();
        int wellKnown = SERVICE_PORTS.get(name);
        assertThat(balancers.stream().flatMap(s -> list(s.node().path("spec").path("ports")).stream())
            .anyMatch(p -> p.path("port").asInt() == wellKnown
                && resolvePort(w, p.has("targetPort") ? p.path("targetPort") : p.path("port")).equals(container)))
            .as("a LoadBalancer Service publishes " + name + " of " + w + " on " + wellKnown).isTrue();
      }
    }
    // Hazelcast discovery: every member, ready or not.
    Doc headless = headlessService();
    assertThat(headless.node().path("spec").path("publishNotReadyAddresses").asBoolean()).as(headless + " publishNotReadyAddresses").isTrue();
    Map<String, String> sel = labels(headless.node().path("spec").path("selector"));
    for (Workload w : workloads) {
      assertThat(w.labels().entrySet().containsAll(sel.entrySet())).as(headless + " selects " + w).isTrue();
    }
    assertThat(list(headless.node().path("spec").path("ports")).stream().map(p -> p.path("targetPort").asText()))
        .as(headless + " targets").contains("hazelcast");
  }

  @Test
  void workloadSelectorsMatchTheirPodTemplates() {
    for (Workload w : workloads) {
      JsonNode selector = w.doc().node().path("spec").path("selector");
      assertThat(selector.has("matchExpressions")).as(w + " selector: matchLabels only").isFalse();
      assertThat(w.labels().entrySet()).as(w + " template labels").containsAll(labels(selector.path("matchLabels")).entrySet());
      assertThat(labels(selector.path("matchLabels"))).as(w + " selector").isNotEmpty();
      if (w.doc().kind().equals("StatefulSet")) {
        String serviceName = w.doc().node().path("spec").path("serviceName").asText();
        assertThat(docsOf("Service").stream().map(Doc::name)).as(w + " serviceName").contains(serviceName);
      }
    }
  }

  @Test
  void probesAskTheManagementPort() {
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        Effective e = effective(w, c);
        assertThat(c.has("livenessProbe")).as(e.where() + " livenessProbe").isTrue();
        assertThat(c.has("readinessProbe")).as(e.where() + " readinessProbe").isTrue();
        assertThat(c.path("livenessProbe").path("httpGet").path("path").asText()).as(e.where() + " liveness")
            .isEqualTo(ManagementServer.LIVEZ);
        assertThat(c.path("readinessProbe").path("httpGet").path("path").asText()).as(e.where() + " readiness")
            .isEqualTo(ManagementServer.READYZ);
        for (String kind : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
          if (!c.has(kind)) {
            continue;
          }
          JsonNode get = c.path(kind).path("httpGet");
          assertThat(get.isMissingNode()).as(e.where() + " " + kind + " is an httpGet").isFalse();
          assertThat(PROBE_PATHS).as(e.where() + " " + kind + " path").contains(get.path("path").asText());
          if (get.path("port").isTextual()) {
            assertThat(get.path("port").asText()).as(e.where() + " " + kind + " port name").isEqualTo("management");
          }
          assertThat(resolvePort(w, get.path("port")).map(Integer::longValue)).as(e.where() + " " + kind + " port")
              .contains(e.num("management.port"));
        }
      }
    }
  }

  // ---------------------------------------------------------------- TLS

  @Test
  void tlsListenersUseTheMountedSecretAndRefusePlaintextLogins() {
    int checked = 0;
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        Effective e = effective(w, c);
        List<Role> tlsRoles = e.roles().stream().filter(TLS_ROLE_SECTION::containsKey).toList();
        if (tlsRoles.isEmpty()) {
          continue;
        }
        checked++;
        for (Role r : tlsRoles) {
          String key = TLS_ROLE_SECTION.get(r) + ".allowPlaintextAuth";
          assertThat(at(e.config(), key)).as(e.where() + " " + key + " (no password before STARTTLS/STLS)").isEqualTo(false);
        }
        assertThat(at(e.config(), "tls.enabled")).as(e.where() + " tls.enabled (else no SMTPS/POP3S listener)").isEqualTo(true);
        TLS_FILES.forEach((configKey, secretKey) -> {
          String path = (String) at(e.config(), configKey);
          // Empty: every replica would generate a self-signed certificate of its own.
          assertThat(path).as(e.where() + " " + configKey).isNotBlank();
          assertThat(Path.of(path)).as(e.where() + " " + configKey).isAbsolute();
          tlsSecretFile(w, c, e.where() + " " + configKey + " " + path, Path.of(path), secretKey);
        });
      }
    }
    assertThat(checked).as("containers running SMTP or POP3").isPositive();
  }

  /**
   * Asserts that {@code file} is the key {@code secretKey} of a kubernetes.io/tls Secret in
   * deploy/k8s, mounted read-only in container {@code c} and readable by its user.
   */
  static void tlsSecretFile(Workload w, JsonNode c, String what, Path file, String secretKey) {
    JsonNode mount = list(c.path("volumeMounts")).stream()
        .filter(m -> file.startsWith(Path.of(m.path("mountPath").asText())))
        .max((a, b) -> Integer.compare(a.path("mountPath").asText().length(), b.path("mountPath").asText().length()))
        .orElseThrow(() -> new AssertionError(what + " is on no volume mount"));
    Path mountPath = Path.of(mount.path("mountPath").asText());
    String rel;
    if (mount.has("subPath")) {
      assertThat(file).as(what + ": subPath mount " + mountPath).isEqualTo(mountPath);
      rel = mount.path("subPath").asText();
    } else {
      rel = mountPath.relativize(file).toString();
    }
    assertThat(rel).as(what + ": a file below mount " + mountPath + ", not the mount itself").isNotEmpty();
    assertThat(mount.path("readOnly").asBoolean()).as(what + ": mount " + mountPath + " readOnly").isTrue();
    String volumeName = mount.path("name").asText();
    JsonNode volume = list(w.podSpec().path("volumes")).stream()
        .filter(v -> v.path("name").asText().equals(volumeName)).findFirst()
        .orElseThrow(() -> new AssertionError(what + ": no volume " + volumeName + " in " + w));
    JsonNode secret = volume.path("secret");
    assertThat(secret.isMissingNode()).as(what + ": mounted from volume " + volumeName + " (at " + mountPath + "), not from a Secret volume").isFalse();
    assertThat(secret.path("optional").asBoolean(false)).as(what + ": Secret volume " + volumeName + " optional").isFalse();
    String key = rel;
    JsonNode item = null;
    if (secret.has("items")) {
      String r = rel;
      item = list(secret.path("items")).stream().filter(i -> i.path("path").asText().equals(r)).findFirst()
          .orElseThrow(() -> new AssertionError(what + ": Secret volume " + volumeName + " has no item at " + r));
      key = item.path("key").asText();
    }
    assertThat(key).as(what + ": key of Secret volume " + volumeName).isEqualTo(secretKey);
    String secretName = secret.path("secretName").asText();
    Doc doc = docsOf("Secret").stream().filter(d -> d.name().equals(secretName)).findFirst()
        .orElseThrow(() -> new AssertionError(what + ": Secret " + secretName + " is not in deploy/k8s"));
    assertThat(doc.node().path("type").asText()).as(doc + " type").isEqualTo("kubernetes.io/tls");
    assertThat(allKeys("Secret", secretName)).as(doc + " keys").containsKey(secretKey);
    // The files belong to root; the server runs as runAsUser and reads them through fsGroup or "other".
    int mode = item != null && item.has("mode") ? item.path("mode").asInt() : secret.path("defaultMode").asInt(0644);
    JsonNode fsGroup = w.podSpec().path("securityContext").path("fsGroup");
    boolean readable = (mode & 04) != 0 || (fsGroup.canConvertToLong() && (mode & 040) != 0);
    assertThat(readable).as(what + ": mode 0" + Integer.toOctalString(mode) + ", fsGroup " + fsGroup
        + ": readable by uid " + runAsUser(w, c)).isTrue();
  }

  // ---------------------------------------------------------------- pod hardening, lifecycle

  @Test
  void podsAreHardenedAndBounded() {
    for (Workload w : workloads) {
      JsonNode spec = w.podSpec();
      assertThat(spec.path("enableServiceLinks").isBoolean() && !spec.path("enableServiceLinks").asBoolean())
          .as(w + " enableServiceLinks: false (else MAIL_<SERVICE>_PORT=tcp://... collides with MAIL_* config)").isTrue();
      Map<String, String> emptyDirs = new LinkedHashMap<>();
      list(spec.path("volumes")).forEach(v -> {
        if (v.has("emptyDir")) {
          emptyDirs.put(v.path("name").asText(), "emptyDir");
        }
      });
      for (JsonNode c : w.containers()) {
        String where = w + " container " + c.path("name").asText();
        JsonNode psc = spec.path("securityContext");
        JsonNode csc = c.path("securityContext");
        boolean nonRoot = csc.has("runAsNonRoot") ? csc.path("runAsNonRoot").asBoolean() : psc.path("runAsNonRoot").asBoolean();
        assertThat(nonRoot).as(where + " runAsNonRoot").isTrue();
        assertThat(runAsUser(w, c)).as(where + " runAsUser").isPositive();
        assertThat(csc.path("readOnlyRootFilesystem").asBoolean()).as(where + " readOnlyRootFilesystem").isTrue();
        assertThat(csc.path("allowPrivilegeEscalation").asBoolean(true)).as(where + " allowPrivilegeEscalation").isFalse();
        assertThat(list(c.path("volumeMounts")).stream()
            .anyMatch(m -> m.path("mountPath").asText().equals("/tmp") && emptyDirs.containsKey(m.path("name").asText())))
            .as(where + " /tmp on an emptyDir (read-only root)").isTrue();
        for (String section : List.of("requests", "limits")) {
          for (String res : List.of("cpu", "memory")) {
            assertThat(c.path("resources").path(section).path(res).asText()).as(where + " resources." + section + "." + res).isNotBlank();
          }
        }
        assertThat(list(c.path("ports")).stream().map(p -> p.path("name").asText()))
            .as(where + " every container port is named").doesNotContain("");
      }
    }
  }

  @Test
  void smtpOutlivesItsDrain() {
    Workload w = workloadWith(Role.SMTP);
    JsonNode c = w.containers().stream().filter(x -> effective(w, x).roles().contains(Role.SMTP)).findFirst().orElseThrow();
    Effective e = effective(w, c);
    JsonNode preStop = c.path("lifecycle").path("preStop");
    assertThat(preStop.isMissingNode()).as(e.where() + " preStop (endpoints go before SIGTERM)").isFalse();
    long sleep = preStopSleepSeconds(preStop);
    assertThat(sleep).as(e.where() + " preStop sleep").isPositive();
    long grace = w.podSpec().path("terminationGracePeriodSeconds").asLong(30);
    // MailServer.close() is bounded by the SMTP grace plus its margin; SIGKILL must not come first.
    assertThat(grace).as(e.where() + " terminationGracePeriodSeconds > preStop sleep + smtp.shutdownGraceSeconds + close margin")
        .isGreaterThan(sleep + e.num("smtp.shutdownGraceSeconds") + MailServer.CLOSE_MARGIN_SECONDS);
  }

  @Test
  void mailstoreDataIsOnAPersistentVolumeSharedWhenReplicated() {
    Workload w = workloadWith(Role.MAILSTORE);
    int replicas = w.doc().node().path("spec").path("replicas").asInt(1);
    Set<String> templates = new LinkedHashSet<>();
    list(w.doc().node().path("spec").path("volumeClaimTemplates")).forEach(t -> templates.add(t.path("metadata").path("name").asText()));
    Map<String, String> claims = new LinkedHashMap<>(); // volume name -> claim name
    list(w.podSpec().path("volumes")).forEach(v -> {
      if (v.has("persistentVolumeClaim")) {
        claims.put(v.path("name").asText(), v.path("persistentVolumeClaim").path("claimName").asText());
      }
    });
    for (JsonNode c : w.containers()) {
      Effective e = effective(w, c);
      if (!e.roles().contains(Role.MAILSTORE)) {
        continue;
      }
      Path dataDir = Path.of(e.config().getString("dataDir"));
      JsonNode mount = list(c.path("volumeMounts")).stream()
          .filter(m -> dataDir.startsWith(Path.of(m.path("mountPath").asText())))
          .max((a, b) -> Integer.compare(a.path("mountPath").asText().length(), b.path("mountPath").asText().length()))
          .orElseThrow(() -> new AssertionError(e.where() + ": dataDir " + dataDir + " is on no volume (read-only root)"));
      String volume = mount.path("name").asText();
      assertThat(mount.path("readOnly").asBoolean()).as(e.where() + " dataDir writable").isFalse();
      if (replicas == 1) {
        assertThat(templates.contains(volume) || claims.containsKey(volume)).as(e.where() + " dataDir on a persistent volume").isTrue();
      } else {
        // Several instances share one data directory (MailstoreVerticle): one claim, mounted by all.
        assertThat(claims).as(e.where() + ": " + replicas + " replicas need dataDir on one shared claim, not a volumeClaimTemplate")
            .containsKey(volume);
        Doc pvc = docsOf("PersistentVolumeClaim").stream().filter(d -> d.name().equals(claims.get(volume))).findFirst()
            .orElseThrow(() -> new AssertionError("PersistentVolumeClaim " + claims.get(volume) + " is not in deploy/k8s"));
        assertThat(strings(pvc.node().path("spec").path("accessModes"))).as(pvc + " accessModes").contains("ReadWriteMany");
      }
    }
  }

  @Test
  void disruptionBudgetsAndSmtpAutoscaler() {
    List<Doc> pdbs = docsOf("PodDisruptionBudget");
    List<Doc> hpas = docsOf("HorizontalPodAutoscaler");
    for (Workload w : workloads) {
      List<Doc> mine = pdbs.stream().filter(p -> selects(p.node().path("spec").path("selector"), w)).toList();
      assertThat(mine).as("PodDisruptionBudget for " + w).hasSize(1);
      Optional<Doc> hpa = hpas.stream().filter(h -> targets(h, w)).findFirst();
      int minReplicas = hpa.map(h -> h.node().path("spec").path("minReplicas").asInt(1))
          .orElse(w.doc().node().path("spec").path("replicas").asInt(1));
      JsonNode minAvailable = mine.get(0).node().path("spec").path("minAvailable");
      if (minAvailable.isInt()) {
        assertThat(minAvailable.asInt()).as(mine.get(0) + " minAvailable < replicas (else no node can drain)").isLessThan(minReplicas);
      }
    }
    Workload smtp = workloadWith(Role.SMTP);
    Doc hpa = hpas.stream().filter(h -> targets(h, smtp)).findFirst().orElseThrow(() -> new AssertionError("no HPA for " + smtp));
    assertThat(hpa.node().path("apiVersion").asText()).isEqualTo("autoscaling/v2");
    assertThat(list(hpa.node().path("spec").path("metrics")).stream()
        .anyMatch(m -> m.path("type").asText().equals("Resource") && m.path("resource").path("name").asText().equals("cpu")))
        .as(hpa + " scales on CPU").isTrue();
    assertThat(smtp.doc().node().has("spec") && smtp.doc().node().path("spec").has("replicas"))
        .as(smtp + " sets no replicas (the HPA owns them; every apply would reset them)").isFalse();
    for (JsonNode c : smtp.containers()) {
      assertThat(c.path("resources").path("requests").path("cpu").asText()).as(smtp + " CPU request (HPA utilization)").isNotBlank();
    }
  }

  @Test
  void networkPolicyOpensExactlyTheContainerPorts() {
    List<Doc> policies = docsOf("NetworkPolicy");
    assertThat(policies).isNotEmpty();
    for (Doc p : policies) {
      assertThat(workloads.stream().anyMatch(w -> selects(p.node().path("spec").path("podSelector"), w))).as(p + " selects pods").isTrue();
      assertThat(list(p.node().path("spec").path("policyTypes")).stream().map(JsonNode::asText)).as(p + " policyTypes").contains("Ingress");
    }
    for (Workload w : workloads) {
      Set<Integer> exposed = new TreeSet<>();
      Map<Integer, String> names = new TreeMap<>();
      w.containers().forEach(c -> containerPorts(c).forEach((n, num) -> {
        exposed.add(num);
        names.put(num, n);
      }));
      Set<Integer> opened = new TreeSet<>();
      List<Doc> mine = policies.stream().filter(p -> selects(p.node().path("spec").path("podSelector"), w)).toList();
      assertThat(mine).as("NetworkPolicy for " + w).isNotEmpty();
      for (Doc p : mine) {
        for (JsonNode rule : list(p.node().path("spec").path("ingress"))) {
          List<JsonNode> ports = list(rule.path("ports"));
          assertThat(ports).as(p + " ingress rule without ports opens every port").isNotEmpty();
          for (JsonNode port : ports) {
            assertThat(port.path("protocol").asText("TCP")).as(p + " protocol").isEqualTo("TCP");
            assertThat(port.has("endPort")).as(p + " port ranges").isFalse();
            Optional<Integer> n = resolvePort(w, port.path("port"));
            assertThat(n).as(p + " port " + port.path("port") + " is a container port of " + w).isPresent();
            opened.add(n.get());
            String portName = names.getOrDefault(n.get(), "");
            if (CLUSTER_PORTS.contains(portName)) {
              List<JsonNode> from = list(rule.path("from"));
              assertThat(from).as(p + " " + portName + ": only from the mail pods").isNotEmpty();
              for (JsonNode peer : from) {
                assertThat(peer.has("ipBlock") || peer.has("namespaceSelector")).as(p + " peer " + peer).isFalse();
                Map<String, String> sel = labels(peer.path("podSelector").path("matchLabels"));
                assertThat(sel).as(p + " peer podSelector").isNotEmpty();
                assertThat(peer.path("podSelector").has("matchExpressions")).as(p + " peer matchExpressions").isFalse();
                for (Workload other : workloads) {
                  assertThat(other.labels().entrySet()).as(p + " peer selects the mail pod " + other).containsAll(sel.entrySet());
                }
              }
            }
          }
        }
      }
      assertThat(opened).as("ports NetworkPolicies open to " + w + " = its container ports").isEqualTo(exposed);
    }
  }

  // ---------------------------------------------------------------- Dockerfile

  @Test
  void dockerfileBuildsTheJarAndRunsItAsNonRootOnAJre() throws Exception {
    List<String[]> instructions = dockerInstructions(deployDir.resolve("Dockerfile"));
    List<List<String[]>> stages = new ArrayList<>();
    for (String[] ins : instructions) {
      if (ins[0].equals("FROM")) {
        stages.add(new ArrayList<>());
      }
      assertThat(stages).as("Dockerfile starts with FROM (after ARGs)").isNotEmpty();
      stages.get(stages.size() - 1).add(ins);
    }
    assertThat(stages).as("multi-stage Dockerfile").hasSizeGreaterThanOrEqualTo(2);
    List<String[]> build = stages.get(0);
    List<String[]> runtime = stages.get(stages.size() - 1);
    String buildFrom = build.get(0)[1];
    assertThat(buildFrom).as("build stage").startsWith("maven:3.9-eclipse-temurin-17");
    String buildName = buildFrom.replaceFirst("(?i)^\\S+\\s+as\\s+", "").trim();
    assertThat(build.stream().filter(i -> i[0].equals("RUN")).map(i -> i[1]))
        .as("build stage runs mvn package").anyMatch(r -> r.matches("(?s).*\\bmvn\\b.*\\bpackage\\b.*"));
    String runtimeFrom = runtime.get(0)[1].split("\\s+")[0];
    assertThat(runtimeFrom).as("runtime image").matches("eclipse-temurin:17[\\w.-]*-jre[\\w.-]*");

    String user = last(runtime, "USER").orElseThrow(() -> new AssertionError("no USER in the runtime stage"));
    String uid = user.split(":")[0].trim();
    assertThat(uid).as("USER numeric (runAsNonRoot can verify only a numeric user)").matches("\\d+");
    assertThat(Long.parseLong(uid)).as("USER not root").isPositive();
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        assertThat(runAsUser(w, c)).as(w + " runAsUser = the image's USER (owner of /data)").isEqualTo(Long.parseLong(uid));
      }
    }

    ObjectMapper json = new ObjectMapper();
    List<String> entrypoint = json.readerForListOf(String.class).readValue(last(runtime, "ENTRYPOINT").orElseThrow());
    assertThat(entrypoint).as("ENTRYPOINT exec form").hasSizeGreaterThanOrEqualTo(3);
    assertThat(entrypoint.get(0)).as("ENTRYPOINT").matches("(.*/)?java");
    int jar = entrypoint.indexOf("-jar");
    assertThat(jar).as("ENTRYPOINT java -jar").isPositive();
    String jarPath = entrypoint.get(jar + 1);
    assertThat(jarPath).isEqualTo("/app/mailserver.jar");
    Map<String, String> copies = new LinkedHashMap<>(); // destination -> source
    for (String[] i : runtime) {
      if (i[0].equals("COPY")) {
        List<String> words = new ArrayList<>(List.of(i[1].trim().split("\\s+")));
        String from = words.stream().filter(x -> x.startsWith("--from=")).findFirst().map(x -> x.substring(7)).orElse("");
        words.removeIf(x -> x.startsWith("--"));
        copies.put(words.get(words.size() - 1), (from.isEmpty() ? "" : from + ":") + words.get(0));
      }
    }
    assertThat(copies.get(jarPath)).as("COPY of the shaded jar from the build stage to " + jarPath)
        .startsWith(buildName + ":").endsWith("deploy/target/mailserver.jar");

    List<String> cmd = json.readerForListOf(String.class).readValue(last(runtime, "CMD").orElseThrow());
    int cfg = cmd.indexOf("--config");
    assertThat(cfg).as("CMD --config").isNotNegative();
    String configPath = cmd.get(cfg + 1);
    assertThat(copies.get(configPath)).as("COPY of the default config to " + configPath).isEqualTo("deploy/docker/config.json");
    for (Workload w : workloads) {
      for (JsonNode c : w.containers()) {
        List<String> args = strings(c.path("args"));
        int at = args.indexOf("--config");
        assertThat(at).as(w + " passes --config").isNotNegative();
        assertThat(args.get(at + 1)).as(w + ": the manifests mount the config where the image expects it").isEqualTo(configPath);
      }
    }

    // The image documents every port its default configuration listens on, and keeps data on a volume.
    JsonObject defaults = ConfigLoader.load(deployDir.resolve("docker/config.json"), Map.of(), new ArrayList<>());
    List<Integer> exposed = runtime.stream().filter(i -> i[0].equals("EXPOSE"))
        .flatMap(i -> java.util.Arrays.stream(i[1].trim().split("\\s+")))
        .map(p -> Integer.parseInt(p.replaceFirst("/.*$", ""))).toList();
    for (String key : PORT_KEYS.values()) {
      String[] path = key.split("\\.");
      JsonObject section = defaults;
      for (int i = 0; i < path.length - 1; i++) {
        section = section.getJsonObject(path[i]);
      }
      int port = section.getInteger(path[path.length - 1]);
      if (port == -1) {
        continue; // listener off
      }
      assertThat(exposed).as("EXPOSE " + key).contains(port);
    }
    String volumes = runtime.stream().filter(i -> i[0].equals("VOLUME")).map(i -> i[1]).reduce("", String::concat);
    assertThat(volumes).as("VOLUME covers dataDir").contains(defaults.getString("dataDir"));
  }

  @Test
  void dockerDefaultConfigLoads() throws Exception {
    Path file = deployDir.resolve("docker/config.json");
    List<String> warnings = new ArrayList<>();
    JsonObject config = ConfigLoader.load(file, Map.of(), warnings);
    assertThat(warnings).isEmpty();
    assertThat(config.getJsonObject("cluster").getBoolean("enabled")).as("one process, all roles, by default").isFalse();
    assertThat(Path.of(config.getString("dataDir"))).isAbsolute();
    // `--cluster` with the pod-IP variables must work on the default config too.
    JsonObject clustered = ConfigLoader.load(file, Map.of("MAIL_CLUSTER_HOST", SAMPLE_POD_IP), warnings);
    assertThat(warnings).isEmpty();
    assertThat(clustered.getJsonObject("cluster").getJsonObject("eventBus").getInteger("port")).as("fixed event-bus port").isPositive();
  }

  // ---------------------------------------------------------------- helpers

  /** Arguments, env and configuration of one container, as the launcher would see them. */
  static Effective effective(Workload w, JsonNode c) {
    String where = w + " container " + c.path("name").asText();
    List<String> args = strings(c.path("args"));
    Main.Args parsed;
    try {
      parsed = Main.parseArgs(args.toArray(String[]::new));
    } catch (ConfigException e) {
      throw new AssertionError(where + ": the launcher rejects its arguments: " + e.getMessage(), e);
    }
    String configPath = parsed.configFile() == null ? null : parsed.configFile().toString();
    List<Role> roles = parsed.roles();
    boolean cluster = parsed.cluster();
    assertThat(args).as(where + ": --roles is explicit").contains("--roles");
    assertThat(configPath).as(where + " --config").isNotNull();
    String text = mountedConfigMapKey(w, c, configPath);
    Map<String, String> env = env(w, c);
    List<String> warnings = new ArrayList<>();
    Path file = tmp.resolve("config-" + fileCounter.incrementAndGet() + ".json");
    JsonObject config = load(where + " --config " + configPath, text, file, env, warnings);
    if (cluster) {
      config.getJsonObject("cluster").put("enabled", true); // what Main does for --cluster
    }
    return new Effective(w, c, file, env, roles, cluster, config, warnings);
  }

  /** Writes {@code text} to {@code file} and loads it as the launcher does; a ConfigException fails the test. */
  static JsonObject load(String what, String text, Path file, Map<String, String> env, List<String> warnings) {
    try {
      Files.writeString(file, text, StandardCharsets.UTF_8);
      return ConfigLoader.load(file, env, warnings);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ConfigException e) {
      throw new AssertionError(what + " (with the container's environment) does not load: " + e.getMessage(), e);
    }
  }

  /** The text of the ConfigMap key mounted at {@code path} in this container, or a failed test. */
  static String mountedConfigMapKey(Workload w, JsonNode c, String path) {
    Path file = Path.of(path);
    JsonNode mount = list(c.path("volumeMounts")).stream()
        .filter(m -> file.startsWith(Path.of(m.path("mountPath").asText())))
        .max((a, b) -> Integer.compare(a.path("mountPath").asText().length(), b.path("mountPath").asText().length()))
        .orElseThrow(() -> new AssertionError(w + ": --config " + path + " is on no volume mount"));
    String rel = Path.of(mount.path("mountPath").asText()).relativize(file).toString();
    if (mount.has("subPath")) {
      rel = mount.path("subPath").asText();
    }
    JsonNode volume = list(w.podSpec().path("volumes")).stream()
        .filter(v -> v.path("name").asText().equals(mount.path("name").asText())).findFirst()
        .orElseThrow(() -> new AssertionError(w + ": no volume " + mount.path("name").asText()));
    JsonNode cm = volume.path("configMap");
    assertThat(cm.isMissingNode()).as(w + ": --config " + path + " comes from a ConfigMap volume").isFalse();
    String key = rel;
    if (cm.has("items")) {
      String r = rel;
      key = list(cm.path("items")).stream().filter(i -> i.path("path").asText().equals(r)).findFirst()
          .map(i -> i.path("key").asText())
          .orElseThrow(() -> new AssertionError(w + ": ConfigMap volume has no item at " + r));
    }
    String k = key;
    Doc map = docsOf("ConfigMap").stream().filter(d -> d.name().equals(cm.path("name").asText())).findFirst()
        .orElseThrow(() -> new AssertionError(w + ": ConfigMap " + cm.path("name").asText() + " is not in deploy/k8s"));
    JsonNode value = map.node().path("data").path(k);
    assertThat(value.isTextual()).as(map + " has key " + k).isTrue();
    return value.asText();
  }

  /** The container's environment with downward-API and Secret/ConfigMap references resolved. */
  static Map<String, String> env(Workload w, JsonNode c) {
    Map<String, String> env = new LinkedHashMap<>();
    for (JsonNode from : list(c.path("envFrom"))) {
      String prefix = from.path("prefix").asText("");
      for (String kind : List.of("configMapRef", "secretRef")) {
        if (from.has(kind)) {
          Map<String, String> all = allKeys(kind.equals("secretRef") ? "Secret" : "ConfigMap", from.path(kind).path("name").asText());
          all.forEach((k, v) -> env.put(prefix + k, v));
        }
      }
    }
    for (JsonNode e : list(c.path("env"))) {
      String name = e.path("name").asText();
      if (e.has("value")) {
        env.put(name, e.path("value").asText());
        continue;
      }
      JsonNode vf = e.path("valueFrom");
      if (vf.has("fieldRef")) {
        String field = vf.path("fieldRef").path("fieldPath").asText();
        env.put(name, field.equals("status.podIP") ? SAMPLE_POD_IP : "sample-" + field);
      } else if (vf.has("resourceFieldRef")) {
        env.put(name, "1");
      } else {
        String kind = vf.has("secretKeyRef") ? "Secret" : "ConfigMap";
        JsonNode ref = vf.has("secretKeyRef") ? vf.path("secretKeyRef") : vf.path("configMapKeyRef");
        String value = allKeys(kind, ref.path("name").asText()).get(ref.path("key").asText());
        if (value != null) {
          env.put(name, value);
        } else {
          assertThat(ref.path("optional").asBoolean()).as(w + " env " + name + ": " + kind + " key " + ref + " exists or is optional").isTrue();
        }
      }
    }
    return env;
  }

  static Map<String, String> allKeys(String kind, String name) {
    Map<String, String> out = new LinkedHashMap<>();
    docsOf(kind).stream().filter(d -> d.name().equals(name)).forEach(d -> {
      d.node().path("data").fields().forEachRemaining(f -> out.put(f.getKey(),
          kind.equals("Secret") ? new String(Base64.getDecoder().decode(f.getValue().asText()), StandardCharsets.UTF_8) : f.getValue().asText()));
      d.node().path("stringData").fields().forEachRemaining(f -> out.put(f.getKey(), f.getValue().asText()));
    });
    return out;
  }

  /** Named container ports of one container: name -> number. */
  static Map<String, Integer> containerPorts(JsonNode c) {
    Map<String, Integer> out = new LinkedHashMap<>();
    for (JsonNode p : list(c.path("ports"))) {
      if (p.hasNonNull("name")) {
        out.put(p.path("name").asText(), p.path("containerPort").asInt());
      }
    }
    return out;
  }

  /** A port reference (name or number) resolved against the pod's containers. */
  static Optional<Integer> resolvePort(Workload w, JsonNode ref) {
    for (JsonNode c : w.containers()) {
      for (JsonNode p : list(c.path("ports"))) {
        if (ref.isTextual() && !ref.asText().matches("\\d+") ? p.path("name").asText().equals(ref.asText())
            : p.path("containerPort").asInt() == ref.asInt()) {
          return Optional.of(p.path("containerPort").asInt());
        }
      }
    }
    return Optional.empty();
  }

  static long runAsUser(Workload w, JsonNode c) {
    JsonNode csc = c.path("securityContext");
    return csc.has("runAsUser") ? csc.path("runAsUser").asLong() : w.podSpec().path("securityContext").path("runAsUser").asLong(0);
  }

  static final Pattern SLEEP = Pattern.compile("(?:^|[\\s;&])sleep\\s+(\\d+)");

  static long preStopSleepSeconds(JsonNode preStop) {
    if (preStop.has("sleep")) {
      return preStop.path("sleep").path("seconds").asLong();
    }
    Matcher m = SLEEP.matcher(String.join(" ", strings(preStop.path("exec").path("command"))));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  static Workload workloadWith(Role role) {
    return workloads.stream().filter(w -> w.containers().stream().anyMatch(c -> effective(w, c).roles().contains(role)))
        .findFirst().orElseThrow(() -> new AssertionError("no workload runs " + role));
  }

  static boolean selects(JsonNode labelSelector, Workload w) {
    assertThat(labelSelector.has("matchExpressions")).as("matchExpressions are not checked by this test").isFalse();
    return w.labels().entrySet().containsAll(labels(labelSelector.path("matchLabels")).entrySet());
  }

  static boolean targets(Doc hpa, Workload w) {
    JsonNode ref = hpa.node().path("spec").path("scaleTargetRef");
    return ref.path("kind").asText().equals(w.doc().kind()) && ref.path("name").asText().equals(w.doc().name());
  }

  static Doc headlessService() {
    List<Doc> headless = docsOf("Service").stream()
        .filter(s -> s.node().path("spec").path("clusterIP").asText().equals("None")).toList();
    assertThat(headless).as("one headless Service (Hazelcast discovery)").hasSize(1);
    return headless.get(0);
  }

  static String namespace() {
    return kustomization.path("namespace").asText();
  }

  static List<Doc> docsOf(String kind) {
    return docs.stream().filter(d -> d.kind().equals(kind)).toList();
  }

  static Map<String, String> labels(JsonNode node) {
    Map<String, String> out = new TreeMap<>();
    node.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    return out;
  }

  static List<JsonNode> list(JsonNode node) {
    List<JsonNode> out = new ArrayList<>();
    if (node != null && node.isArray()) {
      node.forEach(out::add);
    }
    return out;
  }

  static List<String> strings(JsonNode node) {
    return list(node).stream().map(JsonNode::asText).toList();
  }

  static Object at(JsonObject config, String dotted) {
    String[] parts = dotted.split("\\.");
    JsonObject o = config;
    for (int i = 0; i < parts.length - 1; i++) {
      o = o.getJsonObject(parts[i]);
    }
    return o.getValue(parts[parts.length - 1]);
  }

  static Optional<String> last(List<String[]> stage, String instruction) {
    String v = null;
    for (String[] i : stage) {
      if (i[0].equals(instruction)) {
        v = i[1];
      }
    }
    return Optional.ofNullable(v);
  }

  /** Dockerfile instructions as {KEYWORD, rest}, continuation lines joined, comments dropped. */
  static List<String[]> dockerInstructions(Path dockerfile) throws IOException {
    List<String[]> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (String line : Files.readAllLines(dockerfile, StandardCharsets.UTF_8)) {
      String t = line.strip();
      if (t.startsWith("#") || (t.isEmpty() && cur.length() == 0)) {
        continue;
      }
      if (t.endsWith("\\")) {
        cur.append(t, 0, t.length() - 1).append(' ');
        continue;
      }
      cur.append(t);
      String s = cur.toString().strip();
      cur.setLength(0);
      if (s.isEmpty()) {
        continue;
      }
      String[] kv = s.split("\\s+", 2);
      String rest = kv.length > 1 ? kv[1] : "";
      if (kv[0].equalsIgnoreCase("HEALTHCHECK") || kv[0].equalsIgnoreCase("RUN")) {
        rest = rest.replaceAll("^(--[\\w-]+=\\S+\\s+)+", "");
      }
      out.add(new String[] {kv[0].toUpperCase(java.util.Locale.ROOT), rest});
    }
    return out;
  }

  static Map<String, String> orderedMap(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return java.util.Collections.unmodifiableMap(m);
  }
}
