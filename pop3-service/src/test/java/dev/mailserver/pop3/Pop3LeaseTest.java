package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.testing.LineClient;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The maildrop lock as a lease in the {@value MaildropLock#MAP_NAME} map (RFC 1939 section 8), over
 * real sockets. A "dead node" or a "thief" is simulated by writing the map entry directly.
 */
class Pop3LeaseTest {

  static final String M1 = "Subject: one\r\n\r\nfirst\r\n";
  static final String M2 = "Subject: two\r\n\r\nsecond\r\n";

  TestServer server;

  private TestServer start(JsonObject pop3) {
    server = TestServer.start(pop3, true);
    server.put(ALICE, M1);
    server.put(ALICE, M2);
    return server;
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** A node died holding the maildrop: [IN-USE] until its lease runs out, then the maildrop is free. */
  @Test
  void leaseOfADeadHolderExpires() throws IOException {
    start(new JsonObject());
    server.leases().put(ALICE, "dead-node#1", 1_000).await();
    assertThat(tryLogin()).isEqualTo("-ERR [IN-USE] Maildrop already locked");
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100))
        .until(() -> tryLogin().startsWith("+OK maildrop has 2 messages"));
  }

  /** lockLeaseSeconds=1: a session idle for about three leases still holds the maildrop. */
  @Test
  void renewalKeepsTheLockBeyondSeveralLeasePeriods() throws Exception {
    start(new JsonObject().put("lockLeaseSeconds", 1));
    try (LineClient first = server.loginAlice()) {
      String token = server.leaseHolder(ALICE);
      assertThat(token).isNotNull();
      Thread.sleep(2_800);
      assertThat(tryLogin()).isEqualTo("-ERR [IN-USE] Maildrop already locked");
      assertThat(server.leaseHolder(ALICE)).isEqualTo(token);
      first.send("STAT");
      assertThat(first.readLine()).startsWith("+OK 2 ");
      first.send("QUIT");
      assertThat(first.readLine()).startsWith("+OK");
    }
    assertThat(tryLogin()).startsWith("+OK maildrop has 2 messages");
  }

  /**
   * Another session took the entry (our lease lapsed and someone else got it): renewal notices within
   * a third of the lease and closes the connection without UPDATE, so the marks are not applied.
   */
  @Test
  void stolenLeaseClosesTheSessionAndDeletesNothing() throws IOException {
    start(new JsonObject().put("lockLeaseSeconds", 1));
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 1");
      assertThat(c.readLine()).startsWith("+OK");
      c.send("DELE 2");
      assertThat(c.readLine()).startsWith("+OK");
      server.leases().put(ALICE, "thief#1", 10_000).await();
      long t0 = System.nanoTime();
      assertThat(c.isClosedByServer()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
    }
    assertThat(server.store.messages(ALICE)).hasSize(2);
    // The thief's entry is left alone: our release removes only our own token.
    assertThat(server.leaseHolder(ALICE)).isEqualTo("thief#1");
  }

  /** Stolen and QUIT before renewal noticed: UPDATE's own check refuses to delete. */
  @Test
  void quitAfterLeaseStolenDeletesNothing() throws IOException {
    start(new JsonObject());
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 1");
      assertThat(c.readLine()).startsWith("+OK");
      server.leases().put(ALICE, "thief#2", 10_000).await();
      c.send("QUIT");
      assertThat(c.readLine()).isEqualTo("-ERR [SYS/TEMP] Maildrop lock lost, no messages deleted");
      assertThat(c.isClosedByServer()).isTrue();
    }
    assertThat(server.store.messages(ALICE)).hasSize(2);
    assertThat(server.leaseHolder(ALICE)).isEqualTo("thief#2");
  }

  /** Release does not wait for the lease to run out (default 30 s). */
  @Test
  void releaseOnQuitAndDisconnectIsImmediate() throws IOException {
    start(new JsonObject());
    try (LineClient c = server.loginAlice()) {
      assertThat(server.leaseHolder(ALICE)).isNotNull();
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK");
      // Removed before the QUIT reply was written.
      assertThat(server.leaseHolder(ALICE)).isNull();
    }
    LineClient c = server.loginAlice();
    assertThat(server.leaseHolder(ALICE)).isNotNull();
    c.close();
    await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
        .until(() -> server.leaseHolder(ALICE) == null);
  }

  /** Status line of a fresh USER/PASS attempt; on success the session is ended with QUIT. */
  private String tryLogin() throws IOException {
    try (LineClient c = server.connect()) {
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS " + ALICE_PASSWORD);
      String reply = c.readLine();
      if (reply.startsWith("+OK")) {
        c.send("QUIT");
        c.readLine();
      }
      return reply;
    }
  }
}
