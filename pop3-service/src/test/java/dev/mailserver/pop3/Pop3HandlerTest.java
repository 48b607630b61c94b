package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.pop3.protocol.Pop3Reply;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The protocol decisions without a socket: state + line -> reply + state. */
class Pop3HandlerTest {

  static final String M1 = "Subject: one\r\n\r\nbody one\r\nsecond line\r\n";
  static final String M2 = "Subject: two\r\n\r\nbody two\r\n";
  static final String M3 = "Subject: three\r\n\r\n.dot\r\n";

  static Vertx vertx;
  static Context ctx;
  FakeMailstore store;
  Pop3Options options;
  List<String> ids;

  @BeforeAll
  static void vertx() {
    vertx = Vertx.vertx();
    ctx = vertx.getOrCreateContext();
  }

  @AfterAll
  static void closeVertx() {
    vertx.close().await();
  }

  @BeforeEach
  void store() {
    store = new FakeMailstore(vertx).addAccount(ALICE, ALICE_PASSWORD).addAccount("bob@example.test", "pw");
    store.start().await();
    ids = List.of(put(M1), put(M2), put(M3));
    options = Pop3Options.fromConfig(new JsonObject().put("hostname", "mail.example.test")
        .put("pop3", new JsonObject().put("storeTimeoutMs", 2000).put("allowPlaintextAuth", true)));
  }

  @AfterEach
  void stopStore() {
    store.stop().await();
    // Isolation: a test that failed half-way must not leave its lease to the next one.
    leases().clear().await();
  }

  /** Rows: starting state | line | expected status line (prefix) | state afterwards. */
  @ParameterizedTest(name = "[{index}] {0}: ''{1}'' -> {2}")
  @CsvSource(delimiter = '|', value = {
      "AUTHORIZATION | CAPA                    | +OK Capability list follows            | AUTHORIZATION",
      "AUTHORIZATION | USER alice@example.test | +OK                                    | AUTHORIZATION",
      "AUTHORIZATION | user alice@example.test | +OK                                    | AUTHORIZATION",
      "AUTHORIZATION | USER                    | -ERR Syntax error                      | AUTHORIZATION",
      "AUTHORIZATION | PASS secret             | -ERR Send USER first                   | AUTHORIZATION",
      "AUTHORIZATION | STAT                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | LIST                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | RETR 1                  | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | DELE 1                  | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | TOP 1 1                 | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | UIDL                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | RSET                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | NOOP                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "AUTHORIZATION | APOP alice c4c9334bac56 | -ERR Unknown command                   | AUTHORIZATION",
      "AUTHORIZATION | STLS                    | +OK Begin TLS negotiation              | AUTHORIZATION",
      "AUTHORIZATION | STLS x                  | -ERR Syntax error                      | AUTHORIZATION",
      "AUTHORIZATION | AUTH                    | +OK Supported mechanisms follow        | AUTHORIZATION",
      "AUTHORIZATION | AUTH PLAIN              | +                                      | AUTHORIZATION",
      "AUTHORIZATION | AUTH plain AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ= | +OK maildrop has 3 messages ( | TRANSACTION",
      "AUTHORIZATION | AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw== | -ERR [AUTH] Invalid credentials | AUTHORIZATION",
      "AUTHORIZATION | AUTH PLAIN =            | -ERR Malformed PLAIN response          | AUTHORIZATION",
      "AUTHORIZATION | AUTH PLAIN %%%%         | -ERR Invalid base64 data               | AUTHORIZATION",
      "AUTHORIZATION | AUTH CRAM-MD5           | -ERR Unsupported authentication mechanism | AUTHORIZATION",
      "AUTHORIZATION | AUTH PLAIN a b c        | -ERR Syntax error                      | AUTHORIZATION",
      "TRANSACTION   | STLS                    | -ERR Command not valid in this state   | TRANSACTION",
      "TRANSACTION   | AUTH PLAIN              | -ERR Command not valid in this state   | TRANSACTION",
      "AUTHORIZATION | ''                      | -ERR Unknown command                   | AUTHORIZATION",
      "AUTHORIZATION | QUIT                    | +OK mail.example.test POP3 server signing off | AUTHORIZATION",
      "USER_GIVEN    | PASS secret             | +OK maildrop has 3 messages (           | TRANSACTION",
      "USER_GIVEN    | PASS wrong              | -ERR [AUTH] Invalid credentials        | AUTHORIZATION",
      "USER_GIVEN    | PASS secret extra       | -ERR [AUTH] Invalid credentials        | AUTHORIZATION",
      "USER_GIVEN    | PASS                    | -ERR Syntax error                      | AUTHORIZATION",
      "USER_GIVEN    | USER bob@example.test   | +OK                                    | AUTHORIZATION",
      "USER_GIVEN    | STAT                    | -ERR Command not valid in this state   | AUTHORIZATION",
      "TRANSACTION   | STAT                    | +OK 3 ,                                 | TRANSACTION",
      "TRANSACTION   | STAT 1                  | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | LIST                    | +OK 3 messages (                       | TRANSACTION",
      "TRANSACTION   | LIST 1                  | +OK 1 39                               | TRANSACTION",
      "TRANSACTION   | LIST 4                  | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | LIST 0                  | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | LIST 99999999999999     | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | LIST x                  | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | LIST -1                 | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | LIST 1 2                | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | RETR 1                  | +OK 39 octets                          | TRANSACTION",
      "TRANSACTION   | RETR 4                  | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | RETR                    | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | RETR one                | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | TOP 1 0                 | +OK top of message follows             | TRANSACTION",
      "TRANSACTION   | TOP 1 x                 | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | TOP 1 -1                | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | TOP 1                   | -ERR Syntax error                      | TRANSACTION",
      "TRANSACTION   | TOP 9 1                 | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | DELE 1                  | +OK Message 1 deleted                  | TRANSACTION",
      "TRANSACTION   | DELE 4                  | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | UIDL                    | +OK unique-id listing follows          | TRANSACTION",
      "TRANSACTION   | UIDL 2                  | +OK 2 uid-                             | TRANSACTION",
      "TRANSACTION   | UIDL 5                  | -ERR No such message                   | TRANSACTION",
      "TRANSACTION   | NOOP                    | +OK                                    | TRANSACTION",
      "TRANSACTION   | RSET                    | +OK maildrop has 3 messages (          | TRANSACTION",
      "TRANSACTION   | CAPA                    | +OK Capability list follows            | TRANSACTION",
      "TRANSACTION   | USER bob@example.test   | -ERR Command not valid in this state   | TRANSACTION",
      "TRANSACTION   | PASS secret             | -ERR Command not valid in this state   | TRANSACTION",
      "TRANSACTION   | XYZZY                   | -ERR Unknown command                   | TRANSACTION",
      "TRANSACTION   | QUIT                    | +OK mail.example.test POP3 server signing off (3 messages left) | UPDATE",
      "DELETED_2     | STAT                    | +OK 2 ,                                 | TRANSACTION",
      "DELETED_2     | LIST                    | +OK 2 messages (                       | TRANSACTION",
      "DELETED_2     | LIST 2                  | -ERR No such message                   | TRANSACTION",
      "DELETED_2     | RETR 2                  | -ERR No such message                   | TRANSACTION",
      "DELETED_2     | TOP 2 0                 | -ERR No such message                   | TRANSACTION",
      "DELETED_2     | UIDL 2                  | -ERR No such message                   | TRANSACTION",
      "DELETED_2     | DELE 2                  | -ERR Message 2 already deleted         | TRANSACTION",
      "DELETED_2     | RETR 3                  | +OK 24 octets                          | TRANSACTION",
      "DELETED_2     | RSET                    | +OK maildrop has 3 messages (          | TRANSACTION",
      "DELETED_2     | QUIT                    | +OK mail.example.test POP3 server signing off (2 messages left) | UPDATE",
  })
  void table(String start, String line, String expected, Pop3State after) throws Exception {
    Pop3Handler h = handlerIn(start);
    try {
      // A trailing ',' in the expectation marks "prefix up to here" where a size follows.
      String prefix = expected.endsWith(",") ? expected.substring(0, expected.length() - 1) : expected;
      assertThat(status(call(h, line))).startsWith(prefix);
      assertThat(h.session().state()).isEqualTo(after);
    } finally {
      close(h);
    }
  }

  @Test
  void listAndUidlSkipDeletedMessages() throws Exception {
    Pop3Handler h = handlerIn("DELETED_2");
    assertThat(text(call(h, "LIST"))).isEqualTo("+OK 2 messages (63 octets)\r\n1 39\r\n3 24\r\n.\r\n");
    assertThat(text(call(h, "UIDL"))).isEqualTo("+OK unique-id listing follows\r\n1 uid-" + ids.get(0) + "\r\n3 uid-" + ids.get(2) + "\r\n.\r\n");
    assertThat(text(call(h, "STAT"))).isEqualTo("+OK 2 63\r\n");
    close(h);
  }

  @Test
  void retrIsDotStuffedAndTopUsesBodyLines() throws Exception {
    Pop3Handler h = handlerIn("TRANSACTION");
    assertThat(text(call(h, "RETR 3"))).isEqualTo("+OK 24 octets\r\n" + "Subject: three\r\n\r\n..dot\r\n.\r\n");
    assertThat(text(call(h, "TOP 1 0"))).isEqualTo("+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n");
    assertThat(text(call(h, "TOP 1 1"))).isEqualTo("+OK top of message follows\r\nSubject: one\r\n\r\nbody one\r\n.\r\n");
    close(h);
  }

  @Test
  void capaListsTheCapabilities() throws Exception {
    Pop3Handler h = handler();
    assertThat(text(call(h, "CAPA"))).isEqualTo("+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
        + "AUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN\r\nSTLS\r\nIMPLEMENTATION mailserver-pop3\r\n.\r\n");
  }

  /**
   * RFC 2595 sections 2.1 and 4 with the production default (no plaintext login): before TLS,
   * CAPA hides USER and SASL and offers STLS, USER/PASS are refused with [AUTH]; after the switch
   * (tlsStarted, as the connection calls it) it is the other way round.
   */
  @Test
  void capaAndPlaintextGateFollowTheTlsState() throws Exception {
    Pop3Options strict = Pop3Options.fromConfig(new JsonObject().put("hostname", "mail.example.test"));
    Pop3Handler h = new Pop3Handler(vertx, new MailstoreClient(vertx, 2_000), strict);
    assertThat(text(call(h, "CAPA"))).doesNotContain("USER").doesNotContain("SASL").contains("\r\nSTLS\r\n");
    assertThat(status(call(h, "USER " + ALICE))).isEqualTo("-ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS");
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).startsWith("-ERR [AUTH] Plaintext");
    assertThat(status(call(h, "AUTH PLAIN"))).startsWith("-ERR [AUTH] Plaintext");
    assertThat(status(call(h, "STLS"))).isEqualTo("+OK Begin TLS negotiation");
    assertThat(h.takeTlsRequest()).isTrue();
    assertThat(h.takeTlsRequest()).isFalse();
    onContext(() -> {
      h.tlsStarted();
      return Future.succeededFuture();
    });
    assertThat(text(call(h, "CAPA"))).contains("\r\nUSER\r\n", "\r\nSASL PLAIN\r\n").doesNotContain("STLS");
    assertThat(status(call(h, "STLS"))).isEqualTo("-ERR Command not permitted when TLS active");
    call(h, "USER " + ALICE);
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).startsWith("+OK maildrop has 3 messages");
    close(h);
  }

  /** A SASL exchange: "+ ", then the next line is the response; "*" cancels; then commands again. */
  @Test
  void saslContinuationTakesTheNextLine() throws Exception {
    Pop3Handler h = handler();
    assertThat(status(call(h, "AUTH PLAIN"))).isEqualTo("+ ");
    assertThat(h.expectsSaslResponse()).isTrue();
    assertThat(status(call(h, "*"))).isEqualTo("-ERR Authentication cancelled");
    assertThat(h.expectsSaslResponse()).isFalse();
    assertThat(status(call(h, "AUTH PLAIN"))).isEqualTo("+ ");
    // A command-looking line inside the exchange is the response, not a command.
    assertThat(status(call(h, "CAPA"))).isEqualTo("-ERR Malformed PLAIN response");
    assertThat(status(call(h, "AUTH PLAIN"))).isEqualTo("+ ");
    String response = java.util.Base64.getEncoder().encodeToString(("\0" + ALICE + "\0" + ALICE_PASSWORD)
        .getBytes(StandardCharsets.UTF_8));
    assertThat(status(call(h, response))).startsWith("+OK maildrop has 3 messages");
    close(h);
  }

  @Test
  void greetingHasNoApopTimestamp() {
    assertThat(status(handler().greeting())).isEqualTo("+OK mail.example.test POP3 server ready");
  }

  @Test
  void quitAppliesDeletionsThenReleasesTheLock() throws Exception {
    Pop3Handler h = handlerIn("DELETED_2");
    call(h, "DELE 1");
    assertThat(lockIsFree()).isFalse();
    assertThat(status(call(h, "QUIT"))).isEqualTo("+OK mail.example.test POP3 server signing off (1 message left)");
    assertThat(h.session().isQuit()).isTrue();
    assertThat(h.session().holdsLock()).isFalse();
    assertThat(lockIsFree()).isTrue();
    assertThat(store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1)).containsExactly(M3);
  }

  @Test
  void failedDeletionInUpdateIsSysTempAndStillReleasesTheLock() throws Exception {
    Pop3Handler h = handlerIn("DELETED_2");
    store.failNext(MailstoreError.STORAGE_FAILURE);
    assertThat(status(call(h, "QUIT"))).isEqualTo("-ERR [SYS/TEMP] Some deleted messages not removed");
    assertThat(h.session().isQuit()).isTrue();
    assertThat(lockIsFree()).isTrue();
    assertThat(store.messages(ALICE)).hasSize(3);
  }

  @Test
  void closeWithoutQuitDeletesNothingAndReleasesTheLock() throws Exception {
    Pop3Handler h = handlerIn("DELETED_2");
    close(h);
    assertThat(lockIsFree()).isTrue();
    assertThat(store.messages(ALICE)).hasSize(3);
    // Closing again must not release a lock someone else holds by now.
    Pop3Handler other = handlerIn("TRANSACTION");
    close(h);
    assertThat(lockIsFree()).isFalse();
    assertThat(other.session().holdsLock()).isTrue();
    close(other);
  }

  @Test
  void secondLoginToLockedMaildropIsInUse() throws Exception {
    Pop3Handler first = handlerIn("TRANSACTION");
    Pop3Handler second = handlerIn("USER_GIVEN");
    assertThat(status(call(second, "PASS " + ALICE_PASSWORD))).isEqualTo("-ERR [IN-USE] Maildrop already locked");
    assertThat(second.session().state()).isEqualTo(Pop3State.AUTHORIZATION);
    assertThat(status(call(first, "QUIT"))).startsWith("+OK");
    call(second, "USER " + ALICE);
    assertThat(status(call(second, "PASS " + ALICE_PASSWORD))).startsWith("+OK maildrop has 3 messages");
    close(second);
  }

  /** The client hangs up while PASS waits for the store: the lock acquired afterwards must not leak. */
  @Test
  void closeDuringLoginReleasesTheLateLock() throws Exception {
    store.delayMs = 150;
    Pop3Handler h = handlerIn("USER_GIVEN");
    Promise<Pop3Reply> reply = Promise.promise();
    ctx.runOnContext(v -> {
      h.handle("PASS " + ALICE_PASSWORD).onComplete(reply);
      h.close();
    });
    assertThat(status(await(reply.future()))).startsWith("-ERR");
    assertThat(h.session().holdsLock()).isFalse();
    assertThat(lockIsFree()).isTrue();
  }

  @Test
  void storeFailureAtLoginIsSysTemp() throws Exception {
    Pop3Handler h = handlerIn("USER_GIVEN");
    store.failNext(MailstoreError.STORAGE_FAILURE);
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).isEqualTo("-ERR [SYS/TEMP] Mailstore unavailable, try again later");
    assertThat(h.session().state()).isEqualTo(Pop3State.AUTHORIZATION);
    assertThat(lockIsFree()).isTrue();
  }

  @Test
  void userThatIsNoAddressGetsAuthErrorWithoutAsking() throws Exception {
    Pop3Handler h = handler();
    call(h, "USER alice");
    store.failNext(MailstoreError.STORAGE_FAILURE); // would turn into SYS/TEMP if the store were asked
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).isEqualTo("-ERR [AUTH] Invalid credentials");
    store.failNext(null);
  }

  @Test
  void afterFailedPassUserMustBeSentAgain() throws Exception {
    Pop3Handler h = handlerIn("USER_GIVEN");
    assertThat(status(call(h, "PASS nope"))).startsWith("-ERR [AUTH]");
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).isEqualTo("-ERR Send USER first");
  }

  @Test
  void userNameIsCaseInsensitiveAndMailboxIsCanonical() throws Exception {
    Pop3Handler h = handler();
    call(h, "USER Alice@Example.TEST");
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).startsWith("+OK maildrop has 3");
    assertThat(h.session().mailbox()).isEqualTo(ALICE);
    close(h);
  }

  @Test
  void vanishedMessageIsAnErrorAndTheSessionGoesOn() throws Exception {
    Pop3Handler h = handlerIn("TRANSACTION");
    new MailstoreClient(vertx).delete(ALICE, List.of(ids.get(0))).await();
    assertThat(status(call(h, "RETR 1"))).isEqualTo("-ERR Message no longer exists");
    assertThat(status(call(h, "TOP 1 0"))).isEqualTo("-ERR Message no longer exists");
    assertThat(status(call(h, "RETR 2"))).startsWith("+OK");
    close(h);
  }

  @Test
  void fetchFailureIsSysTemp() throws Exception {
    Pop3Handler h = handlerIn("TRANSACTION");
    store.failNext(MailstoreError.STORAGE_FAILURE);
    assertThat(status(call(h, "RETR 1"))).isEqualTo("-ERR [SYS/TEMP] Mailstore unavailable, try again later");
    assertThat(status(call(h, "RETR 1"))).startsWith("+OK");
    close(h);
  }

  @Test
  void snapshotDoesNotSeeMailArrivingLater() throws Exception {
    Pop3Handler h = handlerIn("TRANSACTION");
    put("Subject: late\r\n\r\nx\r\n");
    assertThat(status(call(h, "STAT"))).startsWith("+OK 3 ");
    assertThat(status(call(h, "RETR 4"))).isEqualTo("-ERR No such message");
    close(h);
  }

  // --- the maildrop lease ---------------------------------------------------------------------

  @Test
  void loginWritesItsTokenAndQuitRemovesIt() throws Exception {
    Pop3Handler h = handlerIn("TRANSACTION");
    String token = leases().get(ALICE).await();
    assertThat(token).isNotNull();
    assertThat(h.session().holdsLock()).isTrue();
    // Another session's token is different: tokens are per session.
    Pop3Handler bob = handler();
    call(bob, "USER bob@example.test");
    assertThat(status(call(bob, "PASS pw"))).startsWith("+OK");
    assertThat(leases().get("bob@example.test").await()).isNotNull().isNotEqualTo(token);
    assertThat(status(call(h, "QUIT"))).startsWith("+OK");
    assertThat(lockIsFree()).isTrue();
    close(bob);
    assertThat(leases().get("bob@example.test").await()).isNull();
  }

  /** Someone else's token in the entry: renewal notices, tells the connection, and does not overwrite it. */
  @Test
  void stolenLeaseIsNoticedByRenewal() throws Exception {
    Pop3Handler h = handler(150);
    Promise<Void> lost = Promise.promise();
    h.onLeaseLost(lost::tryComplete);
    loggedIn(h);
    leases().put(ALICE, "other-node#1", 10_000).await();
    await(lost.future());
    assertThat(h.session().holdsLock()).isFalse();
    close(h);
    assertThat(leases().get(ALICE).await()).isEqualTo("other-node#1");
  }

  @Test
  void expiredLeaseIsNoticedByRenewal() throws Exception {
    Pop3Handler h = handler(150);
    Promise<Void> lost = Promise.promise();
    h.onLeaseLost(lost::tryComplete);
    loggedIn(h);
    leases().remove(ALICE).await();
    await(lost.future());
    close(h);
    assertThat(lockIsFree()).isTrue();
  }

  /** RFC 1939 section 8: UPDATE re-checks the lease; a session that lost it must not delete. */
  @Test
  void quitAfterLeaseStolenDeletesNothing() throws Exception {
    Pop3Handler h = handlerIn("DELETED_2");
    Promise<Void> lost = Promise.promise();
    h.onLeaseLost(lost::tryComplete);
    leases().put(ALICE, "other-node#1", 10_000).await();
    // Default 30 s lease: renewal has not run yet, only UPDATE's own check can catch it.
    assertThat(status(call(h, "QUIT"))).isEqualTo("-ERR [SYS/TEMP] Maildrop lock lost, no messages deleted");
    assertThat(h.session().isQuit()).isTrue();
    assertThat(store.messages(ALICE)).hasSize(3);
    assertThat(leases().get(ALICE).await()).isEqualTo("other-node#1");
    // In UPDATE the QUIT reply ends the connection; the lost handler must not cut it short.
    assertThat(lost.future().isComplete()).isFalse();
  }

  /** The check before UPDATE also renews, so the deletion runs with a whole lease of margin. */
  @Test
  void quitWithLeaseHeldRenewsThenDeletes() throws Exception {
    Pop3Handler h = loggedIn(handler(60_000));
    call(h, "DELE 1");
    String token = leases().get(ALICE).await();
    leases().put(ALICE, token, 100).await(); // about to expire
    store.delayMs = 400; // a slow deletion, outliving that TTL
    Promise<Pop3Reply> reply = Promise.promise();
    ctx.runOnContext(v -> h.handle("QUIT").onComplete(reply));
    Thread.sleep(250);
    assertThat(leases().get(ALICE).await()).isEqualTo(token); // renewed before deleting, not expired
    assertThat(status(await(reply.future()))).startsWith("+OK");
    assertThat(store.messages(ALICE)).hasSize(2);
    assertThat(lockIsFree()).isTrue();
  }

  @Test
  void foreignLeaseMeansInUseWithoutWaiting() throws Exception {
    leases().put(ALICE, "other-node#7", 10_000).await();
    Pop3Handler h = handlerIn("USER_GIVEN");
    long t0 = System.nanoTime();
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).isEqualTo("-ERR [IN-USE] Maildrop already locked");
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(1_000);
    assertThat(leases().get(ALICE).await()).isEqualTo("other-node#7");
  }

  // --- helpers -------------------------------------------------------------------------------

  private Pop3Handler handler(long leaseMs) {
    return new Pop3Handler(vertx, new MailstoreClient(vertx, options.storeTimeoutMs()), options, leaseMs);
  }

  private Pop3Handler loggedIn(Pop3Handler h) throws Exception {
    call(h, "USER " + ALICE);
    assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).startsWith("+OK");
    return h;
  }

  private Pop3Handler handler() {
    return new Pop3Handler(vertx, new MailstoreClient(vertx, options.storeTimeoutMs()), options);
  }

  private Pop3Handler handlerIn(String state) throws Exception {
    Pop3Handler h = handler();
    switch (state) {
      case "AUTHORIZATION" -> { }
      case "USER_GIVEN" -> call(h, "USER " + ALICE);
      case "TRANSACTION", "DELETED_2" -> {
        call(h, "USER " + ALICE);
        assertThat(status(call(h, "PASS " + ALICE_PASSWORD))).startsWith("+OK");
        if (state.equals("DELETED_2")) {
          assertThat(status(call(h, "DELE 2"))).startsWith("+OK");
        }
      }
      default -> throw new IllegalArgumentException(state);
    }
    return h;
  }

  private String put(String content) {
    return store.put(ALICE, Buffer.buffer(content));
  }

  private static Pop3Reply call(Pop3Handler h, String line) throws Exception {
    return onContext(() -> h.handle(line));
  }

  /** Handlers are confined to one context, like a connection's event loop. */
  private static <T> T onContext(Supplier<Future<T>> action) throws Exception {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(v -> action.get().onComplete(p));
    return await(p.future());
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  private static void close(Pop3Handler h) throws Exception {
    onContext(h::close);
  }

  private static AsyncMap<String, String> leases() {
    return MaildropLock.leases(vertx).await();
  }

  /** No lease entry for ALICE in the lease map. */
  private static boolean lockIsFree() {
    return leases().get(ALICE).await() == null;
  }

  private static String status(Pop3Reply r) {
    String s = r.statusLine();
    return s.substring(0, s.length() - 2);
  }

  private static String text(Pop3Reply r) {
    return r.encode().toString(StandardCharsets.ISO_8859_1);
  }
}
