package dev.mailserver.smtp;

import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * One Vert.x per test class; a fresh FakeMailstore (on that same Vert.x) and fresh SMTP verticles
 * per test, all on loopback with ephemeral ports.
 */
abstract class TestSupport {
  static final String HOST = "mail.example.test";
  static final List<String> ACCOUNTS = List.of("alice@example.test", "bob@example.test", "postmaster@example.test",
      "carol@other.test");
  /** Every test account's password in the fake store. */
  static final String PASSWORD = "secret";
  /** The last line of the EHLO reply on the MX port before TLS (TLS is on by default: STARTTLS is offered). */
  static final String EHLO_LAST = "250 STARTTLS";

  static Vertx vertx;
  FakeMailstore store;
  private final List<String> deployments = new ArrayList<>();
  private final List<java.io.Closeable> clients = new ArrayList<>();

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void startStore() throws Exception {
    store = newStore();
    store.start().await(5, TimeUnit.SECONDS);
  }

  static FakeMailstore newStore() {
    FakeMailstore s = new FakeMailstore(vertx);
    ACCOUNTS.forEach(a -> s.addAccount(a, PASSWORD));
    return s;
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (java.io.Closeable c : clients) {
      c.close();
    }
    for (String id : deployments) {
      vertx.undeploy(id).await(5, TimeUnit.SECONDS);
    }
    store.stop().await(5, TimeUnit.SECONDS);
  }

  /**
   * The system config the launcher would pass, with {@code smtp} overrides. The submission and
   * SMTPS listeners are off unless a test turns them on (port 0); TLS is on (self-signed).
   */
  static JsonObject config(JsonObject smtpOverrides) {
    JsonObject smtp = new JsonObject().put("host", "127.0.0.1").put("port", 0).put("storeTimeoutMs", 2000)
        .put("submissionPort", -1).put("smtpsPort", -1)
        .mergeIn(smtpOverrides);
    return new JsonObject()
        .put("hostname", HOST)
        .put("domains", new JsonArray().add("example.test").add("other.test"))
        .put("smtp", smtp)
        .put("pop3", new JsonObject().put("port", 0));
  }

  /** The system config with {@code smtp} overrides and top-level overrides (e.g. {@code tls}). */
  static JsonObject config(JsonObject smtpOverrides, JsonObject rootOverrides) {
    return config(smtpOverrides).mergeIn(rootOverrides);
  }

  /** Deploys an SMTP verticle with top-level overrides too; the clean-up undeploys it. */
  Deployed deployVerticle(JsonObject smtpOverrides, JsonObject rootOverrides) throws Exception {
    SmtpVerticle v = new SmtpVerticle();
    String id = vertx.deployVerticle(v, new DeploymentOptions().setConfig(config(smtpOverrides, rootOverrides)))
        .await(10, TimeUnit.SECONDS);
    deployments.add(id);
    return new Deployed(v, id, v.actualPort());
  }

  /** All three listeners on ephemeral ports, with these extra {@code smtp} settings. */
  Deployed deployAll(JsonObject smtpOverrides) throws Exception {
    return deployVerticle(new JsonObject().put("submissionPort", 0).put("smtpsPort", 0).mergeIn(smtpOverrides), new JsonObject());
  }

  /** A plaintext client that has read the greeting; closed by the clean-up. */
  SmtpClient client(int port) throws IOException {
    SmtpClient c = SmtpClient.plain(port);
    clients.add(c);
    checkGreeting(c.smtp());
    return c;
  }

  /** An implicit-TLS client (SMTPS) that has read the greeting; closed by the clean-up. */
  SmtpClient tlsClient(int port) throws IOException {
    SmtpClient c = SmtpClient.implicitTls(port);
    clients.add(c);
    checkGreeting(c.smtp());
    return c;
  }

  private static void checkGreeting(String greeting) {
    if (!greeting.startsWith("220 " + HOST + " ESMTP")) {
      throw new AssertionError("bad greeting: " + greeting);
    }
  }

  /** Deploys an SMTP verticle; returns its port. */
  int deploy(JsonObject smtpOverrides) throws Exception {
    SmtpVerticle v = new SmtpVerticle();
    String id = vertx.deployVerticle(v, new DeploymentOptions().setConfig(config(smtpOverrides))).await(5, TimeUnit.SECONDS);
    deployments.add(id);
    return v.actualPort();
  }

  int deploy() throws Exception {
    return deploy(new JsonObject());
  }

  /** A deployed SMTP verticle that the test undeploys itself. */
  record Deployed(SmtpVerticle verticle, String id, int port) {}

  Deployed deployVerticle(JsonObject smtpOverrides) throws Exception {
    SmtpVerticle v = new SmtpVerticle();
    String id = vertx.deployVerticle(v, new DeploymentOptions().setConfig(config(smtpOverrides))).await(5, TimeUnit.SECONDS);
    deployments.add(id);
    return new Deployed(v, id, v.actualPort());
  }

  /** Starts undeploying (does not wait); the clean-up will not undeploy it again. */
  Future<Void> undeploy(Deployed d) {
    deployments.remove(d.id());
    return vertx.undeploy(d.id());
  }

  /** Connects and reads the greeting. */
  LineClient connect(int port) throws IOException {
    LineClient c = new LineClient("127.0.0.1", port);
    clients.add(c);
    String greeting = c.smtp();
    if (!greeting.startsWith("220 " + HOST + " ESMTP")) {
      throw new AssertionError("bad greeting: " + greeting);
    }
    return c;
  }

  /** Sends one command and returns the last line of the reply. */
  static String cmd(LineClient c, String line) throws IOException {
    return c.send(line).smtp();
  }

  static String text(Buffer b) {
    return b.toString(StandardCharsets.UTF_8);
  }

  /** The stored message without the Received header we prepend (the fake adds Return-Path too). */
  static String afterReceived(Buffer content) {
    String s = content.toString(StandardCharsets.ISO_8859_1);
    if (!s.startsWith("Received: ")) {
      throw new AssertionError("no Received header first: " + s);
    }
    // The header is folded with CRLF TAB; it ends at the first CRLF not followed by TAB.
    int i = 0;
    while (true) {
      int crlf = s.indexOf("\r\n", i);
      if (crlf < 0) {
        throw new AssertionError("unterminated Received header");
      }
      if (crlf + 2 >= s.length() || s.charAt(crlf + 2) != '\t') {
        return s.substring(crlf + 2);
      }
      i = crlf + 2;
    }
  }
}
