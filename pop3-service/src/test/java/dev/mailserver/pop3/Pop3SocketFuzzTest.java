package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.metrics.LogCapture;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.pop3.protocol.Pop3Command;
import dev.mailserver.pop3.protocol.Pop3Verb;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A seeded fuzz loop over real sockets: random, mutated and valid lines ({@link FuzzLines}), sent
 * one at a time or pipelined in batches, through the framer, the parser, the handler, STLS (the
 * client really switches to TLS when the server agrees) and the bad-command limit. The client
 * predicts only which replies are multi-line (from the command, as RFC 1939 defines them), then
 * checks that every line got exactly one reply, in order: a missing or extra reply shifts the
 * stream and fails the next status-line check or the final NOOP sentinel. No QUIT is ever sent, so
 * nothing may be deleted. Seed and counts are printed.
 */
class Pop3SocketFuzzTest {

  static final long SEED = Long.getLong("pop3.fuzz.seed", 20_241_122L);
  static final int SESSIONS = Integer.getInteger("pop3.fuzz.sessions", 120);
  static final int MAX_LINES = 30;

  int linesSent;
  int repliesRead;
  int multiLine;
  int tlsSwitches;
  int closedByErrorLimit;
  int transactions;

  @Test
  void randomSessionsGetOneReplyPerLineAndDeleteNothing() throws Exception {
    LoginThrottle.Settings noDelay = new LoginThrottle.Settings(1_000_000, 1, 1, 1_000_000, 1, 60_000, 100);
    Random r = new Random(SEED);
    long t0 = System.nanoTime();
    try (LogCapture logs = LogCapture.mailserver();
         TestServer server = TestServer.start(new JsonObject().put("maxErrors", 25), new JsonObject(), true,
             new Pop3Verticle(Pop3Verticle.SHUTDOWN_GRACE_MS, noDelay))) {
      for (String m : Pop3HandlerPropertyTest.MESSAGES) {
        server.put(ALICE, m);
      }
      for (int s = 0; s < SESSIONS; s++) {
        session(server, r);
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> server.leaseHolder(ALICE) == null);
      assertThat(server.store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1))
          .containsExactlyElementsOf(Pop3HandlerPropertyTest.MESSAGES);
      // No exception escaped a command (the handler logs those at ERROR and answers Internal error).
      assertThat(logs.events()).noneMatch(e -> e.getLevel().toString().equals("ERROR"));
    }
    System.out.printf("POP3 socket fuzz: seed %d, %d sessions, %d lines sent, %d replies (%d multi-line), "
            + "%d STLS switches, %d sessions reached TRANSACTION, %d closed by maxErrors, %d ms%n",
        SEED, SESSIONS, linesSent, repliesRead, multiLine, tlsSwitches, transactions, closedByErrorLimit,
        (System.nanoTime() - t0) / 1_000_000);
    assertThat(repliesRead).isEqualTo(linesSent);
  }

  private void session(TestServer server, Random r) throws IOException {
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      assertThat(c.readLine()).startsWith("+OK");
      boolean sasl = false;
      boolean inTransaction = false;
      List<byte[]> lines = new ArrayList<>();
      if (r.nextBoolean()) {
        lines.add(("USER " + ALICE).getBytes(StandardCharsets.US_ASCII));
        lines.add(("PASS " + TestServer.ALICE_PASSWORD).getBytes(StandardCharsets.US_ASCII));
      }
      int n = 1 + r.nextInt(MAX_LINES);
      for (int i = 0; i < n; i++) {
        lines.add(FuzzLines.line(r, false));
      }
      int i = 0;
      while (i < lines.size()) {
        // A batch of 1-4 lines in one write (RFC 2449 section 6.6 pipelining); STLS ends a batch,
        // since the server drops whatever follows it.
        List<byte[]> batch = new ArrayList<>();
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        int size = 1 + (r.nextInt(3) == 0 ? r.nextInt(4) : 0);
        while (batch.size() < size && i < lines.size()) {
          byte[] line = lines.get(i++);
          batch.add(line);
          wire.writeBytes(line);
          wire.writeBytes(new byte[] {'\r', '\n'});
          if (verb(line).filter(v -> v == Pop3Verb.STLS).isPresent()) {
            break;
          }
        }
        writeRaw(c, wire.toByteArray());
        for (byte[] line : batch) {
          linesSent++;
          String status = c.readLine();
          assertThat(status).as("reply to line %d of a session", linesSent).isNotNull();
          assertThat(status).matches("(\\+OK( .*)?|-ERR( .*)?|\\+ .*)");
          repliesRead++;
          boolean wasSasl = sasl;
          sasl = status.startsWith("+ ");
          if (!wasSasl && status.startsWith("+OK") && isMultiLine(line)) {
            multiLine++;
            c.readMultiLine();
          }
          if (status.startsWith("+OK maildrop has")) {
            inTransaction = true;
          }
          if (status.equals("-ERR Too many bad commands, closing connection")) {
            closedByErrorLimit++;
            assertThat(c.isClosedByServer()).isTrue();
            transactions += inTransaction ? 1 : 0;
            return;
          }
          if (!wasSasl && status.equals("+OK Begin TLS negotiation")) {
            c.startTls();
            tlsSwitches++;
          }
        }
      }
      // Sentinel: one more line, one more single-line reply, nothing left over before it.
      c.send("NOOP");
      linesSent++;
      String last = c.readLine();
      assertThat(last).matches("(\\+OK|-ERR .*)");
      repliesRead++;
      if (last.equals("-ERR Too many bad commands, closing connection")) {
        closedByErrorLimit++;
      }
      transactions += inTransaction ? 1 : 0;
    }
  }

  private static void writeRaw(Pop3TestClient c, byte[] bytes) throws IOException {
    c.socket().getOutputStream().write(bytes);
    c.socket().getOutputStream().flush();
  }

  private static Optional<Pop3Verb> verb(byte[] line) {
    return Pop3Command.parse(FuzzLines.text(line)).verb();
  }

  /** Which +OK replies are multi-line (RFC 1939 sections 5 and 7, RFC 2449 section 5). */
  private static boolean isMultiLine(byte[] line) {
    if (line.length + 2 > Pop3Connection.MAX_COMMAND_LINE) {
      return false;
    }
    Pop3Command cmd = Pop3Command.parse(FuzzLines.text(line));
    return cmd.verb().map(v -> switch (v) {
      case CAPA, RETR, TOP -> true;
      case LIST, UIDL, AUTH -> cmd.args().isEmpty();
      default -> false;
    }).orElse(false);
  }
}
