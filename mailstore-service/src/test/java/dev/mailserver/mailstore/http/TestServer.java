package dev.mailserver.mailstore.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.mailstore.MailstoreVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * A real {@link MailstoreVerticle} on a temporary data directory, listening on loopback port 0,
 * with a JDK HTTP client to talk to it and the bus client to deliver mail.
 */
final class TestServer implements AutoCloseable {

  static final String TOKEN = "test-admin-token-0123456789abcdef";
  static final String DOMAIN = "example.test";

  final Vertx vertx;
  final MailstoreVerticle verticle;
  final MailstoreClient client;
  final int port;
  final Path dataDir;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /**
   * @param adminToken "" for none
   * @param accounts   address -> clear password
   * @param throttle   http.authThrottle settings, or null for no delays at all (tests that are not about throttling)
   */
  TestServer(Path dataDir, String adminToken, Map<String, String> accounts, JsonObject throttle) {
    this.dataDir = dataDir;
    this.vertx = Vertx.vertx();
    JsonArray acc = new JsonArray();
    accounts.forEach((a, p) -> acc.add(new JsonObject().put("address", a).put("password", p)));
    JsonObject th = throttle != null ? throttle
        : new JsonObject().put("baseDelayMs", 0).put("maxDelayMs", 0).put("lockoutAfter", 1_000_000);
    JsonObject config = new JsonObject()
        .put("hostname", "mail.example.test")
        .put("domains", new JsonArray().add(DOMAIN).add("other.test"))
        .put("dataDir", dataDir.toString())
        .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0).put("adminToken", adminToken)
            .put("authThrottle", th))
        .put("accounts", acc);
    this.verticle = cheapVerticle();
    vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)).await();
    this.port = verticle.actualHttpPort();
    this.client = new MailstoreClient(vertx, 10_000);
  }

  /** The package-private constructor with bcrypt cost 4: hashing at the default cost would make the suite slow. */
  private static MailstoreVerticle cheapVerticle() {
    try {
      Constructor<MailstoreVerticle> c = MailstoreVerticle.class.getDeclaredConstructor(int.class);
      c.setAccessible(true);
      return c.newInstance(4);
    } catch (ReflectiveOperationException e) {
      return new MailstoreVerticle();
    }
  }

  @Override
  public void close() {
    vertx.close().await();
  }

  // ------------------------------------------------------------------------------ mail

  static byte[] fixture(String name) {
    try (InputStream in = TestServer.class.getResourceAsStream("/messages/" + name)) {
      assertThat(in).as(name).isNotNull();
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Delivers and returns the stored message id. */
  String deliver(String mailbox, byte[] message) {
    DeliverResult r = client.deliver(new DeliverRequest("T" + System.nanoTime(), "sender@example.org",
        List.of(mailbox), Buffer.buffer(message))).await();
    return r.stored().get(0).messageId();
  }

  String deliver(String mailbox, String message) {
    return deliver(mailbox, message.getBytes(StandardCharsets.UTF_8));
  }

  static String simple(String subject, String from, String body) {
    return "From: " + from + "\r\nTo: someone@example.test\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n";
  }

  // ------------------------------------------------------------------------------ HTTP

  static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  static String bearer(String token) {
    return "Bearer " + token;
  }

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  HttpResponse<byte[]> send(String method, String path, String authorization, String jsonBody) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
        .method(method, jsonBody == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(jsonBody));
    if (jsonBody != null) {
      b.header("Content-Type", "application/json");
    }
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  HttpResponse<byte[]> get(String path, String authorization) {
    return send("GET", path, authorization, null);
  }

  /** GET expecting 200 and a JSON object. */
  JsonObject getJson(String path, String authorization) {
    HttpResponse<byte[]> r = get(path, authorization);
    assertThat(r.statusCode()).as(path + ": " + text(r)).isEqualTo(200);
    return json(r);
  }

  static JsonObject json(HttpResponse<byte[]> r) {
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(ct -> assertThat(ct).startsWith("application/json"));
    return new JsonObject(Buffer.buffer(r.body()));
  }

  static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  /** Asserts status and JSON error code, returning the response for more checks. */
  static HttpResponse<byte[]> assertError(HttpResponse<byte[]> r, int status, String code) {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
    JsonObject j = json(r);
    assertThat(j.getString("error")).isEqualTo(code);
    assertThat(j.getString("message")).isNotBlank();
    return r;
  }
}
