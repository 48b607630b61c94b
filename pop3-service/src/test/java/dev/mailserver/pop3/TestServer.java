package dev.mailserver.pop3;

import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

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

  private TestServer(Vertx vertx, FakeMailstore store, int port) {
    this.vertx = vertx;
    this.store = store;
    this.port = port;
  }

  static TestServer start() {
    return start(new JsonObject(), true);
  }

  /** @param pop3 entries merged into the "pop3" config section */
  static TestServer start(JsonObject pop3, boolean withStore) {
    Vertx vertx = Vertx.vertx();
    try {
      FakeMailstore store = null;
      if (withStore) {
        store = new FakeMailstore(vertx).addAccount(ALICE, ALICE_PASSWORD).addAccount(BOB, BOB_PASSWORD);
        store.start().await();
      }
      JsonObject section = new JsonObject().put("host", "127.0.0.1").put("port", 0).put("lockTimeoutMs", 200)
          .mergeIn(pop3);
      JsonObject config = new JsonObject()
          .put("hostname", HOSTNAME)
          .put("domains", new JsonArray().add("example.test"))
          .put("pop3", section)
          .put("smtp", new JsonObject().put("port", 2525));
      Pop3Verticle verticle = new Pop3Verticle();
      vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)).await();
      return new TestServer(vertx, store, verticle.actualPort());
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

  @Override
  public void close() {
    vertx.close().await();
  }
}
