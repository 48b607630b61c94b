package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.smtp.protocol.DataDecoder;
import dev.mailserver.smtp.protocol.LineFramer;
import dev.mailserver.smtp.protocol.SmtpReply;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The handler without sockets: state + line -> reply, against the fake store. */
class SmtpHandlerTest extends TestSupport {

  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-21T10:15:30Z"), ZoneOffset.UTC);

  SmtpHandler handler(JsonObject smtp) {
    SmtpOptions o = SmtpOptions.fromConfig(config(smtp));
    return new SmtpHandler(o, new MailstoreClient(vertx, o.storeTimeoutMs()), "192.0.2.9", CLOCK);
  }

  static SmtpReply run(SmtpHandler h, String line) throws Exception {
    return h.onCommand(line).await(5, TimeUnit.SECONDS);
  }

  static String codes(SmtpReply r) {
    return r.code() + (r.enhanced() == null ? "" : " " + r.enhanced());
  }

  @ParameterizedTest(name = "[{0}] {1} -> {2}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      # setup (;-separated)                       | line                                      | reply
                                                  | NOOP                                      | 250 2.0.0
                                                  | noop anything                             | 250 2.0.0
                                                  | RSET                                      | 250 2.0.0
                                                  | RSET x                                    | 501 5.5.4
                                                  | HELP                                      | 214 2.0.0
                                                  | VRFY alice                                | 252 2.5.0
                                                  | VRFY                                      | 501 5.5.4
                                                  | EXPN list                                 | 502 5.5.1
                                                  | TURN                                      | 502 5.5.1
                                                  | ETRN example.test                         | 502 5.5.1
                                                  | STARTTLS                                  | 503 5.5.1
                                                  | AUTH PLAIN                                | 503 5.5.1
                                                  | BDAT ten                                  | 501 5.5.4
      EHLO c                                      | STARTTLS                                  | 502 5.5.1
      EHLO c                                      | AUTH PLAIN                                | 538 5.7.11
      EHLO c                                      | AUTH CRAM-MD5                             | 504 5.5.4
      EHLO c                                      | AUTH                                      | 501 5.5.4
      HELO c                                      | AUTH PLAIN                                | 503 5.5.1
      EHLO c                                      | BDAT                                      | 501 5.5.4
      EHLO c                                      | BDAT 10 LAST now                          | 501 5.5.4
      EHLO c                                      | BDAT -1                                   | 501 5.5.4
                                                  | FOO                                       | 500 5.5.2
                                                  | ""                                        | 500 5.5.2
                                                  | MAILFROM:<a@b.example>                    | 500 5.5.2
                                                  | QUIT                                      | 221 2.0.0
                                                  | QUIT now                                  | 501 5.5.4
                                                  | EHLO                                      | 501 5.5.4
                                                  | HELO                                      | 501 5.5.4
                                                  | EHLO client.example                       | 250
                                                  | HELO client.example                       | 250
                                                  | MAIL FROM:<a@b.example>                   | 503 5.5.1
                                                  | RCPT TO:<alice@example.test>              | 503 5.5.1
                                                  | DATA                                      | 503 5.5.1
      EHLO c                                      | RCPT TO:<alice@example.test>              | 503 5.5.1
      EHLO c                                      | DATA                                      | 503 5.5.1
      EHLO c                                      | MAIL FROM:<a@b.example>                   | 250 2.1.0
      EHLO c                                      | mail from:<a@b.example>                   | 250 2.1.0
      EHLO c                                      | MAIL FROM:<>                              | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE=1000         | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE=5000         | 552 5.3.4
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE=99999999999999999999 | 552 5.3.4
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE=00000000000000000001 | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE=12x          | 501 5.5.4
      EHLO c                                      | MAIL FROM:<a@b.example> SIZE              | 501 5.5.4
      EHLO c                                      | MAIL FROM:<a@b.example> BODY=8BITMIME     | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> BODY=7bit         | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> BODY=BINARYMIME   | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> BODY=BINARY       | 501 5.5.4
      EHLO c                                      | MAIL FROM:<a@b.example> SMTPUTF8          | 250 2.1.0
      EHLO c                                      | MAIL FROM:<a@b.example> SMTPUTF8=yes      | 501 5.5.4
      EHLO c                                      | MAIL FROM:<a@b.example> AUTH=<>           | 555 5.5.4
      EHLO c                                      | MAIL FROM:<a@b.example> RET=HDRS          | 555 5.5.4
      EHLO c                                      | MAIL FROM:<jörg@b.example>                | 553 5.6.7
      EHLO c                                      | MAIL FROM:<jörg@b.example> SMTPUTF8       | 250 2.1.0
      EHLO c                                      | MAIL FROM:a@b.example                     | 501 5.1.7
      EHLO c                                      | MAIL FROM:<a b@b.example>                 | 501 5.1.7
      EHLO c                                      | MAIL TO:<a@b.example>                     | 501 5.5.4
      EHLO c                                      | MAIL                                      | 501 5.5.4
      HELO c                                      | MAIL FROM:<a@b.example>                   | 250 2.1.0
      HELO c                                      | MAIL FROM:<a@b.example> SIZE=10           | 555 5.5.4
      HELO c                                      | MAIL FROM:<a@b.example> BODY=8BITMIME     | 555 5.5.4
      HELO c                                      | MAIL FROM:<jörg@b.example>                | 553 5.6.7
      EHLO c;MAIL FROM:<>                         | MAIL FROM:<>                              | 503 5.5.1
      EHLO c;MAIL FROM:<>                         | DATA                                      | 554 5.5.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<alice@example.test>              | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<ALICE@Example.Test>              | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO: <alice@example.test>             | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<"alice"@example.test>            | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<@relay.example:alice@example.test> | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<carol@other.test>                | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<postmaster>                      | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<PostMaster>                      | 250 2.1.5
      EHLO c;MAIL FROM:<>                         | RCPT TO:<nobody@example.test>             | 550 5.1.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<"a b"@example.test>              | 550 5.1.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<a/b@example.test>                | 550 5.1.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<alice@elsewhere.example>         | 550 5.7.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<alice@sub.example.test>          | 550 5.7.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<alice@[127.0.0.1]>               | 550 5.7.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<alice@example.test> NOTIFY=NEVER | 555 5.5.4
      EHLO c;MAIL FROM:<>                         | RCPT TO:<jörg@example.test>               | 553 5.6.7
      EHLO c;MAIL FROM:<> SMTPUTF8                | RCPT TO:<jörg@example.test>               | 550 5.1.1
      EHLO c;MAIL FROM:<>                         | RCPT TO:<>                                | 501 5.1.3
      EHLO c;MAIL FROM:<>                         | RCPT TO:alice@example.test                | 501 5.1.3
      EHLO c;MAIL FROM:<>                         | RCPT FROM:<alice@example.test>            | 501 5.5.4
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test> | DATA                                 | 354
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test> | DATA now                             | 501 5.5.4
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test> | MAIL FROM:<>                         | 503 5.5.1
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test> | RCPT TO:<bob@example.test>           | 250 2.1.5
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;RSET | RCPT TO:<bob@example.test>      | 503 5.5.1
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;RSET | MAIL FROM:<>                    | 250 2.1.0
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;EHLO d | DATA                          | 503 5.5.1
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;HELO d | MAIL FROM:<> SIZE=1           | 555 5.5.4
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;NOOP | DATA                            | 354
      EHLO c;MAIL FROM:<>;RCPT TO:<nobody@example.test> | DATA                                | 554 5.5.1
      """)
  void replies(String setup, String line, String expected) throws Exception {
    SmtpHandler h = handler(new JsonObject().put("maxMessageSize", 4096));
    if (setup != null) {
      for (String s : setup.split(";")) {
        run(h, s.trim());
      }
    }
    assertThat(codes(run(h, line))).isEqualTo(expected);
  }

  @Test
  void ehloAdvertisesTheExtensionsAndHeloNone() throws Exception {
    SmtpHandler h = handler(new JsonObject().put("maxMessageSize", 12345));
    SmtpReply ehlo = run(h, "EHLO client.example");
    assertThat(ehlo.lines()).containsExactly(HOST, "PIPELINING", "SIZE 12345", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
        "CHUNKING", "BINARYMIME");
    assertThat(ehlo.enhanced()).isNull();
    assertThat(h.session().extended()).isTrue();
    SmtpReply helo = run(h, "HELO client.example");
    assertThat(helo.lines()).containsExactly(HOST);
    assertThat(h.session().extended()).isFalse();
  }

  @Test
  void recipientLimitCountsDistinctMailboxes() throws Exception {
    SmtpHandler h = handler(new JsonObject().put("maxRecipients", 2));
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    assertThat(codes(run(h, "RCPT TO:<alice@example.test>"))).isEqualTo("250 2.1.5");
    assertThat(codes(run(h, "RCPT TO:<bob@example.test>"))).isEqualTo("250 2.1.5");
    assertThat(codes(run(h, "RCPT TO:<postmaster@example.test>"))).isEqualTo("452 4.5.3");
    assertThat(codes(run(h, "RCPT TO:<ALICE@example.test>"))).as("duplicate").isEqualTo("250 2.1.5");
    assertThat(h.session().transaction().recipients()).containsExactly("alice@example.test", "bob@example.test");
  }

  @Test
  void dataBuildsOneRequestWithTraceHeaderAndDeduplicatedRecipients() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO client.example");
    run(h, "MAIL FROM:<Sender@Remote.example>");
    run(h, "RCPT TO:<Bob@example.test>");
    run(h, "RCPT TO:<alice@example.test>");
    run(h, "RCPT TO:<bob@EXAMPLE.test>");
    run(h, "RCPT TO:<postmaster>");
    assertThat(codes(run(h, "DATA"))).isEqualTo("354");
    String queueId = h.session().transaction().queueId();
    DataDecoder d = h.dataDecoder();
    Buffer wire = Buffer.buffer("Subject: hi\r\n\r\n..dot\r\n.\r\n");
    assertThat(d.feed(wire, 0, wire.length())).isEqualTo(wire.length());
    SmtpReply r = h.onDataEnd().await(5, TimeUnit.SECONDS);
    assertThat(r.toString()).isEqualTo("250 2.0.0 Ok: queued as " + queueId);
    assertThat(h.session().state()).isEqualTo(SmtpState.GREETED);
    assertThat(h.session().transaction()).isNull();

    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(req.deliveryId()).isEqualTo(queueId);
    assertThat(req.sender()).isEqualTo("Sender@Remote.example");
    assertThat(req.recipients()).containsExactly("bob@example.test", "alice@example.test", "postmaster@example.test");
    assertThat(req.content().toString(StandardCharsets.UTF_8)).isEqualTo(
        "Received: from client.example ([192.0.2.9])\r\n"
            + "\tby mail.example.test with ESMTP id " + queueId + "; Sat, 21 Nov 2026 10:15:30 +0000\r\n"
            + "Subject: hi\r\n\r\n.dot\r\n");
  }

  @Test
  void traceHeaderNamesASingleRecipientAndTheProtocol() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "HELO old.client");
    run(h, "MAIL FROM:<>");
    run(h, "RCPT TO:<alice@example.test>");
    run(h, "DATA");
    String id = h.session().transaction().queueId();
    h.dataDecoder().feed(Buffer.buffer("x\r\n.\r\n"));
    assertThat(h.onDataEnd().await(5, TimeUnit.SECONDS).code()).isEqualTo(250);
    assertThat(store.deliveries().get(0).content().toString()).startsWith(
        "Received: from old.client ([192.0.2.9])\r\n\tby mail.example.test with SMTP id " + id
            + "\r\n\tfor <alice@example.test>; Sat, 21 Nov 2026 10:15:30 +0000\r\nx\r\n");

    run(h, "EHLO new.client");
    run(h, "MAIL FROM:<> SMTPUTF8");
    run(h, "RCPT TO:<alice@example.test>");
    run(h, "DATA");
    h.dataDecoder().feed(Buffer.buffer("x\r\n.\r\n"));
    h.onDataEnd().await(5, TimeUnit.SECONDS);
    assertThat(store.deliveries().get(1).content().toString()).contains(" with UTF8SMTP id ");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      STORAGE_FAILURE   | 451 4.3.0
      UNAVAILABLE       | 451 4.3.0
      INTERNAL          | 451 4.3.0
      TOO_LARGE         | 552 5.3.4
      MAILBOX_NOT_FOUND | 550 5.1.1
      INVALID_REQUEST   | 554 5.3.0
      """)
  void storeFailuresMapToReplies(MailstoreError error, String expected) throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    run(h, "RCPT TO:<alice@example.test>");
    run(h, "DATA");
    h.dataDecoder().feed(Buffer.buffer("x\r\n.\r\n"));
    store.failNext(error);
    assertThat(codes(h.onDataEnd().await(5, TimeUnit.SECONDS))).isEqualTo(expected);
    assertThat(store.deliveries()).isEmpty();
    // The transaction is gone whatever happened.
    assertThat(codes(run(h, "RCPT TO:<alice@example.test>"))).isEqualTo("503 5.5.1");
  }

  @Test
  void lookupFailureIsTemporary() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    store.failNext(MailstoreError.STORAGE_FAILURE);
    assertThat(codes(run(h, "RCPT TO:<alice@example.test>"))).isEqualTo("451 4.3.0");
    assertThat(codes(run(h, "RCPT TO:<alice@example.test>"))).isEqualTo("250 2.1.5");
  }

  @Test
  void contentProblemsAreRefusedAndNothingIsStored() throws Exception {
    SmtpHandler h = handler(new JsonObject().put("maxMessageSize", 10).put("bareLineEndings", "reject"));
    String[][] cases = {
        {"0123456789x\r\n.\r\n", "552 5.3.4"},
        {"a\0b\r\n.\r\n", "554 5.6.0"},
        {"a\nb\r\n.\r\n", "550 5.6.0"},
        {"ok\r\n.\r\n", "250 2.0.0"},
    };
    run(h, "EHLO c");
    for (String[] c : cases) {
      run(h, "MAIL FROM:<>");
      run(h, "RCPT TO:<alice@example.test>");
      assertThat(codes(run(h, "DATA"))).isEqualTo("354");
      h.dataDecoder().feed(Buffer.buffer(c[0]));
      assertThat(codes(h.onDataEnd().await(5, TimeUnit.SECONDS))).as(c[0]).isEqualTo(c[1]);
    }
    assertThat(store.deliveries()).hasSize(1);
  }

  @Test
  void rawLinesWithNulCrOrBadUtf8AreRefused() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    assertThat(codes(line(h, new byte[] {'N', 'O', 0, 'P'}))).isEqualTo("500 5.5.2");
    assertThat(codes(line(h, new byte[] {'N', 'O', '\r', 'P'}))).isEqualTo("500 5.5.2");
    assertThat(codes(line(h, new byte[] {'N', 'O', 'O', 'P', ' ', (byte) 0xff}))).isEqualTo("500 5.5.2");
    assertThat(codes(line(h, "NOOP é".getBytes(StandardCharsets.UTF_8)))).isEqualTo("250 2.0.0");
    assertThat(codes(h.onLine(new LineFramer.Line(null, true, false)).await())).isEqualTo("500 5.5.6");
  }

  private static SmtpReply line(SmtpHandler h, byte[] b) throws Exception {
    return h.onLine(new LineFramer.Line(Buffer.buffer(b), false, false)).await(5, TimeUnit.SECONDS);
  }

  @Test
  void tooManyProtocolErrorsCloseTheSession() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    for (int i = 1; i < SmtpHandler.HARD_ERROR_LIMIT; i++) {
      assertThat(codes(run(h, "BOGUS"))).isEqualTo("500 5.5.2");
    }
    SmtpReply last = run(h, "BOGUS");
    assertThat(codes(last)).isEqualTo("421 4.7.0");
    assertThat(last.closesConnection()).isTrue();
    assertThat(h.session().state()).isEqualTo(SmtpState.CLOSED);
  }

  // Shutdown drain (SmtpHandler#onShutdown): RFC 5321 section 3.8 lets a server end any session with
  // 421; we only do it where no transaction would be cut.

  @ParameterizedTest(name = "[{0}] -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
                                                          | 421 4.3.2
      EHLO c                                              | 421 4.3.2
      EHLO c;MAIL FROM:<>;RSET                            | 421 4.3.2
      EHLO c;MAIL FROM:<>                                 | go on
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>    | go on
      EHLO c;MAIL FROM:<>;RCPT TO:<alice@example.test>;DATA | go on
      """)
  void shutdownEndsIdleSessionsAndLetsTransactionsGoOn(String setup, String expected) throws Exception {
    SmtpHandler h = handler(new JsonObject());
    if (setup != null) {
      for (String s : setup.split(";")) {
        run(h, s.trim());
      }
    }
    SmtpReply r = h.onShutdown();
    assertThat(r == null ? "go on" : codes(r)).isEqualTo(expected);
    if (r != null) {
      assertThat(r.closesConnection()).isTrue();
      assertThat(h.session().state()).isEqualTo(SmtpState.CLOSED);
    }
  }

  @Test
  void whileDrainingTheTransactionFinishesAndItsLastReplyIsFollowedBy421() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    assertThat(h.onShutdown()).isNull();
    assertThat(codes(run(h, "RCPT TO:<alice@example.test>"))).isEqualTo("250 2.1.5");
    assertThat(h.drainPoint()).isNull();
    assertThat(codes(run(h, "DATA"))).isEqualTo("354");
    assertThat(h.drainPoint()).isNull();
    h.dataDecoder().feed(Buffer.buffer("Subject: drain\r\n\r\nbody\r\n.\r\n"));
    assertThat(codes(h.onDataEnd().await(5, TimeUnit.SECONDS))).isEqualTo("250 2.0.0");
    assertThat(store.deliveries()).hasSize(1);
    assertThat(codes(h.drainPoint())).isEqualTo("421 4.3.2");
    assertThat(h.session().state()).isEqualTo(SmtpState.CLOSED);
  }

  @Test
  void aDeliveryWaitingForTheStoreIsNotIdle() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    run(h, "RCPT TO:<alice@example.test>");
    run(h, "DATA");
    h.dataDecoder().feed(Buffer.buffer("x\r\n.\r\n"));
    store.delayMs = 300;
    var pending = h.onDataEnd();
    assertThat(pending.isComplete()).isFalse();
    // The session state is GREETED again already; only the pending delivery makes it busy.
    assertThat(h.session().state()).isEqualTo(SmtpState.GREETED);
    assertThat(h.onShutdown()).isNull();
    assertThat(codes(pending.await(5, TimeUnit.SECONDS))).isEqualTo("250 2.0.0");
    assertThat(codes(h.drainPoint())).isEqualTo("421 4.3.2");
  }

  @ParameterizedTest
  @ValueSource(strings = {"NOOP", "RSET", "QUIT", "MAIL FROM:<>", "EHLO c", "VRFY alice", "HELP", "BOGUS"})
  void whileDrainingCommandsOtherThanRcptAndDataGet421(String line) throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<>");
    run(h, "RCPT TO:<alice@example.test>");
    assertThat(h.onShutdown()).isNull();
    SmtpReply r = run(h, line);
    assertThat(codes(r)).isEqualTo("421 4.3.2");
    assertThat(r.closesConnection()).isTrue();
    assertThat(h.session().state()).isEqualTo(SmtpState.CLOSED);
  }

  // AUTH throttle (LoginThrottle): a locked account or address is answered without asking the store.

  @Test
  void lockedAccountGets454WithoutAskingTheStore() throws Exception {
    // Lock after 2 failures, for a minute; no delays (no Vert.x timers in this handler).
    dev.mailserver.common.security.LoginThrottle throttle = new dev.mailserver.common.security.LoginThrottle(
        new dev.mailserver.common.security.LoginThrottle.Settings(5, 1, 1, 2, 60_000, 60_000, 100));
    SmtpOptions o = SmtpOptions.fromConfig(config(new JsonObject()));
    MailstoreClient client = new MailstoreClient(vertx, o.storeTimeoutMs());
    SmtpHandler h = new SmtpHandler(o, client, "192.0.2.9", CLOCK, SmtpMetrics.detached(), Listener.SMTPS, true, throttle, null);
    String good = java.util.Base64.getEncoder().encodeToString("\0alice@example.test\0secret".getBytes(StandardCharsets.UTF_8));
    String bad = java.util.Base64.getEncoder().encodeToString("\0alice@example.test\0guess".getBytes(StandardCharsets.UTF_8));
    run(h, "EHLO c");
    assertThat(codes(run(h, "AUTH PLAIN " + bad))).isEqualTo("535 5.7.8");
    assertThat(codes(run(h, "AUTH PLAIN " + bad))).isEqualTo("535 5.7.8");
    // Locked: even the right password is not checked (the store would accept it).
    assertThat(codes(run(h, "AUTH PLAIN " + good))).isEqualTo("454 4.7.0");
    assertThat(h.session().authenticatedUser()).isNull();
    // The account is locked from another address too; another account from another address is not.
    SmtpHandler other = new SmtpHandler(o, client, "198.51.100.1", CLOCK, SmtpMetrics.detached(), Listener.SMTPS, true, throttle, null);
    run(other, "EHLO c");
    assertThat(codes(run(other, "AUTH PLAIN " + good))).isEqualTo("454 4.7.0");
    String bob = java.util.Base64.getEncoder().encodeToString("\0bob@example.test\0secret".getBytes(StandardCharsets.UTF_8));
    assertThat(codes(run(other, "AUTH PLAIN " + bob))).isEqualTo("235 2.7.0");
  }

  @ParameterizedTest
  @CsvSource({"false,false,false,false,SMTP", "true,false,false,false,ESMTP", "true,false,true,false,ESMTPS",
      "true,false,false,true,ESMTPA", "true,false,true,true,ESMTPSA", "true,true,false,false,UTF8SMTP",
      "true,true,true,false,UTF8SMTPS", "true,true,false,true,UTF8SMTPA", "true,true,true,true,UTF8SMTPSA",
      "false,false,true,true,SMTP"})
  void withProtocolFollowsRfc3848AndRfc6531(boolean ehlo, boolean utf8, boolean tls, boolean auth, String expected) {
    assertThat(ReceivedHeader.protocol(ehlo, utf8, tls, auth)).isEqualTo(expected);
  }

  @Test
  void bdatChunksAreAnsweredAfterTheirOctets() throws Exception {
    SmtpHandler h = handler(new JsonObject());
    run(h, "EHLO c");
    run(h, "MAIL FROM:<> BODY=BINARYMIME");
    run(h, "RCPT TO:<alice@example.test>");
    assertThat(h.onCommand("BDAT 4").await(5, TimeUnit.SECONDS)).as("no reply before the chunk").isNull();
    assertThat(h.contentSink()).isNotNull();
    Buffer b = Buffer.buffer("a\0\r\n");
    assertThat(h.contentSink().feed(b, 0, b.length())).isEqualTo(4);
    assertThat(h.onContentEnd().await(5, TimeUnit.SECONDS).toString()).isEqualTo("250 2.0.0 Ok: 4 octets received");
    assertThat(h.contentSink()).isNull();
    assertThat(codes(run(h, "DATA"))).as("RFC 3030 section 3").isEqualTo("503 5.5.1");
    assertThat(h.onCommand("BDAT 0 LAST").await(5, TimeUnit.SECONDS)).isNull();
    assertThat(h.contentSink().isDone()).isTrue();
    assertThat(codes(h.onContentEnd().await(5, TimeUnit.SECONDS))).as("failed until RSET").isEqualTo("503 5.5.1");
    assertThat(store.deliveries()).isEmpty();
  }
}
