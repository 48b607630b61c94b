package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.testing.LineClient;
import dev.mailserver.pop3.protocol.DotDecoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Socket dialogues against the real verticle, a FakeMailstore behind the event bus. */
class Pop3DialogueTest {

  static final String M1 = "From: bob@example.test\r\nSubject: first\r\n\r\nHello Alice\r\n";
  static final String M2 = "From: carol@example.test\r\nSubject: second\r\n\r\nline one\r\nline two\r\nline three\r\n";

  TestServer server;
  String id1;

  @BeforeEach
  void start() {
    server = TestServer.start();
    id1 = server.put(ALICE, M1);
    server.put(ALICE, M2);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void fullSession() throws IOException {
    try (LineClient c = new LineClient("127.0.0.1", server.port)) {
      assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server ready");
      c.send("CAPA");
      assertThat(c.readLine()).isEqualTo("+OK Capability list follows");
      // allowPlaintextAuth (TestServer's default): USER and SASL PLAIN offered; TLS is on: STLS too.
      assertThat(readMultiLine(c)).containsExactly("USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
          "SASL PLAIN", "STLS", "IMPLEMENTATION mailserver-pop3");
      c.send("USER " + ALICE);
      assertThat(c.readLine()).startsWith("+OK");
      c.send("PASS " + ALICE_PASSWORD);
      int total = M1.length() + M2.length();
      assertThat(c.readLine()).isEqualTo("+OK maildrop has 2 messages (" + total + " octets)");
      c.send("STAT");
      assertThat(c.readLine()).isEqualTo("+OK 2 " + total);
      c.send("LIST");
      assertThat(c.readLine()).isEqualTo("+OK 2 messages (" + total + " octets)");
      assertThat(readMultiLine(c)).containsExactly("1 " + M1.length(), "2 " + M2.length());
      c.send("LIST 2");
      assertThat(c.readLine()).isEqualTo("+OK 2 " + M2.length());
      c.send("UIDL");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(readMultiLine(c)).hasSize(2).allMatch(l -> l.matches("[12] uid-m\\d+"));
      c.send("RETR 1");
      assertThat(c.readLine()).isEqualTo("+OK " + M1.length() + " octets");
      assertThat(new String(c.readPop3MultiLineRaw(), StandardCharsets.US_ASCII)).isEqualTo(M1);
      c.send("TOP 2 1");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(readMultiLine(c)).containsExactly("From: carol@example.test", "Subject: second", "", "line one");
      c.send("NOOP");
      assertThat(c.readLine()).isEqualTo("+OK");
      c.send("DELE 1");
      assertThat(c.readLine()).isEqualTo("+OK Message 1 deleted");
      c.send("STAT");
      assertThat(c.readLine()).isEqualTo("+OK 1 " + M2.length());
      c.send("QUIT");
      assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server signing off (1 message left)");
      assertThat(c.isClosedByServer()).isTrue();
    }
    assertThat(messages()).containsExactly(M2);
  }

  /** RFC 2449 section 6.6: commands sent in one write are answered in order, even with a slow store. */
  @Test
  void pipelinedCommandsAreAnsweredInOrder() throws IOException {
    server.store.delayMs = 30;
    try (LineClient c = server.connect()) {
      c.sendRaw("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\nSTAT\r\nLIST\r\nRETR 2\r\nNOOP\r\nBOGUS\r\n"
          + "DELE 1\r\nLIST 1\r\nUIDL 2\r\nQUIT\r\n");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(c.readLine()).startsWith("+OK maildrop has 2 messages");
      assertThat(c.readLine()).startsWith("+OK 2 ");
      assertThat(c.readLine()).startsWith("+OK 2 messages");
      assertThat(readMultiLine(c)).hasSize(2);
      assertThat(c.readLine()).isEqualTo("+OK " + M2.length() + " octets");
      assertThat(new String(c.readPop3MultiLineRaw(), StandardCharsets.US_ASCII)).isEqualTo(M2);
      assertThat(c.readLine()).isEqualTo("+OK");
      assertThat(c.readLine()).isEqualTo("-ERR Unknown command");
      assertThat(c.readLine()).isEqualTo("+OK Message 1 deleted");
      assertThat(c.readLine()).isEqualTo("-ERR No such message");
      assertThat(c.readLine()).startsWith("+OK 2 uid-");
      assertThat(c.readLine()).startsWith("+OK mail.example.test POP3 server signing off");
      assertThat(c.isClosedByServer()).isTrue();
    }
    assertThat(messages()).containsExactly(M2);
  }

  /** Many pipelined commands in one write: no stack overflow, no reordering, nothing lost. */
  @Test
  void longPipelinedBurst() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.sendRaw("NOOP\r\nSTAT\r\n".repeat(2000));
      for (int i = 0; i < 2000; i++) {
        assertThat(c.readLine()).isEqualTo("+OK");
        assertThat(c.readLine()).startsWith("+OK 2 ");
      }
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK");
    }
  }

  @Test
  void wrongPasswordAndUnknownUserGetAuthCodeAndNoAccess() throws IOException {
    try (LineClient c = server.connect()) {
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS wrong");
      assertThat(c.readLine()).isEqualTo("-ERR [AUTH] Invalid credentials");
      c.send("STAT");
      assertThat(c.readLine()).isEqualTo("-ERR Command not valid in this state");
      c.send("USER nobody@example.test");
      assertThat(c.readLine()).startsWith("+OK");
      c.send("PASS " + ALICE_PASSWORD);
      assertThat(c.readLine()).isEqualTo("-ERR [AUTH] Invalid credentials");
      c.send("PASS " + ALICE_PASSWORD);
      assertThat(c.readLine()).isEqualTo("-ERR Send USER first");
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS " + ALICE_PASSWORD);
      assertThat(c.readLine()).startsWith("+OK maildrop has 2 messages");
    }
  }

  @Test
  void secondSessionGetsInUseUntilTheFirstQuits() throws IOException {
    try (LineClient first = server.loginAlice(); LineClient second = server.connect()) {
      second.send("USER " + ALICE);
      second.readLine();
      second.send("PASS " + ALICE_PASSWORD);
      assertThat(second.readLine()).isEqualTo("-ERR [IN-USE] Maildrop already locked");
      second.send("STAT");
      assertThat(second.readLine()).isEqualTo("-ERR Command not valid in this state");
      // Another maildrop is not affected.
      try (LineClient bob = server.login(TestServer.BOB, TestServer.BOB_PASSWORD)) {
        bob.send("STAT");
        assertThat(bob.readLine()).isEqualTo("+OK 0 0");
      }
      first.send("QUIT");
      assertThat(first.readLine()).startsWith("+OK");
      // The lock is released before the QUIT reply is written: no waiting needed.
      second.send("USER " + ALICE);
      second.readLine();
      second.send("PASS " + ALICE_PASSWORD);
      assertThat(second.readLine()).startsWith("+OK maildrop has 2 messages");
    }
  }

  @Test
  void lockIsReleasedAfterAbruptDisconnect() throws IOException {
    LineClient first = server.loginAlice();
    first.close();
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50))
        .until(() -> tryLogin(ALICE, ALICE_PASSWORD).startsWith("+OK"));
  }

  @Test
  void lockIsReleasedWhenClientHangsUpDuringLogin() throws IOException {
    server.store.delayMs = 200;
    try (LineClient c = server.connect()) {
      c.sendRaw("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\n");
      assertThat(c.readLine()).startsWith("+OK");
    }
    server.store.delayMs = 0;
    await().atMost(Duration.ofSeconds(5)).pollDelay(Duration.ofMillis(300)).pollInterval(Duration.ofMillis(50))
        .until(() -> tryLogin(ALICE, ALICE_PASSWORD).startsWith("+OK"));
  }

  @Test
  void deleAndQuitRemovesFromTheStore() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 2");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(messages()).hasSize(2); // only marked so far
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK");
    }
    assertThat(messages()).containsExactly(M1);
  }

  /** RFC 1939 section 6: without QUIT there is no UPDATE state; nothing is deleted. */
  @Test
  void deleAndDisconnectRemovesNothing() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 1");
      assertThat(c.readLine()).startsWith("+OK");
      c.send("DELE 2");
      assertThat(c.readLine()).startsWith("+OK");
    }
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50))
        .until(() -> tryLogin(ALICE, ALICE_PASSWORD).startsWith("+OK maildrop has 2 messages"));
    assertThat(messages()).containsExactly(M1, M2);
  }

  @Test
  void deleThenRsetThenQuitRemovesNothing() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 1");
      c.readLine();
      c.send("RETR 1");
      assertThat(c.readLine()).isEqualTo("-ERR No such message");
      c.send("RSET");
      assertThat(c.readLine()).startsWith("+OK maildrop has 2 messages");
      c.send("RETR 1");
      assertThat(c.readLine()).startsWith("+OK");
      c.readPop3MultiLineRaw();
      c.send("QUIT");
      assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server signing off (2 messages left)");
    }
    assertThat(messages()).containsExactly(M1, M2);
  }

  /** RFC 1939 section 3: lines starting with '.' are stuffed on the wire; 8-bit bytes pass untouched. */
  @Test
  void retrIsByteStuffedAndUnstuffsToTheExactOriginal() throws IOException {
    byte[] original = concat(
        "Subject: dots\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
        ".hidden line\r\n..two dots\r\n.\r\nmiddle . dot\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
        new byte[] {'C', 'a', 'f', (byte) 0xE9, ' ', (byte) 0xFF, 0, (byte) 0x80, '\r', '\n'},
        "caf\u00e9 utf-8\r\n.".getBytes(StandardCharsets.UTF_8),
        "\r\n".getBytes(StandardCharsets.US_ASCII));
    server.store.put(ALICE, Buffer.buffer(original));
    try (LineClient c = server.loginAlice()) {
      c.send("RETR 3");
      assertThat(c.readLine()).isEqualTo("+OK " + original.length + " octets");
      byte[] wire = readRawDotTerminated(c);
      String wireText = new String(wire, StandardCharsets.ISO_8859_1);
      assertThat(wireText).contains("\r\n..hidden line\r\n...two dots\r\n..\r\nmiddle . dot\r\n");
      assertThat(wireText).endsWith("\r\n..\r\n.\r\n");
      assertThat(unstuff(wire)).isEqualTo(original);
    }
  }

  @Test
  void contentWithoutFinalCrlfGetsOneBeforeTheTerminator() throws IOException {
    server.put(ALICE, "Subject: x\r\n\r\nno newline");
    try (LineClient c = server.loginAlice()) {
      c.send("RETR 3");
      c.readLine();
      assertThat(new String(readRawDotTerminated(c), StandardCharsets.ISO_8859_1))
          .isEqualTo("Subject: x\r\n\r\nno newline\r\n.\r\n");
    }
  }

  @Test
  void top() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.send("TOP 2 0");
      assertThat(c.readLine()).isEqualTo("+OK top of message follows");
      assertThat(readMultiLine(c)).containsExactly("From: carol@example.test", "Subject: second", "");
      c.send("TOP 2 2");
      c.readLine();
      assertThat(readMultiLine(c)).containsExactly("From: carol@example.test", "Subject: second", "", "line one", "line two");
      c.send("TOP 2 100");
      c.readLine();
      assertThat(new String(c.readPop3MultiLineRaw(), StandardCharsets.US_ASCII)).isEqualTo(M2);
      c.send("TOP 3 1");
      assertThat(c.readLine()).isEqualTo("-ERR No such message");
    }
  }

  /** RFC 1939 section 7: a message keeps its unique-id across sessions, while message numbers may change. */
  @Test
  void uidlIsStableAcrossSessions() throws IOException {
    List<String> before;
    try (LineClient c = server.loginAlice()) {
      c.send("UIDL");
      c.readLine();
      before = readMultiLine(c);
      c.send("DELE 1");
      c.readLine();
      c.send("QUIT");
      c.readLine();
    }
    server.put(ALICE, "Subject: third\r\n\r\nx\r\n");
    try (LineClient c = server.loginAlice()) {
      c.send("UIDL");
      c.readLine();
      List<String> after = readMultiLine(c);
      assertThat(before).hasSize(2);
      assertThat(after).hasSize(2);
      String uid2 = before.get(1).split(" ")[1];
      assertThat(after.get(0)).isEqualTo("1 " + uid2);
      assertThat(after.get(1).split(" ")[1]).isNotIn(before.get(0).split(" ")[1], uid2);
      c.send("UIDL 1");
      assertThat(c.readLine()).isEqualTo("+OK 1 " + uid2);
    }
  }

  @Test
  void overLongLineIsRejectedAndTheSessionGoesOn() throws IOException {
    try (LineClient c = server.connect()) {
      c.sendRaw("USER " + "a".repeat(300) + "@example.test\r\nNOOP\r\n");
      assertThat(c.readLine()).isEqualTo("-ERR Line too long");
      assertThat(c.readLine()).isEqualTo("-ERR Command not valid in this state");
      // 200 KB without a line end, then the rest of the line and a real command.
      c.sendRaw("X".repeat(200_000));
      assertThat(c.readLine()).isEqualTo("-ERR Line too long");
      c.sendRaw("tail of the long line\r\nCAPA\r\n");
      assertThat(c.readLine()).startsWith("+OK Capability");
      readMultiLine(c);
      // A line of exactly 255 octets with CRLF is fine: the password is simply wrong.
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS " + "p".repeat(255 - 2 - 5));
      assertThat(c.readLine()).isEqualTo("-ERR [AUTH] Invalid credentials");
      c.send("USER " + ALICE);
      c.readLine();
      c.send("PASS " + ALICE_PASSWORD);
      assertThat(c.readLine()).startsWith("+OK maildrop");
    }
  }

  @Test
  void bareLfLineEndsAreAccepted() throws IOException {
    try (LineClient c = server.connect()) {
      c.sendRaw("USER " + ALICE + "\nPASS " + ALICE_PASSWORD + "\nSTAT\n");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(c.readLine()).startsWith("+OK maildrop");
      assertThat(c.readLine()).startsWith("+OK 2 ");
    }
  }

  @Test
  void unknownAndWrongStateCommandsDoNotEndTheSession() throws IOException {
    try (LineClient c = server.connect()) {
      c.send("HELO there");
      assertThat(c.readLine()).isEqualTo("-ERR Unknown command");
      c.send("RETR 1");
      assertThat(c.readLine()).isEqualTo("-ERR Command not valid in this state");
      c.send("APOP alice@example.test 0123456789abcdef0123456789abcdef");
      assertThat(c.readLine()).isEqualTo("-ERR Unknown command");
      c.send("");
      assertThat(c.readLine()).isEqualTo("-ERR Unknown command");
      c.send("CAPA");
      assertThat(c.readLine()).startsWith("+OK");
      readMultiLine(c);
    }
  }

  @Test
  void quitInAuthorizationClosesWithOk() throws IOException {
    try (LineClient c = server.connect()) {
      c.send("QUIT");
      assertThat(c.readLine()).isEqualTo("+OK mail.example.test POP3 server signing off");
      assertThat(c.isClosedByServer()).isTrue();
    }
  }

  @Test
  void commandsPipelinedAfterQuitAreIgnored() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.sendRaw("DELE 1\r\nQUIT\r\nRSET\r\n");
      assertThat(c.readLine()).startsWith("+OK");
      assertThat(c.readLine()).startsWith("+OK mail.example.test POP3 server signing off");
      assertThat(c.isClosedByServer()).isTrue();
    }
    assertThat(messages()).containsExactly(M2);
  }

  @Test
  void messageVanishedBehindTheSnapshot() throws IOException {
    try (LineClient c = server.loginAlice()) {
      // Removed by someone else (the HTTP API, say) after this session took its snapshot.
      new MailstoreClient(server.vertx).delete(ALICE, List.of(id1)).await();
      c.send("RETR 1");
      assertThat(c.readLine()).isEqualTo("-ERR Message no longer exists");
      c.send("RETR 2");
      assertThat(c.readLine()).startsWith("+OK");
      c.readPop3MultiLineRaw();
      c.send("DELE 1");
      assertThat(c.readLine()).startsWith("+OK");
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK"); // already gone counts as removed
    }
    assertThat(messages()).containsExactly(M2);
  }

  @Test
  void storeFailureDuringUpdateIsSysTempAndKeepsTheMessages() throws IOException {
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 1");
      c.readLine();
      server.store.failNext(MailstoreError.STORAGE_FAILURE);
      c.send("QUIT");
      assertThat(c.readLine()).isEqualTo("-ERR [SYS/TEMP] Some deleted messages not removed");
      assertThat(c.isClosedByServer()).isTrue();
    }
    assertThat(messages()).containsExactly(M1, M2);
    assertThat(tryLogin(ALICE, ALICE_PASSWORD)).startsWith("+OK");
  }

  /** RFC 1939 section 3 autologout: close without entering UPDATE, release the lock. */
  @Test
  void idleTimeoutClosesWithoutUpdateAndReleasesTheLock() throws IOException {
    try (TestServer idle = TestServer.start(new JsonObject().put("idleTimeoutSeconds", 1), true)) {
      idle.put(ALICE, M1);
      try (LineClient c = idle.loginAlice()) {
        c.send("DELE 1");
        assertThat(c.readLine()).startsWith("+OK");
        long t0 = System.nanoTime();
        assertThat(c.isClosedByServer()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(5));
      }
      assertThat(idle.store.messages(ALICE)).hasSize(1);
      try (LineClient again = idle.loginAlice()) {
        again.send("STAT");
        assertThat(again.readLine()).startsWith("+OK 1 ");
      }
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  private List<String> messages() {
    List<String> out = new ArrayList<>();
    server.store.messages(ALICE).forEach(b -> out.add(b.toString(StandardCharsets.ISO_8859_1)));
    return out;
  }

  /** Status line of a fresh USER/PASS attempt; on success the session is ended with QUIT. */
  private String tryLogin(String user, String password) throws IOException {
    try (LineClient c = server.connect()) {
      c.send("USER " + user);
      c.readLine();
      c.send("PASS " + password);
      String reply = c.readLine();
      if (reply.startsWith("+OK")) {
        c.send("QUIT");
        c.readLine();
      }
      return reply;
    }
  }

  /** The lines of a multi-line response up to (without) the "." line, unstuffed. */
  static List<String> readMultiLine(LineClient c) throws IOException {
    List<String> lines = new ArrayList<>();
    while (true) {
      String l = c.readLine();
      if (l == null) {
        throw new IOException("closed inside multi-line response");
      }
      if (l.equals(".")) {
        return lines;
      }
      lines.add(l.startsWith(".") ? l.substring(1) : l);
    }
  }

  /**
   * Raw bytes up to and including the ".CRLF" terminator. Reads the socket directly (LineClient
   * does not buffer) so 8-bit bytes are seen exactly as sent.
   */
  static byte[] readRawDotTerminated(LineClient c) throws IOException {
    InputStream in = c.socket().getInputStream();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed before the terminator");
      }
      out.write(b);
      byte[] a = out.toByteArray();
      int n = a.length;
      if (n >= 3 && a[n - 3] == '.' && a[n - 2] == '\r' && a[n - 1] == '\n' && (n == 3 || a[n - 4] == '\n')) {
        return a;
      }
    }
  }

  static byte[] unstuff(byte[] wire) {
    return DotDecoder.unstuff(wire);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
