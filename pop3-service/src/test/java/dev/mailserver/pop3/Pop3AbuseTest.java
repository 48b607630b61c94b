package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static dev.mailserver.pop3.TestServer.BOB;
import static dev.mailserver.pop3.TestServer.BOB_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.metrics.Meters;
import dev.mailserver.common.security.LoginThrottle;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Abuse limits over real sockets: login throttling ({@link LoginThrottle}, per address and per
 * account, delays by timer), connection limits (total, per address) and the bad-command limit.
 * 127.0.0.2 plays a second client address (Linux routes all of 127/8 to loopback).
 */
class Pop3AbuseTest {

  static final String M1 = "Subject: keep\r\n\r\nbody\r\n";

  TestServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private TestServer start(JsonObject pop3, LoginThrottle.Settings throttle) {
    server = TestServer.start(pop3, new JsonObject(), true, new Pop3Verticle(Pop3Verticle.SHUTDOWN_GRACE_MS, throttle));
    server.put(ALICE, M1);
    return server;
  }

  /** No lockout within a test, delays 200, 400, 800 ms after the first, second, third failure. */
  static LoginThrottle.Settings growing() {
    return new LoginThrottle.Settings(1, 200, 1_600, 1_000, 60_000, 60_000, 1_000);
  }

  static long millisOf(ThrowingRunnable r) throws IOException {
    long t0 = System.nanoTime();
    r.run();
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  interface ThrowingRunnable {
    void run() throws IOException;
  }

  /**
   * Each failure is answered later than the one before (the delay doubles), by a timer: while one
   * session waits for its -ERR, other sessions on the server (same event loop) are answered at once,
   * and a client from another address logging in to another account is not slowed down.
   */
  @Test
  void failedLoginsAreDelayedMoreEachTimeWithoutStallingOtherSessions() throws Exception {
    start(new JsonObject(), growing());
    try (Pop3TestClient guesser = Pop3TestClient.plain(server.port);
         Pop3TestClient bystander = Pop3TestClient.plain(server.port)) {
      guesser.readLine();
      bystander.readLine();
      List<Long> delays = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        guesser.command("USER " + ALICE);
        String[] reply = new String[1];
        String password = "wrong" + i;
        delays.add(millisOf(() -> reply[0] = guesser.command("PASS " + password)));
        assertThat(reply[0]).isEqualTo("-ERR [AUTH] Invalid credentials");
      }
      assertThat(delays.get(0)).isBetween(180L, 1_000L);
      assertThat(delays.get(1)).isGreaterThanOrEqualTo(delays.get(0) + 150);
      assertThat(delays.get(2)).isGreaterThanOrEqualTo(delays.get(1) + 300);

      // A fourth failure takes 1600 ms; meanwhile the event loop serves everyone else.
      guesser.command("USER " + ALICE);
      CompletableFuture<String> pending = CompletableFuture.supplyAsync(() -> {
        try {
          return guesser.command("PASS wrong again");
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      Thread.sleep(200);
      assertThat(pending).isNotDone();
      long capa = millisOf(() -> {
        assertThat(bystander.command("CAPA")).startsWith("+OK");
        bystander.readMultiLine();
      });
      assertThat(capa).isLessThan(300);
      try (Pop3TestClient other = Pop3TestClient.plainFrom("127.0.0.2", server.port)) {
        other.readLine();
        other.command("USER " + BOB);
        long[] took = new long[1];
        String[] r = new String[1];
        took[0] = millisOf(() -> r[0] = other.command("PASS " + BOB_PASSWORD));
        assertThat(r[0]).startsWith("+OK");
        assertThat(took[0]).isLessThan(300);
      }
      assertThat(pending.get(5, TimeUnit.SECONDS)).isEqualTo("-ERR [AUTH] Invalid credentials");
    }
  }

  /**
   * At the lockout threshold the account and the address are locked: even the right password is
   * refused with [SYS/TEMP], without asking the store (an injected store failure stays unused).
   * The account stays locked from another address; another account from another address is fine.
   */
  @Test
  void lockoutRefusesWithoutAskingTheStore() throws Exception {
    start(new JsonObject(), new LoginThrottle.Settings(10, 10, 50, 3, 60_000, 60_000, 1_000));
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      for (int i = 0; i < 3; i++) {
        c.command("USER " + ALICE);
        assertThat(c.command("PASS nope")).isEqualTo("-ERR [AUTH] Invalid credentials");
      }
      server.store.failNext(MailstoreError.STORAGE_FAILURE);
      c.command("USER " + ALICE);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR [SYS/TEMP] Too many failed logins, try again later");
      // AUTH PLAIN goes through the same throttle.
      assertThat(c.command("AUTH PLAIN " + Pop3TlsTest.plain("", BOB, BOB_PASSWORD)))
          .isEqualTo("-ERR [SYS/TEMP] Too many failed logins, try again later");
    }
    try (Pop3TestClient elsewhere = Pop3TestClient.plainFrom("127.0.0.2", server.port)) {
      elsewhere.readLine();
      elsewhere.command("USER " + ALICE);
      assertThat(elsewhere.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR [SYS/TEMP] Too many failed logins, try again later");
      // The injected failure was never consumed: the store was not asked while locked.
      elsewhere.command("USER " + BOB);
      assertThat(elsewhere.command("PASS " + BOB_PASSWORD)).isEqualTo("-ERR [SYS/TEMP] Mailstore unavailable, try again later");
      elsewhere.command("USER " + BOB);
      assertThat(elsewhere.command("PASS " + BOB_PASSWORD)).startsWith("+OK");
    }
    assertThat(Meters.registry(server.vertx).find(Pop3Metrics.LOGINS).tag("result", "locked").counter().count())
        .isEqualTo(3);
  }

  @Test
  void connectionsPerAddressAreLimited() throws IOException {
    start(new JsonObject().put("maxConnectionsPerIp", 2).put("maxConnections", 10), growing());
    Pop3TestClient a = Pop3TestClient.plain(server.port);
    Pop3TestClient b = Pop3TestClient.plain(server.port);
    assertThat(a.readLine()).startsWith("+OK");
    assertThat(b.readLine()).startsWith("+OK");
    try (Pop3TestClient third = Pop3TestClient.plain(server.port)) {
      assertThat(third.readLine()).isEqualTo("-ERR [SYS/TEMP] Too many connections from your address");
      assertThat(third.isClosedByServer()).isTrue();
    }
    try (Pop3TestClient otherAddress = Pop3TestClient.plainFrom("127.0.0.2", server.port)) {
      assertThat(otherAddress.readLine()).startsWith("+OK");
    }
    a.close();
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
      try (Pop3TestClient again = Pop3TestClient.plain(server.port)) {
        return again.readLine().startsWith("+OK");
      }
    });
    b.close();
    assertThat(Meters.registry(server.vertx).find(Pop3Metrics.CONNECTIONS_REJECTED).tag("reason", "per_ip").counter()
        .count()).isGreaterThanOrEqualTo(1);
  }

  /** The total counts both listeners together. */
  @Test
  void connectionsInTotalAreLimited() throws IOException {
    start(new JsonObject().put("maxConnectionsPerIp", 10).put("maxConnections", 2).put("pop3sPort", 0), growing());
    try (Pop3TestClient a = Pop3TestClient.plain(server.port);
         Pop3TestClient b = Pop3TestClient.implicitTls(server.pop3sPort)) {
      assertThat(a.readLine()).startsWith("+OK");
      assertThat(b.readLine()).startsWith("+OK");
      try (Pop3TestClient third = Pop3TestClient.plainFrom("127.0.0.2", server.port)) {
        assertThat(third.readLine()).isEqualTo("-ERR [SYS/TEMP] Too many connections");
        assertThat(third.isClosedByServer()).isTrue();
      }
      try (Pop3TestClient fourth = Pop3TestClient.implicitTls(server.pop3sPort)) {
        assertThat(fourth.readLine()).isEqualTo("-ERR [SYS/TEMP] Too many connections");
      }
    }
  }

  /** maxErrors bad commands: the last is answered with a closing -ERR, the connection closes, no UPDATE. */
  @Test
  void tooManyBadCommandsCloseTheSessionWithoutUpdate() throws IOException {
    start(new JsonObject().put("maxErrors", 4), growing());
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).startsWith("+OK");
      assertThat(c.command("DELE 1")).startsWith("+OK");
      assertThat(c.command("BOGUS")).isEqualTo("-ERR Unknown command");
      assertThat(c.command("RETR x")).isEqualTo("-ERR Syntax error");
      // Good commands in between do not reset the count.
      assertThat(c.command("NOOP")).isEqualTo("+OK");
      assertThat(c.command("USER bob")).isEqualTo("-ERR Command not valid in this state");
      // The fourth, with QUIT pipelined behind it: QUIT must not run (it would delete message 1).
      c.sendRaw("STAT 1 2\r\nQUIT\r\n");
      assertThat(c.readLine()).isEqualTo("-ERR Too many bad commands, closing connection");
      assertThat(c.isClosedByServer()).isTrue();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> server.leaseHolder(ALICE) == null);
    assertThat(server.store.messages(ALICE)).hasSize(1);
    assertThat(Meters.registry(server.vertx).find(Pop3Metrics.SESSIONS_ENDED).tag("outcome", "errors").counter()
        .count()).isEqualTo(1);
  }

  /** Over-long lines count as bad commands too. */
  @Test
  void overLongLinesCountAsBadCommands() throws IOException {
    start(new JsonObject().put("maxErrors", 2), growing());
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.send("X".repeat(400));
      assertThat(c.readLine()).isEqualTo("-ERR Line too long");
      c.send("Y".repeat(400));
      assertThat(c.readLine()).isEqualTo("-ERR Too many bad commands, closing connection");
      assertThat(c.isClosedByServer()).isTrue();
    }
  }
}
