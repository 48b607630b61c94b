package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Send/expect dialogues over a real socket, one rule per test. */
class SmtpDialogueTest extends TestSupport {

  /** Reads n replies, returning each reply's last line. */
  static List<String> replies(LineClient c, int n) throws Exception {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(c.smtp());
    }
    return out;
  }

  static String envelope(String... rcpts) {
    StringBuilder sb = new StringBuilder("MAIL FROM:<sender@remote.example>\r\n");
    for (String r : rcpts) {
      sb.append("RCPT TO:<").append(r).append(">\r\n");
    }
    return sb.toString();
  }

  @Test
  void badConfigFailsTheDeployment() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> vertx.deployVerticle(new SmtpVerticle(), new io.vertx.core.DeploymentOptions()
                .setConfig(config(new JsonObject().put("bareLineEndings", "sometimes")))).await(5, TimeUnit.SECONDS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("smtp.bareLineEndings");
  }

  @Test
  void ehloListsExtensions() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("maxMessageSize", 1_000_000)));
    List<String> ehlo = c.send("EHLO client.example").readSmtpReply();
    assertThat(ehlo).containsExactly("250-" + HOST, "250-PIPELINING", "250-SIZE 1000000", "250-8BITMIME",
        "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250-CHUNKING", "250-BINARYMIME", "250 STARTTLS");
    assertThat(cmd(c, "HELO client.example")).isEqualTo("250 " + HOST);
    assertThat(cmd(c, "MAIL FROM:<a@remote.example> SIZE=10")).startsWith("555 5.5.4");
    assertThat(cmd(c, "QUIT")).startsWith("221 2.0.0");
    assertThat(c.isClosedByServer()).isTrue();
  }

  @Test
  void simpleTransactionStoresTheBytesAfterOurTraceHeader() throws Exception {
    LineClient c = connect(deploy());
    assertThat(cmd(c, "EHLO client.example")).isEqualTo(EHLO_LAST);
    assertThat(cmd(c, "MAIL FROM:<sender@remote.example>")).isEqualTo("250 2.1.0 Ok");
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).isEqualTo("250 2.1.5 Ok");
    assertThat(cmd(c, "DATA")).startsWith("354 ");
    String body = "From: s@remote.example\r\nSubject: hi\r\n\r\nHello\r\n";
    c.sendRaw(body + ".\r\n");
    String queued = c.smtp();
    assertThat(queued).matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]{8,20}");
    assertThat(cmd(c, "QUIT")).startsWith("221 2.0.0");

    DeliverRequest req = store.deliveries().get(0);
    assertThat(queued).endsWith(req.deliveryId());
    assertThat(afterReceived(req.content())).isEqualTo(body);
    String received = req.content().toString(StandardCharsets.UTF_8);
    assertThat(received).matches("(?s)Received: from client\\.example \\(\\[127\\.0\\.0\\.1\\]\\)\r\n"
        + "\tby mail\\.example\\.test with ESMTP id " + req.deliveryId() + "\r\n"
        + "\tfor <alice@example\\.test>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n.*");
    // The store adds Return-Path itself.
    assertThat(text(store.messages("alice@example.test").get(0))).startsWith("Return-Path: <sender@remote.example>\r\nReceived: ");
  }

  @Test
  void wholePipelinedTransactionInOneWriteGetsOrderedReplies() throws Exception {
    store.delayMs = 50; // every store answer arrives later than the next pipelined command
    LineClient c = connect(deploy());
    String body = "Subject: pipelined\r\n\r\nline 1\r\n..leading dot\r\n";
    c.sendRaw("EHLO client.example\r\n" + envelope("alice@example.test", "bob@example.test")
        + "DATA\r\n" + body + ".\r\nNOOP\r\nQUIT\r\n");
    List<String> ehlo = c.readSmtpReply();
    assertThat(ehlo.get(ehlo.size() - 1)).isEqualTo(EHLO_LAST);
    List<String> r = replies(c, 7);
    assertThat(r.get(0)).startsWith("250 2.1.0");
    assertThat(r.get(1)).startsWith("250 2.1.5");
    assertThat(r.get(2)).startsWith("250 2.1.5");
    assertThat(r.get(3)).startsWith("354 ");
    assertThat(r.get(4)).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(r.get(5)).isEqualTo("250 2.0.0 Ok");
    assertThat(r.get(6)).startsWith("221 2.0.0");
    assertThat(c.isClosedByServer()).isTrue();
    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(req.recipients()).containsExactly("alice@example.test", "bob@example.test");
    assertThat(afterReceived(req.content())).isEqualTo("Subject: pipelined\r\n\r\nline 1\r\n.leading dot\r\n");
    assertThat(store.messages("alice@example.test")).hasSize(1);
    assertThat(store.messages("bob@example.test")).hasSize(1);
  }

  @Test
  void transactionSplitAtEveryOffsetAroundTheModeSwitches() throws Exception {
    int port = deploy();
    String script = "EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n.x\r\n.\r\nNOOP\r\n";
    int dataAt = script.indexOf("DATA");
    int endAt = script.indexOf("\r\n.\r\n");
    List<Integer> cuts = new ArrayList<>();
    for (int i = dataAt; i <= script.length(); i++) {
      cuts.add(i);
    }
    for (int cut : cuts) {
      try (LineClient c = new LineClient("127.0.0.1", port)) {
        c.socket().setTcpNoDelay(true);
        c.smtp();
        byte[] b = script.getBytes(StandardCharsets.US_ASCII);
        c.sendRaw(java.util.Arrays.copyOfRange(b, 0, cut));
        Thread.sleep(cut > endAt - 3 && cut < endAt + 8 ? 15 : 2);
        c.sendRaw(java.util.Arrays.copyOfRange(b, cut, b.length));
        c.readSmtpReply();
        List<String> r = replies(c, 5);
        assertThat(r.get(2)).as("cut %d", cut).startsWith("354");
        assertThat(r.get(3)).as("cut %d", cut).startsWith("250 2.0.0 Ok: queued");
        assertThat(r.get(4)).as("cut %d", cut).isEqualTo("250 2.0.0 Ok");
      }
    }
    assertThat(store.deliveries()).hasSize(cuts.size());
    assertThat(store.deliveries()).allSatisfy(d -> assertThat(afterReceived(d.content())).isEqualTo("x\r\n"));
  }

  @Test
  void overlongCommandLineIsRefusedAndTheSessionGoesOn() throws Exception {
    LineClient c = connect(deploy());
    assertThat(cmd(c, "NOOP " + "x".repeat(SmtpHandler.MAX_COMMAND_LINE - 7))).as("exactly at the limit").isEqualTo("250 2.0.0 Ok");
    assertThat(cmd(c, "NOOP " + "x".repeat(SmtpHandler.MAX_COMMAND_LINE - 6))).startsWith("500 5.5.6");
    // A huge line in several writes is discarded as it comes, not buffered.
    for (int i = 0; i < 20; i++) {
      c.sendRaw("y".repeat(50_000));
    }
    c.sendRaw("\r\n");
    assertThat(c.smtp()).startsWith("500 5.5.6");
    assertThat(cmd(c, "EHLO client.example")).isEqualTo(EHLO_LAST);
    assertThat(cmd(c, "MAIL FROM:<a@remote.example>")).startsWith("250");
  }

  @Test
  void disconnectMidDataLeavesNothingBehind() throws Exception {
    int port = deploy();
    LineClient c = connect(port);
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    assertThat(replies(c, 3).get(2)).startsWith("354");
    c.sendRaw("Subject: half\r\n\r\nsome text\r\n.");
    c.close();
    // The server is fine and the next client's message is the only one stored.
    LineClient d = connect(port);
    d.sendRaw("EHLO c\r\n" + envelope("bob@example.test") + "DATA\r\n");
    d.readSmtpReply();
    replies(d, 3);
    d.sendRaw("x\r\n.\r\n");
    assertThat(d.smtp()).startsWith("250 2.0.0");
    Thread.sleep(100);
    assertThat(store.deliveries()).hasSize(1);
    assertThat(store.deliveries().get(0).recipients()).containsExactly("bob@example.test");
    assertThat(store.messages("alice@example.test")).isEmpty();
  }

  @Test
  void dotStuffingRoundTrip() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    String original = ".\r\n..\r\n.x\r\n. \r\nnot.first\r\n\r\n.\t\r\n...\r\nend\r\n";
    StringBuilder stuffed = new StringBuilder();
    for (String line : original.split("\r\n", -1)) {
      if (stuffed.length() > 0) {
        stuffed.append("\r\n");
      }
      stuffed.append(line.startsWith(".") ? "." + line : line);
    }
    c.sendRaw(stuffed + ".\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo(original);
  }

  /** The smuggling sequences of CVE-2023-51764 and friends: a bare LF must never end DATA. */
  @ParameterizedTest
  @ValueSource(strings = {"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n"})
  void smugglingAttemptEndsAsOneMessageWhenNormalizing(String fakeEnd) throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    String smuggled = "MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n";
    c.sendRaw("Subject: outer\r\n\r\ntext" + fakeEnd + smuggled + "\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
    // Nothing else is pending: the next reply is the NOOP's.
    assertThat(cmd(c, "NOOP")).isEqualTo("250 2.0.0 Ok");
    assertThat(store.deliveries()).hasSize(1);
    assertThat(store.messages("bob@example.test")).isEmpty();
    String stored = afterReceived(store.deliveries().get(0).content());
    assertThat(stored).contains("MAIL FROM:<evil@remote.example>");
    // Bare LF is stored as CRLF; every LF in the stored message is part of a CRLF.
    assertThat(stored.replace("\r\n", "")).doesNotContain("\n");
  }

  @ParameterizedTest
  @ValueSource(strings = {"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\n"})
  void smugglingAttemptIsRejectedWhenConfiguredTo(String fakeEnd) throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("bareLineEndings", "reject")));
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    c.sendRaw("Subject: outer\r\n\r\ntext" + fakeEnd + "MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@example.test>\r\n.\r\n");
    assertThat(c.smtp()).startsWith("550 5.6.0");
    assertThat(cmd(c, "NOOP")).isEqualTo("250 2.0.0 Ok");
    assertThat(store.deliveries()).isEmpty();
    // The session is usable for a clean message.
    c.sendRaw(envelope("alice@example.test") + "DATA\r\n");
    replies(c, 3);
    c.sendRaw("clean\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
  }

  @Test
  void bareLfIsNormalizedInStoredContent() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\nMAIL FROM:<a@remote.example>\nRCPT TO:<alice@example.test>\nDATA\n");
    c.readSmtpReply();
    assertThat(replies(c, 3)).extracting(s -> s.substring(0, 3)).containsExactly("250", "250", "354");
    c.sendRaw("a\nb\rc\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo("a\r\nb\rc\r\n");
  }

  @Test
  void largeMessageRoundTripIsByteExact() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    java.util.Random rnd = new java.util.Random(7);
    StringBuilder original = new StringBuilder("Subject: big\r\n\r\n");
    while (original.length() < 5_000_000) {
      int len = rnd.nextInt(120);
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < len; i++) {
        line.append((char) (rnd.nextInt(10) == 0 ? '.' : 'a' + rnd.nextInt(26)));
      }
      original.append(line).append("\r\n");
    }
    String stuffed = original.toString().replace("\r\n.", "\r\n..");
    c.sendRaw(stuffed.getBytes(StandardCharsets.US_ASCII));
    c.sendRaw(".\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo(original.toString());
  }

  @Test
  void nulInDataIsRefusedAfterTheEnd() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    c.sendRaw("Subject: nul\r\n\r\na\0b\r\n.\r\n");
    assertThat(c.smtp()).startsWith("554 5.6.0");
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).as("transaction reset").startsWith("503 5.5.1");
    assertThat(store.deliveries()).isEmpty();
  }

  @Test
  void nulInCommandIsRefused() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("NO\0OP\r\n");
    assertThat(c.smtp()).startsWith("500 5.5.2");
    assertThat(cmd(c, "NOOP")).isEqualTo("250 2.0.0 Ok");
  }

  @Test
  void sizeParameterOverTheLimitIsRefused() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("maxMessageSize", 1000)));
    cmd(c, "EHLO c");
    assertThat(cmd(c, "MAIL FROM:<a@remote.example> SIZE=1001")).startsWith("552 5.3.4");
    assertThat(cmd(c, "MAIL FROM:<a@remote.example> SIZE=1000")).startsWith("250 2.1.0");
  }

  @Test
  void dataOverTheLimitIsReadToItsEndAndRefused() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("maxMessageSize", 1000)));
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    // 100 KB with lines far over 1000 octets and lines that look like commands.
    StringBuilder big = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      big.append("z".repeat(2000)).append("\r\nQUIT\r\n");
    }
    c.sendRaw(big + ".\r\n");
    assertThat(c.smtp()).startsWith("552 5.3.4");
    assertThat(cmd(c, "NOOP")).isEqualTo("250 2.0.0 Ok");
    assertThat(store.deliveries()).isEmpty();
    // Exactly at the limit passes (the Received header is not counted).
    c.sendRaw(envelope("alice@example.test") + "DATA\r\n");
    replies(c, 3);
    String exact = "q".repeat(998) + "\r\n";
    c.sendRaw(exact + ".\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo(exact);
  }

  @Test
  void recipientChecks() throws Exception {
    LineClient c = connect(deploy());
    cmd(c, "EHLO c");
    cmd(c, "MAIL FROM:<a@remote.example>");
    assertThat(cmd(c, "RCPT TO:<nobody@example.test>")).startsWith("550 5.1.1");
    assertThat(cmd(c, "RCPT TO:<alice@remote.example>")).startsWith("550 5.7.1").contains("Relaying denied");
    assertThat(cmd(c, "DATA")).startsWith("554 5.5.1");
    assertThat(cmd(c, "RCPT TO:<postmaster>")).startsWith("250 2.1.5");
    assertThat(cmd(c, "DATA")).startsWith("354");
    c.sendRaw("to the postmaster\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(store.deliveries().get(0).recipients()).containsExactly("postmaster@example.test");
  }

  @Test
  void maxRecipientsAndDuplicates() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("maxRecipients", 2)));
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test", "Alice@Example.Test", "bob@example.test",
        "postmaster@example.test", "bob@example.test") + "DATA\r\n");
    c.readSmtpReply();
    List<String> r = replies(c, 7);
    assertThat(r).extracting(s -> s.substring(0, 9))
        .containsExactly("250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3", "250 2.1.5", "354 End d");
    c.sendRaw("hi\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(store.deliveries()).hasSize(1);
    assertThat(store.deliveries().get(0).recipients()).containsExactly("alice@example.test", "bob@example.test");
    assertThat(store.messages("alice@example.test")).hasSize(1);
  }

  @Test
  void storeDownGives451AndServiceRecoversWhenItReturns() throws Exception {
    store.stop().await(5, TimeUnit.SECONDS);
    LineClient c = connect(deploy(new JsonObject().put("storeTimeoutMs", 300)));
    cmd(c, "EHLO c");
    cmd(c, "MAIL FROM:<a@remote.example>");
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("451 4.3.0");

    store = newStore();
    store.start().await(5, TimeUnit.SECONDS);
    assertThat(cmd(c, "RCPT TO:<alice@example.test>")).startsWith("250 2.1.5");
    // The store goes away between RCPT and the end of DATA: 451, never 250.
    assertThat(cmd(c, "DATA")).startsWith("354");
    store.stop().await(5, TimeUnit.SECONDS);
    c.sendRaw("x\r\n.\r\n");
    assertThat(c.smtp()).startsWith("451 4.3.0");
    store = newStore();
    store.start().await(5, TimeUnit.SECONDS);
    c.sendRaw(envelope("alice@example.test") + "DATA\r\n");
    replies(c, 3);
    c.sendRaw("x\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(store.deliveries()).hasSize(1);
  }

  @Test
  void storeSlowerThanTheTimeoutGives451() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("storeTimeoutMs", 300)));
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    store.delayMs = 1000;
    long t0 = System.nanoTime();
    c.sendRaw("x\r\n.\r\n");
    assertThat(c.smtp()).startsWith("451 4.3.0");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(900));
  }

  @Test
  void slowStoreHoldsBackLaterCommands() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    store.delayMs = 400;
    long t0 = System.nanoTime();
    c.sendRaw("x\r\n.\r\nNOOP\r\nRCPT TO:<alice@example.test>\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(350));
    assertThat(c.smtp()).isEqualTo("250 2.0.0 Ok");
    assertThat(c.smtp()).as("transaction was reset after DATA").startsWith("503 5.5.1");
  }

  @Test
  void temporaryStoreFailureThenRetrySucceeds() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\n" + envelope("alice@example.test") + "DATA\r\n");
    c.readSmtpReply();
    replies(c, 3);
    store.failNext(MailstoreError.STORAGE_FAILURE);
    c.sendRaw("x\r\n.\r\n");
    assertThat(c.smtp()).startsWith("451 4.3.0");
    assertThat(store.deliveries()).isEmpty();
  }

  @Test
  void idleClientsAreDisconnectedWith421() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("idleTimeoutSeconds", 1)));
    assertThat(cmd(c, "EHLO c")).startsWith("250");
    long t0 = System.nanoTime();
    assertThat(c.smtp()).startsWith("421 4.4.2");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThan(Duration.ofMillis(800));
    assertThat(c.isClosedByServer()).isTrue();
  }

  @Test
  void commandsWithBareLfAreAccepted() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\nNOOP\n");
    c.readSmtpReply();
    assertThat(c.smtp()).isEqualTo("250 2.0.0 Ok");
  }

  @Test
  void sequenceAndSyntaxErrorsKeepTheSessionUsable() throws Exception {
    LineClient c = connect(deploy());
    assertThat(cmd(c, "MAIL FROM:<a@remote.example>")).startsWith("503 5.5.1");
    assertThat(cmd(c, "WHAT")).startsWith("500 5.5.2");
    assertThat(cmd(c, "EXPN staff")).startsWith("502 5.5.1");
    assertThat(cmd(c, "VRFY alice")).startsWith("252 2.5.0");
    assertThat(cmd(c, "HELP")).startsWith("214 2.0.0");
    assertThat(cmd(c, "EHLO c")).startsWith("250");
    assertThat(cmd(c, "MAIL FROM:<a@remote.example")).startsWith("501 5.1.7");
    assertThat(cmd(c, "MAIL FROM:<a@remote.example>")).startsWith("250 2.1.0");
  }

  @Test
  void tooManyErrorsDisconnect() throws Exception {
    LineClient c = connect(deploy());
    StringBuilder junk = new StringBuilder();
    for (int i = 0; i < SmtpHandler.HARD_ERROR_LIMIT + 5; i++) {
      junk.append("GET / HTTP/1.1\r\n");
    }
    c.sendRaw(junk.toString());
    List<String> r = replies(c, SmtpHandler.HARD_ERROR_LIMIT);
    assertThat(r.get(r.size() - 1)).startsWith("421 4.7.0");
    assertThat(c.isClosedByServer()).isTrue();
  }

  @Test
  void maxErrorsIsConfigurable() throws Exception {
    LineClient c = connect(deploy(new JsonObject().put("maxErrors", 3)));
    assertThat(cmd(c, "BOGUS")).startsWith("500 5.5.2");
    assertThat(cmd(c, "MAIL FROM:<a@remote.example>")).startsWith("503 5.5.1");
    assertThat(cmd(c, "NOOP")).as("a good command in between").startsWith("250");
    assertThat(cmd(c, "RSET now")).startsWith("421 4.7.0 Too many errors");
    assertThat(c.isClosedByServer()).isTrue();
  }

  @Test
  void manyConcurrentClients() throws Exception {
    int port = deploy();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < 10; i++) {
      int n = i;
      Thread t = new Thread(() -> {
        try (LineClient c = new LineClient("127.0.0.1", port)) {
          c.smtp();
          c.sendRaw("EHLO c" + n + "\r\n" + envelope("bob@example.test") + "DATA\r\n");
          c.readSmtpReply();
          replies(c, 3);
          c.sendRaw("Subject: " + n + "\r\n\r\nbody " + n + "\r\n.\r\n");
          if (!c.smtp().startsWith("250 2.0.0")) {
            throw new AssertionError("not queued");
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) {
      t.join(10_000);
    }
    assertThat(errors).isEmpty();
    await().atMost(Duration.ofSeconds(2)).until(() -> store.messages("bob@example.test").size() == 10);
  }
}
