package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * STLS (RFC 2595), POP3S (RFC 8314), the plaintext-authentication policy (RFC 2595 section 2.1) and
 * AUTH PLAIN (RFC 5034, RFC 4616) over real sockets, with the production defaults
 * ({@code allowPlaintextAuth: false}, TLS on).
 */
class Pop3TlsTest {

  static final String M1 = "From: bob@example.test\r\nSubject: over tls\r\n\r\n.dotted line\r\nbody\r\n";

  TestServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Production defaults for the rules under test; POP3S on an ephemeral port. */
  private TestServer start() {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", false).put("pop3sPort", 0), true);
    server.put(ALICE, M1);
    return server;
  }

  static String plain(String authzid, String authcid, String password) {
    return Base64.getEncoder().encodeToString((authzid + "\0" + authcid + "\0" + password).getBytes(StandardCharsets.UTF_8));
  }

  // --- before TLS ----------------------------------------------------------------------------

  /** RFC 2595 section 2.1 / RFC 2449 section 5: CAPA offers STLS, not USER and not SASL PLAIN. */
  @Test
  void capaBeforeTlsOffersStlsButNoPlaintextLogin() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(c.capa()).containsExactly("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS",
          "IMPLEMENTATION mailserver-pop3");
    }
  }

  @Test
  void plaintextLoginIsRefusedBeforeTls() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      String refused = "-ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS";
      assertThat(c.command("USER " + ALICE)).isEqualTo(refused);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo(refused);
      assertThat(c.command("AUTH PLAIN " + plain("", ALICE, ALICE_PASSWORD))).isEqualTo(refused);
      assertThat(c.command("AUTH PLAIN")).isEqualTo(refused);
      // The mechanism probe lists nothing usable now.
      assertThat(c.command("AUTH")).startsWith("+OK");
      assertThat(c.readMultiLine()).isEmpty();
      assertThat(c.command("STAT")).isEqualTo("-ERR Command not valid in this state");
    }
  }

  // --- STLS ----------------------------------------------------------------------------------

  /** RFC 2595 section 4: after STLS, CAPA reflects the new state: no STLS, USER and SASL PLAIN offered. */
  @Test
  void stlsThenCapaChangesAndLoginWorks() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.command("STLS")).isEqualTo("+OK Begin TLS negotiation");
      c.startTls();
      assertThat(((SSLSocket) c.socket()).getSession().getProtocol()).isIn("TLSv1.2", "TLSv1.3");
      assertThat(c.capa()).containsExactly("USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
          "SASL PLAIN", "IMPLEMENTATION mailserver-pop3");
      assertThat(c.command("STLS")).isEqualTo("-ERR Command not permitted when TLS active");
      assertThat(c.command("USER " + ALICE)).startsWith("+OK");
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("+OK maildrop has 1 messages (" + M1.length() + " octets)");
      assertThat(c.command("RETR 1")).isEqualTo("+OK " + M1.length() + " octets");
      assertThat(String.join("\r\n", c.readMultiLine()) + "\r\n").isEqualTo(M1);
      assertThat(c.command("QUIT")).startsWith("+OK");
    }
  }

  /**
   * The STARTTLS-injection class: plaintext pipelined behind STLS in the same write must be dropped,
   * never executed after the handshake. Here USER would have been accepted (TLS is active by then),
   * so PASS after the handshake would log in; it must get "Send USER first".
   */
  @Test
  void commandsPipelinedBehindStlsAreDiscarded() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.sendRaw("STLS\r\nUSER " + ALICE + "\r\n");
      assertThat(c.readLine()).isEqualTo("+OK Begin TLS negotiation");
      c.startTls();
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR Send USER first");
      assertThat(c.command("NOOP")).isEqualTo("-ERR Command not valid in this state");
    }
  }

  /**
   * The same with the injected line in a later segment, sent before the client has seen the +OK
   * (as a man in the middle would): it must never be executed. Either it is dropped before the
   * switch, or it reaches the TLS layer as garbage and the handshake fails; it never becomes a
   * command.
   */
  @Test
  void plaintextSentSeparatelyBehindStlsIsNeverExecuted() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.send("STLS");
      c.send("USER " + ALICE);
      assertThat(c.readLine()).isEqualTo("+OK Begin TLS negotiation");
      boolean handshook;
      try {
        c.startTls();
        handshook = true;
      } catch (IOException e) {
        handshook = false;
      }
      if (handshook) {
        assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR Send USER first");
      }
    }
    assertThat(server.leaseHolder(ALICE)).isNull();
  }

  /**
   * Plaintext that reaches the server while it is busy with an earlier command (reads paused, so
   * Vert.x queues it): STLS and an injected USER in separate segments behind a slow PASS. The USER
   * must still be dropped, not delivered to the fresh parser after the handshake.
   */
  @Test
  void plaintextQueuedWhileTheServerIsBusyIsDiscardedToo() throws Exception {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", true), true);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.command("USER " + ALICE)).startsWith("+OK");
      server.store.delayMs = 300;
      c.send("PASS wrong");
      Thread.sleep(60);
      c.send("STLS");
      Thread.sleep(60);
      c.send("USER " + ALICE);
      assertThat(c.readLine()).isEqualTo("-ERR [AUTH] Invalid credentials");
      assertThat(c.readLine()).isEqualTo("+OK Begin TLS negotiation");
      server.store.delayMs = 0;
      c.startTls();
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR Send USER first");
    }
  }

  /** RFC 2595 section 4: a USER given in the clear is forgotten by the switch to TLS. */
  @Test
  void userGivenBeforeStlsIsForgotten() throws IOException {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", true), true);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.command("USER " + ALICE)).startsWith("+OK");
      c.stls();
      assertThat(c.command("PASS " + ALICE_PASSWORD)).isEqualTo("-ERR Send USER first");
    }
  }

  @Test
  void stlsIsOnlyValidInAuthorization() throws IOException {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", true), true);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).startsWith("+OK");
      assertThat(c.command("STLS")).isEqualTo("-ERR Command not valid in this state");
      assertThat(c.command("NOOP")).isEqualTo("+OK");
    }
  }

  /** allowPlaintextAuth: USER/PASS and SASL PLAIN before TLS, CAPA says so, STLS still offered. */
  @Test
  void allowPlaintextAuthPermitsLoginWithoutTls() throws IOException {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", true), true);
    server.put(ALICE, M1);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.capa()).contains("USER", "SASL PLAIN", "STLS");
      assertThat(c.command("AUTH PLAIN " + plain("", ALICE, ALICE_PASSWORD))).startsWith("+OK maildrop has 1 messages");
    }
  }

  /** tls.enabled false: no STLS (not offered, refused), no POP3S listener. */
  @Test
  void tlsDisabledMeansNoStlsAndNoPop3s() throws IOException {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", true).put("pop3sPort", 0),
        new JsonObject().put("tls", new JsonObject().put("enabled", false)), true, new Pop3Verticle());
    assertThat(server.verticle.actualPop3sPort()).isEqualTo(-1);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.capa()).doesNotContain("STLS").contains("USER");
      assertThat(c.command("STLS")).isEqualTo("-ERR STLS not available");
      assertThat(c.command("NOOP")).isEqualTo("-ERR Command not valid in this state");
    }
  }

  /** tls.enabled false and no plaintext: nobody can log in, and the server says why. */
  @Test
  void tlsDisabledWithoutPlaintextRefusesLogin() throws IOException {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", false),
        new JsonObject().put("tls", new JsonObject().put("enabled", false)), true, new Pop3Verticle());
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      assertThat(c.command("USER " + ALICE)).isEqualTo("-ERR [AUTH] Plaintext authentication disallowed without TLS");
      assertThat(c.capa()).doesNotContain("USER", "STLS", "SASL PLAIN");
    }
  }

  // --- POP3S ---------------------------------------------------------------------------------

  /** RFC 8314 section 3.3: implicit TLS; the session is secure from the greeting on. */
  @Test
  void pop3sIsTlsFromTheFirstByte() throws IOException {
    Logger logger = (Logger) LoggerFactory.getLogger(Pop3Verticle.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try {
      start();
    } finally {
      logger.detachAppender(appender);
    }
    assertThat(server.pop3sPort).isPositive().isNotEqualTo(server.port);
    assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
        .contains("POP3S listening on 127.0.0.1:" + server.pop3sPort);
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server ready");
      List<String> caps = c.capa();
      assertThat(caps).contains("USER", "SASL PLAIN").doesNotContain("STLS");
      assertThat(c.command("STLS")).isEqualTo("-ERR Command not permitted when TLS active");
      assertThat(c.command("USER " + ALICE)).startsWith("+OK");
      assertThat(c.command("PASS " + ALICE_PASSWORD)).startsWith("+OK maildrop has 1 messages");
      assertThat(c.command("RETR 1")).startsWith("+OK");
      assertThat(String.join("\r\n", c.readMultiLine()) + "\r\n").isEqualTo(M1);
      assertThat(c.command("QUIT")).startsWith("+OK");
    }
  }

  /** A plaintext client on the POP3S port gets no greeting and no session. */
  @Test
  void plaintextOnThePop3sPortGetsNothing() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.plain(server.pop3sPort)) {
      c.send("USER " + ALICE);
      String line = c.readLine();
      assertThat(line == null || !line.startsWith("+OK")).as("reply %s", line).isTrue();
    }
  }

  // --- AUTH PLAIN (RFC 5034, RFC 4616) --------------------------------------------------------

  @Test
  void authPlainWithInitialResponse() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      assertThat(c.command("AUTH PLAIN " + plain("", ALICE, ALICE_PASSWORD))).startsWith("+OK maildrop has 1 messages");
      assertThat(c.command("STAT")).isEqualTo("+OK 1 " + M1.length());
    }
  }

  /** RFC 5034 section 4: no initial response -> "+ " and the response on its own line. */
  @Test
  void authPlainWithContinuation() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      assertThat(c.command("AUTH PLAIN")).isEqualTo("+ ");
      assertThat(c.command(plain(ALICE, ALICE, ALICE_PASSWORD))).startsWith("+OK maildrop has 1 messages");
    }
  }

  /** RFC 5034 section 4: "*" cancels with -ERR; bad base64 is -ERR; the session goes on. */
  @Test
  void authAbortAndBadBase64() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      assertThat(c.command("AUTH PLAIN")).isEqualTo("+ ");
      assertThat(c.command("*")).isEqualTo("-ERR Authentication cancelled");
      assertThat(c.command("AUTH PLAIN")).isEqualTo("+ ");
      assertThat(c.command("not base64 !")).isEqualTo("-ERR Invalid base64 data");
      assertThat(c.command("AUTH PLAIN ####")).isEqualTo("-ERR Invalid base64 data");
      // The line after a finished exchange is a command again.
      assertThat(c.command("CAPA")).startsWith("+OK");
      c.readMultiLine();
      assertThat(c.command("AUTH PLAIN")).isEqualTo("+ ");
      assertThat(c.command(plain("", ALICE, "wrong"))).isEqualTo("-ERR [AUTH] Invalid credentials");
      assertThat(c.command("AUTH PLAIN " + plain("", ALICE, ALICE_PASSWORD))).startsWith("+OK");
    }
  }

  /** RFC 4616 section 2: the authorization identity must be empty or the authentication identity. */
  @Test
  void authPlainRefusesAnotherAuthorizationIdentity() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      assertThat(c.command("AUTH PLAIN " + plain(TestServer.BOB, ALICE, ALICE_PASSWORD)))
          .isEqualTo("-ERR [AUTH] Authorization identity must be empty or equal the authentication identity");
      assertThat(c.command("AUTH PLAIN " + plain("Alice@Example.Test", ALICE, ALICE_PASSWORD))).startsWith("+OK");
    }
    assertThat(server.leaseHolder(TestServer.BOB)).isNull();
  }

  @Test
  void authPlainMalformedAndUnknownMechanism() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      String onlyTwoParts = Base64.getEncoder().encodeToString((ALICE + "\0" + ALICE_PASSWORD).getBytes(StandardCharsets.UTF_8));
      assertThat(c.command("AUTH PLAIN " + onlyTwoParts)).isEqualTo("-ERR Malformed PLAIN response");
      assertThat(c.command("AUTH PLAIN " + plain("", ALICE, ""))).isEqualTo("-ERR Malformed PLAIN response");
      assertThat(c.command("AUTH PLAIN =")).isEqualTo("-ERR Malformed PLAIN response");
      assertThat(c.command("AUTH CRAM-MD5")).isEqualTo("-ERR Unsupported authentication mechanism");
      assertThat(c.command("AUTH")).startsWith("+OK");
      assertThat(c.readMultiLine()).containsExactly("PLAIN");
    }
  }

  /** A SASL response longer than a command line (RFC 5034 section 4) is accepted. */
  @Test
  void longSaslResponseIsAccepted() throws IOException {
    start();
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      c.readLine();
      String response = plain(ALICE, ALICE, "x".repeat(400));
      assertThat(response.length()).isGreaterThan(Pop3Connection.MAX_COMMAND_LINE);
      assertThat(c.command("AUTH PLAIN")).isEqualTo("+ ");
      assertThat(c.command(response)).isEqualTo("-ERR [AUTH] Invalid credentials");
      // Back to the command-line limit afterwards.
      assertThat(c.command("NOOP " + "y".repeat(300))).isEqualTo("-ERR Line too long");
    }
  }
}
