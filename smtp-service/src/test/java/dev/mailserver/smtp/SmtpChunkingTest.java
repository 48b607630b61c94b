package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.testing.LineClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * CHUNKING and BINARYMIME (RFC 3030): BDAT reads exactly the announced octets, nothing inside a
 * chunk is a command or an end marker, and every refusal comes after the chunk was consumed.
 */
class SmtpChunkingTest extends TestSupport {

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  static byte[] bdat(byte[] chunk, boolean last) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(bytes("BDAT " + chunk.length + (last ? " LAST" : "") + "\r\n"));
    b.writeBytes(chunk);
    return b.toByteArray();
  }

  static List<String> replies(LineClient c, int n) throws Exception {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(c.smtp());
    }
    return out;
  }

  LineClient envelope(int port) throws Exception {
    LineClient c = connect(port);
    c.sendRaw("EHLO client.example\r\nMAIL FROM:<sender@remote.example> BODY=BINARYMIME\r\nRCPT TO:<alice@example.test>\r\n");
    c.readSmtpReply();
    assertThat(replies(c, 2)).extracting(s -> s.substring(0, 3)).containsExactly("250", "250");
    return c;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      b.writeBytes(p);
    }
    return b.toByteArray();
  }

  @Test
  void severalChunksAreStoredByteIdenticalWithoutUnstuffingOrLineParsing() throws Exception {
    LineClient c = envelope(deploy());
    byte[] one = bytes("Subject: chunks\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n");
    byte[] two = bytes("\r\n.\r\nQUIT\r\nRSET\r\nMAIL FROM:<evil@remote.example>\r\n");
    byte[] three = new byte[] {0, 1, 2, (byte) 0xff, '\n', '.', '\n', '\r', '.', '\r', '\n', 0x7f};
    c.sendRaw(bdat(one, false));
    assertThat(c.smtp()).isEqualTo("250 2.0.0 Ok: " + one.length + " octets received");
    c.sendRaw(concat(bdat(two, false), bdat(three, true)));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: " + two.length);
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(cmd(c, "NOOP")).as("nothing inside a chunk ran").isEqualTo("250 2.0.0 Ok");
    assertThat(store.deliveries()).hasSize(1);
    Buffer stored = store.deliveries().get(0).content();
    assertThat(bytes(afterReceived(stored))).isEqualTo(concat(one, two, three));
    assertThat(text(stored)).contains(" with ESMTP id ");
  }

  @Test
  void zeroLengthLastChunkEndsTheMessage() throws Exception {
    LineClient c = envelope(deploy());
    c.sendRaw(concat(bdat(bytes("x\r\n"), false), bytes("BDAT 0 LAST\r\n")));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: 3 octets");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
    // BDAT 0 LAST alone: an empty message (RFC 3030 section 2 allows a zero byte-count on LAST).
    c.sendRaw("MAIL FROM:<sender@remote.example>\r\nRCPT TO:<bob@example.test>\r\nBDAT 0 LAST\r\n");
    assertThat(replies(c, 3).get(2)).startsWith("250 2.0.0 Ok: queued as ");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo("x\r\n");
    assertThat(afterReceived(store.deliveries().get(1).content())).isEmpty();
  }

  @Test
  void wholeChunkedTransactionPipelinedInOneWrite() throws Exception {
    store.delayMs = 30;
    LineClient c = connect(deploy());
    byte[] body = bytes("Subject: pipelined\r\n\r\nline\r\n.\r\n");
    c.sendRaw(concat(bytes("EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"),
        bdat(body, false), bytes("BDAT 0 LAST\r\nNOOP\r\n")));
    c.readSmtpReply();
    assertThat(replies(c, 6)).extracting(s -> s.substring(0, 9))
        .containsExactly("250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.0.0", "250 2.0.0", "250 2.0.0");
    assertThat(store.messages("alice@example.test")).hasSize(1);
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo(new String(body, StandardCharsets.ISO_8859_1));
  }

  /** RFC 3030 section 2: the chunk of a BDAT that fails is read and discarded before the 503. */
  @Test
  void bdatWithoutATransactionConsumesItsChunkThenAnswers503() throws Exception {
    LineClient c = connect(deploy());
    cmd(c, "EHLO client.example");
    byte[] chunk = bytes("RSET\r\nQUIT\r\n");
    c.sendRaw(concat(bdat(chunk, false), bytes("NOOP\r\n")));
    assertThat(c.smtp()).startsWith("503 5.5.1");
    assertThat(c.smtp()).as("the QUIT inside the chunk did not run").isEqualTo("250 2.0.0 Ok");
    // Before EHLO, and after HELO (CHUNKING is only offered by EHLO): the same.
    LineClient d = connect(deploy());
    d.sendRaw(concat(bdat(bytes("QUIT\r\n"), true), bytes("HELO c\r\n"), bdat(bytes("QUIT\r\n"), true), bytes("NOOP\r\n")));
    assertThat(replies(d, 4)).extracting(s -> s.substring(0, 3)).containsExactly("503", "250", "503", "250");
    assertThat(store.deliveries()).isEmpty();
  }

  @Test
  void sizeLimitAppliesAcrossChunksAndLaterChunksGet503UntilRset() throws Exception {
    LineClient c = envelope(deploy(new JsonObject().put("maxMessageSize", 100)));
    byte[] sixty = bytes("a".repeat(58) + "\r\n");
    c.sendRaw(bdat(sixty, false));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: 60 octets");
    // 120 > 100: the chunk is read (its text is not taken for commands) and refused.
    byte[] more = bytes("QUIT\r\n" + "b".repeat(52) + "\r\n");
    c.sendRaw(concat(bdat(more, false), bdat(bytes("QUIT\r\n"), true), bytes("NOOP\r\n")));
    assertThat(c.smtp()).isEqualTo("552 5.3.4 Message size exceeds fixed maximum message size");
    assertThat(c.smtp()).as("a pipelined chunk after the failure").startsWith("503 5.5.1");
    assertThat(c.smtp()).isEqualTo("250 2.0.0 Ok");
    assertThat(cmd(c, "DATA")).startsWith("503 5.5.1");
    assertThat(cmd(c, "RSET")).startsWith("250");
    assertThat(store.deliveries()).isEmpty();
    // A fresh transaction exactly at the limit passes.
    c.sendRaw("MAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\n");
    replies(c, 2);
    c.sendRaw(concat(bdat(sixty, false), bdat(bytes("c".repeat(38) + "\r\n"), true)));
    assertThat(replies(c, 2).get(1)).startsWith("250 2.0.0 Ok: queued");
    assertThat(afterReceived(store.deliveries().get(0).content())).hasSize(100);
  }

  @Test
  void hugeChunkSizeOverTheLimitIsRefusedWithoutHoldingTheOctets() throws Exception {
    LineClient c = envelope(deploy(new JsonObject().put("maxMessageSize", 1000)));
    byte[] big = new byte[200_000];
    java.util.Arrays.fill(big, (byte) 'z');
    c.sendRaw(concat(bdat(big, true), bytes("NOOP\r\n")));
    assertThat(c.smtp()).startsWith("552 5.3.4");
    assertThat(c.smtp()).isEqualTo("250 2.0.0 Ok");
  }

  @Test
  void dataAfterBdatIs503AndTheTransactionNeedsRset() throws Exception {
    LineClient c = connect(deploy());
    c.sendRaw("EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\n");
    c.readSmtpReply();
    replies(c, 2);
    c.sendRaw(bdat(bytes("part\r\n"), false));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: 6 octets");
    assertThat(cmd(c, "DATA")).isEqualTo("503 5.5.1 Bad sequence of commands: DATA and BDAT cannot be mixed in one transaction, send RSET");
    c.sendRaw(bdat(bytes("rest\r\n"), true));
    assertThat(c.smtp()).startsWith("503 5.5.1");
    assertThat(cmd(c, "RCPT TO:<bob@example.test>")).as("the envelope is closed once BDAT began").startsWith("503 5.5.1");
    assertThat(cmd(c, "RSET")).startsWith("250");
    assertThat(store.deliveries()).isEmpty();
    // DATA and BDAT in one session, one per transaction, is fine.
    c.sendRaw("MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    assertThat(replies(c, 3).get(2)).startsWith("354");
    c.sendRaw("by data\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
  }

  @Test
  void binaryMimeWithDataIs503() throws Exception {
    LineClient c = envelope(deploy());
    assertThat(cmd(c, "DATA")).isEqualTo("503 5.5.1 Bad sequence of commands: BODY=BINARYMIME needs BDAT, send RSET");
    assertThat(cmd(c, "RSET")).startsWith("250");
    assertThat(store.deliveries()).isEmpty();
  }

  @Test
  void bdatAfterLastAndWithoutRecipientsAreRefused() throws Exception {
    LineClient c = envelope(deploy());
    c.sendRaw(concat(bdat(bytes("x"), true), bdat(bytes("y"), true)));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
    assertThat(c.smtp()).as("RFC 3030 section 2: BDAT after BDAT LAST").startsWith("503 5.5.1");
    c.sendRaw(concat(bytes("MAIL FROM:<s@remote.example>\r\nRCPT TO:<nobody@example.test>\r\n"), bdat(bytes("QUIT\r\n"), true)));
    assertThat(replies(c, 3)).extracting(s -> s.substring(0, 3)).containsExactly("250", "550", "554");
    assertThat(cmd(c, "NOOP")).isEqualTo("250 2.0.0 Ok");
    assertThat(store.deliveries()).hasSize(1);
  }

  @Test
  void badBdatArgumentsAre501() throws Exception {
    LineClient c = envelope(deploy());
    assertThat(cmd(c, "BDAT")).startsWith("501 5.5.4");
    assertThat(cmd(c, "BDAT 1x")).startsWith("501 5.5.4");
    assertThat(cmd(c, "BDAT 1 FIRST")).startsWith("501 5.5.4");
    c.sendRaw(bdat(bytes("ok"), true));
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
  }
}
