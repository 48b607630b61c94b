package dev.mailserver.mailstore.http;

import dev.mailserver.common.http.HttpServers;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MailstoreHttpApiTest {

  Vertx vertx;
  HttpServer server;
  final AtomicReference<Future<Boolean>> readiness = new AtomicReference<>(Future.succeededFuture(true));
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer(HttpServers.options())
        .requestHandler(new MailstoreHttpApi(vertx, readiness::get).router())
        .listen(0, "127.0.0.1").await();
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void readyzFollowsTheReadinessCheck() throws Exception {
    assertThat(get("/readyz").statusCode()).isEqualTo(200);
    readiness.set(Future.succeededFuture(false));
    assertThat(get("/readyz").statusCode()).isEqualTo(503);
    readiness.set(Future.failedFuture("store down"));
    HttpResponse<String> r = get("/readyz");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).contains("DOWN");
    // Liveness does not depend on the store.
    assertThat(get("/livez").statusCode()).isEqualTo(200);
  }

  @Test
  void unknownPathsAre404() throws Exception {
    assertThat(get("/nope").statusCode()).isEqualTo(404);
  }
}
