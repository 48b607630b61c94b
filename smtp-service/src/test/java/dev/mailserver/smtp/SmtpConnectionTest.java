package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.security.LoginThrottle;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The connection glue without sockets: framing across chunk boundaries, content modes and the
 * STARTTLS switch, driven through {@link FakeTransport}, deterministically.
 */
class SmtpConnectionTest extends TestSupport {

  Sim sim(Listener listener, boolean tls) {
    return new Sim(vertx, Sim.options(new JsonObject()), listener, tls, new LoginThrottle(LoginThrottle.Settings.defaults()), false);
  }

  @Test
  void commandsPipelinedBehindStartTlsInTheSameChunkAreDropped() {
    try (Sim s = sim(Listener.MX, true)) {
      s.send("EHLO c\r\nSTARTTLS\r\nEHLO injected\r\nMAIL FROM:<evil@remote.example>\r\n").settle();
      assertThat(s.replies()).hasSize(3).last().isEqualTo("220 2.0.0 Ready to start TLS");
      assertThat(s.transport.tlsSwitches).hasSize(1);
      s.send("MAIL FROM:<a@remote.example>\r\n").settle();
      assertThat(s.replies()).last().asString().startsWith("503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
    }
  }

  /**
   * Plaintext that reaches the connection in a later chunk, after the 220 but before the handshake
   * completed (a socket may deliver what it had buffered), is dropped as well.
   */
  @Test
  void plaintextDeliveredDuringTheHandshakeIsDropped() {
    try (Sim s = sim(Listener.SUBMISSION, true)) {
      s.on(() -> {
        s.transport.pause();
        s.transport.clientSends("EHLO c\r\nSTARTTLS\r\n");
        s.transport.clientSends("EHLO injected\r\n");
        s.transport.clientSends("AUTH PLAIN " + SmtpClient.b64("\0alice@example.test\0" + PASSWORD) + "\r\n");
        s.transport.resume();
        return null;
      });
      s.settle();
      assertThat(s.replies()).hasSize(3).last().isEqualTo("220 2.0.0 Ready to start TLS");
      s.send("NOOP\r\nMAIL FROM:<alice@example.test>\r\n").settle();
      assertThat(s.replies()).hasSize(5).endsWith("250 2.0.0 Ok", "503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
      assertThat(s.on(() -> s.handler.session().authenticatedUser())).as("the injected AUTH did not run").isNull();
      assertThat(s.on(() -> s.handler.session().secure())).isTrue();
    }
  }

  @Test
  void zeroLengthLastChunkIsAnsweredWithoutMoreInput() {
    try (Sim s = sim(Listener.MX, false)) {
      s.send("EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT 0 LAST\r\n").settle();
      assertThat(s.replies()).last().asString().startsWith("250 2.0.0 Ok: queued as ");
    }
    assertThat(afterReceived(store.deliveries().get(0).content())).isEmpty();
  }

  /** The same chunked transaction cut at every byte offset: always one message, byte-identical. */
  @Test
  void bdatSplitAtEveryOffset() {
    String content = "Subject: x\r\n\r\n.\r\n\r\n.\r\nBDAT 3\r\nQUIT\r\n";
    String script = "EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
        + "BDAT 5\r\n" + content.substring(0, 5) + "BDAT " + (content.length() - 5) + " LAST\r\n" + content.substring(5)
        + "NOOP\r\n";
    byte[] b = script.getBytes(StandardCharsets.US_ASCII);
    List<String> last = new ArrayList<>();
    for (int cut = 0; cut <= b.length; cut++) {
      try (Sim s = sim(Listener.MX, false)) {
        s.send(Buffer.buffer(java.util.Arrays.copyOfRange(b, 0, cut)));
        s.send(Buffer.buffer(java.util.Arrays.copyOfRange(b, cut, b.length))).settle();
        List<String> r = s.replies();
        assertThat(r).as("cut %d", cut).hasSize(7);
        assertThat(r.get(5)).as("cut %d", cut).startsWith("250 2.0.0 Ok: queued as ");
        last.add(r.get(6));
      }
    }
    assertThat(last).containsOnly("250 2.0.0 Ok");
    assertThat(store.deliveries()).hasSize(b.length + 1)
        .allSatisfy(d -> assertThat(afterReceived(d.content())).isEqualTo(content));
  }

  @Test
  void everyDispatchedCommandIsAnsweredOrDeferredToItsChunk() {
    try (Sim s = sim(Listener.MX, false)) {
      s.send("EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT 2\r\nabBDAT 1 LAST\r\nc"
          + "NOOP\r\nBOGUS\r\n").settle();
      long[] counts = s.on(() -> new long[] {s.connection.dispatched, s.connection.answered, s.connection.deferred});
      // 7 lines + 2 chunk ends; the 2 BDAT lines are answered by their chunk ends.
      assertThat(counts).containsExactly(9, 7, 2);
      assertThat(s.replies()).hasSize(8);
    }
  }
}
