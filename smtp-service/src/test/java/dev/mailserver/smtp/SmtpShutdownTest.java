package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.testing.LineClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Graceful drain on undeploy (SIGTERM): idle sessions get 421 4.3.2 (RFC 5321 section 3.8, RFC 3463
 * X.3.2) at once, transactions finish first, nothing acknowledged is lost, the grace is bounded.
 */
class SmtpShutdownTest extends TestSupport {

  /** True when nobody listens on the port any more (the connect is refused). */
  static boolean refused(int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      return false;
    } catch (ConnectException e) {
      return true;
    }
  }

  /** EHLO, MAIL, RCPT alice, DATA: the client is now sending content. */
  static void openData(LineClient c) throws IOException {
    assertThat(cmd(c, "EHLO client.example")).isEqualTo(EHLO_LAST);
    assertThat(cmd(c, "MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("250 2.1.5");
    assertThat(cmd(c, "DATA")).startsWith("354 ");
  }

  /** An idle session whose 421 proves the shutdown has reached the sessions. */
  static void awaitShutdownStarted(LineClient idleProbe) throws IOException {
    assertThat(idleProbe.smtp()).startsWith("421 4.3.2 ");
    assertThat(idleProbe.isClosedByServer()).isTrue();
  }

  @Test
  void idleSessionsGet421AndNewConnectionsAreRefused() throws Exception {
    Deployed d = deployVerticle(new JsonObject());
    assertThat(d.verticle().isListening()).isTrue();
    LineClient fresh = connect(d.port());
    LineClient greeted = connect(d.port());
    assertThat(cmd(greeted, "EHLO client.example")).isEqualTo(EHLO_LAST);
    LineClient afterTransaction = connect(d.port());
    openData(afterTransaction);
    afterTransaction.sendRaw("Subject: before\r\n\r\nx\r\n.\r\n");
    assertThat(afterTransaction.smtp()).startsWith("250 2.0.0");

    long t0 = System.nanoTime();
    Future<Void> undeploy = undeploy(d);
    for (LineClient c : new LineClient[] {fresh, greeted, afterTransaction}) {
      assertThat(c.smtp()).isEqualTo("421 4.3.2 " + HOST + " Service shutting down, closing transmission channel");
      assertThat(c.isClosedByServer()).isTrue();
    }
    undeploy.await(5, TimeUnit.SECONDS);
    // Nothing was open, so stop() did not sit out the 30 s default grace.
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    assertThat(d.verticle().isListening()).isFalse();
    assertThat(refused(d.port())).isTrue();
    assertThat(store.deliveries()).hasSize(1);
  }

  @Test
  void sessionInDataFinishesGets250ThenIsClosedWith421() throws Exception {
    Deployed d = deployVerticle(new JsonObject());
    LineClient c = connect(d.port());
    openData(c);
    c.sendRaw("Subject: drain\r\n\r\nfirst half\r\n");
    LineClient probe = connect(d.port());

    Future<Void> undeploy = undeploy(d);
    awaitShutdownStarted(probe);
    // The listener is gone while the transaction is still draining (not only at the end).
    await().atMost(Duration.ofSeconds(5)).until(() -> refused(d.port()));
    assertThat(d.verticle().isListening()).isFalse();
    Thread.sleep(200);
    assertThat(undeploy.isComplete()).as("undeploy waits for the open DATA").isFalse();
    assertThat(store.deliveries()).isEmpty();

    c.sendRaw("second half\r\n.\r\n");
    String queued = c.smtp();
    assertThat(queued).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(store.deliveries()).hasSize(1);
    assertThat(queued).endsWith(store.deliveries().get(0).deliveryId());
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo("Subject: drain\r\n\r\nfirst half\r\nsecond half\r\n");
    assertThat(store.messages("alice@example.test")).hasSize(1);
    // Then 421 instead of waiting for another command, and the close.
    assertThat(c.smtp()).startsWith("421 4.3.2 ");
    assertThat(c.isClosedByServer()).isTrue();
    undeploy.await(5, TimeUnit.SECONDS);
  }

  @Test
  void deliveryWaitingForASlowStoreStillGets250() throws Exception {
    Deployed d = deployVerticle(new JsonObject());
    LineClient c = connect(d.port());
    openData(c);
    LineClient probe = connect(d.port());
    store.delayMs = 1500;
    c.sendRaw("Subject: slow\r\n\r\nbody\r\n.\r\n");
    Thread.sleep(300); // the end of DATA has reached the store, whose answer takes 1.5 s

    Future<Void> undeploy = undeploy(d);
    awaitShutdownStarted(probe);
    assertThat(undeploy.isComplete()).isFalse();
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(store.deliveries()).hasSize(1);
    assertThat(c.smtp()).startsWith("421 4.3.2 ");
    assertThat(c.isClosedByServer()).isTrue();
    undeploy.await(5, TimeUnit.SECONDS);
  }

  @Test
  void afterMailOnlyRcptAndDataAreServedAnythingElseGets421() throws Exception {
    Deployed d = deployVerticle(new JsonObject());
    LineClient finishing = connect(d.port());
    assertThat(cmd(finishing, "EHLO client.example")).isEqualTo(EHLO_LAST);
    assertThat(cmd(finishing, "MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
    LineClient wandering = connect(d.port());
    assertThat(cmd(wandering, "EHLO client.example")).isEqualTo(EHLO_LAST);
    assertThat(cmd(wandering, "MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
    assertThat(cmd(wandering, "RCPT TO:<bob@example.test>")).startsWith("250 2.1.5");
    LineClient probe = connect(d.port());

    Future<Void> undeploy = undeploy(d);
    awaitShutdownStarted(probe);
    assertThat(cmd(finishing, "RCPT TO:<alice@example.test>")).startsWith("250 2.1.5");
    assertThat(cmd(finishing, "DATA")).startsWith("354 ");
    finishing.sendRaw("Subject: late rcpt\r\n\r\nx\r\n.\r\n");
    assertThat(finishing.smtp()).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(finishing.smtp()).startsWith("421 4.3.2 ");
    assertThat(finishing.isClosedByServer()).isTrue();

    assertThat(cmd(wandering, "RSET")).startsWith("421 4.3.2 ");
    assertThat(wandering.isClosedByServer()).isTrue();
    undeploy.await(5, TimeUnit.SECONDS);
    assertThat(store.deliveries()).hasSize(1);
    assertThat(store.deliveries().get(0).recipients()).containsExactly("alice@example.test");
  }

  @Test
  void graceExhaustedClosesWithoutReplyAndStoresNothing() throws Exception {
    Deployed d = deployVerticle(new JsonObject().put("shutdownGraceSeconds", 1));
    LineClient c = connect(d.port());
    openData(c);
    c.sendRaw("Subject: never ends\r\n\r\npartial");

    long t0 = System.nanoTime();
    undeploy(d).await(10, TimeUnit.SECONDS);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(took).as("waited for the grace, then gave up").isBetween(Duration.ofMillis(900), Duration.ofSeconds(4));
    // Cut without any reply: no 250 (and no 421 either, the client is mid-DATA and must retry).
    assertThat(c.isClosedByServer()).as("closed with no reply byte").isTrue();
    assertThat(store.deliveries()).isEmpty();
    assertThat(store.messages("alice@example.test")).isEmpty();
  }

  @Test
  void graceExhaustedWhileTheStoreIsSlowSendsNo250() throws Exception {
    Deployed d = deployVerticle(new JsonObject().put("shutdownGraceSeconds", 1).put("storeTimeoutMs", 5000));
    LineClient c = connect(d.port());
    openData(c);
    store.delayMs = 2500;
    c.sendRaw("Subject: too slow\r\n\r\nbody\r\n.\r\n");
    Thread.sleep(200); // at the store now

    long t0 = System.nanoTime();
    undeploy(d).await(10, TimeUnit.SECONDS);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(700), Duration.ofSeconds(2));
    assertThat(store.deliveries()).as("the store has not answered yet").isEmpty();
    // The deadline came before the store's confirmation: the client sees the close, not a 250.
    assertThat(c.isClosedByServer()).as("closed with no reply byte").isTrue();
    // The store may still keep it later: a duplicate on the client's retry, never a loss.
    await().atMost(Duration.ofSeconds(5)).until(() -> store.deliveries().size() == 1);
  }
}
