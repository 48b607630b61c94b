package dev.mailserver.pop3;

import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A POP3 server on an ephemeral loopback port with a FakeMailstore on the same Vert.x instance. */
final class TestServer implements AutoCloseable {

  static final String HOSTNAME = "mail.example.test";
  static final String ALICE = "alice@example.test";
  static final String ALICE_PASSWORD = "secret";
  static final String BOB = "bob@example.test";
  static final String BOB_PASSWORD = "hunter2";

  final Vertx vertx;
  /** Null when started without a store. */
  final FakeMailstore store;
  final int port;
  /** -1 when POP3S is off. */
  final int pop3sPort;
  final Pop3Verticle verticle;
  final String deploymentId;

  private TestServer(Vertx vertx, FakeMailstore store, Pop3Verticle verticle, String deploymentId) {
    this.vertx = vertx;
    this.store = store;
    this.verticle = verticle;
    this.deploymentId = deploymentId;
    this.port = verticle.actualPort();
    this.pop3sPort = verticle.actualPop3sPort();
  }

  static TestServer start() {
    return start(new JsonObject(), true);
  }

  /**
   * @param pop3 entries merged into the "pop3" config section. The defaults here differ from the
   *             production defaults in two ways: plaintext login is allowed (most dialogue tests are
   *             about other rules and speak plain text) and the POP3S listener is off (no fixed
   *             port). Tests of those rules set them explicitly.
   */
  static TestServer start(JsonObject pop3, boolean withStore) {
    return start(pop3, withStore, new Pop3Verticle());
  }

  static TestServer start(JsonObject pop3, boolean withStore, Pop3Verticle verticle) {
    return start(pop3, new JsonObject(), withStore, verticle);
  }

  /** @param root entries merged into the top level of the config (e.g. "tls") */
  static TestServer start(JsonObject pop3, JsonObject root, boolean withStore, Pop3Verticle verticle) {
    Vertx vertx = Vertx.vertx();
    try {
      FakeMailstore store = null;
      if (withStore) {
        store = new FakeMailstore(vertx).addAccount(ALICE, ALICE_PASSWORD).addAccount(BOB, BOB_PASSWORD);
        store.start().await();
      }
      JsonObject section = new JsonObject().put("host", "127.0.0.1").put("port", 0)
          .put("allowPlaintextAuth", true).put("pop3sPort", -1).mergeIn(pop3);
      JsonObject config = new JsonObject()
          .put("hostname", HOSTNAME)
          .put("domains", new JsonArray().add("example.test"))
          .put("pop3", section)
          .put("smtp", new JsonObject().put("port", 2525))
          .mergeIn(root);
      String id = vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)).await();
      return new TestServer(vertx, store, verticle, id);
    } catch (RuntimeException e) {
      vertx.close();
      throw e;
    }
  }

  String put(String mailbox, String content) {
    return store.put(mailbox, Buffer.buffer(content, StandardCharsets.ISO_8859_1.name()));
  }

  /** Connected client with the greeting already read. */
  LineClient connect() throws IOException {
    LineClient c = new LineClient("127.0.0.1", port);
    String greeting = c.readLine();
    if (greeting == null || !greeting.startsWith("+OK")) {
      throw new IOException("bad greeting: " + greeting);
    }
    return c;
  }

  /** Connected and logged in; returns the client and the PASS reply is checked to be +OK. */
  LineClient login(String user, String password) throws IOException {
    LineClient c = connect();
    c.send("USER " + user);
    String u = c.readLine();
    c.send("PASS " + password);
    String p = c.readLine();
    if (!u.startsWith("+OK") || !p.startsWith("+OK")) {
      c.close();
      throw new IOException("login failed: " + u + " / " + p);
    }
    return c;
  }

  LineClient loginAlice() throws IOException {
    return login(ALICE, ALICE_PASSWORD);
  }

  /** The maildrop lease map ({@link MaildropLock#MAP_NAME}). */
  AsyncMap<String, String> leases() {
    return MaildropLock.leases(vertx).await();
  }

  /** The token holding the lease on {@code mailbox}, or null. */
  String leaseHolder(String mailbox) {
    return leases().get(mailbox).await();
  }

  /** Undeploys the POP3 verticle (the store stays); returns how long it took. */
  Duration undeploy() {
    long t0 = System.nanoTime();
    vertx.undeploy(deploymentId).await();
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  @Override
  public void close() {
    vertx.close().await();
  }
}
