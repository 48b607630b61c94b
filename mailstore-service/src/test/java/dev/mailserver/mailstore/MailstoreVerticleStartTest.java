package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up behaviour: the demo account, restarts on the same data directory, bad configuration. */
class MailstoreVerticleStartTest {

  @TempDir
  Path dataDir;
  Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  JsonObject config() {
    return new JsonObject().put("dataDir", dataDir.toString())
        .put("domains", new JsonArray().add("example.test").add("second.test"))
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0));
  }

  /** Deploys, returns what went to stdout, undeploys. */
  String startAndStop(JsonObject config) {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      String id = vertx.deployVerticle(new MailstoreVerticle(), new DeploymentOptions().setConfig(config)).await();
      vertx.undeploy(id).await();
    } finally {
      System.setOut(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void demoAccountIsCreatedAndAnnouncedOnlyOnTheFirstStartWithoutAccounts() throws Exception {
    String first = startAndStop(config());

    Matcher m = Pattern.compile("password: ([A-Za-z0-9_-]{16,})").matcher(first);
    assertThat(first).contains("demo@example.test");
    assertThat(m.find()).as("banner with password in:%n%s", first).isTrue();
    String password = m.group(1);
    String accounts = Files.readString(dataDir.resolve("accounts.json"));
    assertThat(accounts).contains("demo@example.test").doesNotContain(password);

    String second = startAndStop(config());
    assertThat(second).doesNotContain(password).doesNotContain("demo account");
    assertThat(Files.readString(dataDir.resolve("accounts.json"))).isEqualTo(accounts);

    // The announced password works.
    String id = vertx.deployVerticle(new MailstoreVerticle(), new DeploymentOptions().setConfig(config())).await();
    assertThat(new MailstoreClient(vertx).authenticate("demo@example.test", password).await()).isEqualTo("demo@example.test");
    vertx.undeploy(id).await();
  }

  @Test
  void configuredAccountsMeanNoDemoAccount() throws Exception {
    String out = startAndStop(config().put("accounts", new JsonArray()
        .add(new JsonObject().put("address", "x@second.test").put("password", "$2a$04$" + "a".repeat(53)))));
    assertThat(out).doesNotContain("demo");
    assertThat(Files.readString(dataDir.resolve("accounts.json"))).doesNotContain("demo@").contains("x@second.test");
  }

  @Test
  void badConfigurationFailsTheDeploymentWithAClearMessage() {
    JsonObject bad = config().put("accounts", new JsonArray().add(new JsonObject().put("address", "x@other.test").put("password", "p")));
    assertThatThrownBy(() -> vertx.deployVerticle(new MailstoreVerticle(), new DeploymentOptions().setConfig(bad)).await())
        .hasMessageContaining("not in a configured domain");
    // Nothing stays registered after a failed start.
    assertThatThrownBy(() -> new MailstoreClient(vertx, 2000).ping().await())
        .isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(MailstoreError.UNAVAILABLE));
  }

  @Test
  void unusableDataDirectoryFailsTheStart() throws Exception {
    Path file = dataDir.resolve("file");
    Files.writeString(file, "x");
    assertThatThrownBy(() -> vertx.deployVerticle(new MailstoreVerticle(),
        new DeploymentOptions().setConfig(config().put("dataDir", file.toString()))).await())
        .isNotNull();
  }
}
