package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.pop3.protocol.DotEncoder;
import dev.mailserver.pop3.protocol.Pop3Reply;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.lifecycle.BeforeTry;
import net.jqwik.api.statistics.Statistics;

/**
 * Property tests (jqwik) of the command parser and handler, without sockets: random and mutated
 * lines ({@link FuzzLines}) in random sessions. Every line gets exactly one reply, well formed,
 * never the internal-error reply (which would mean an exception escaped a command); nothing is
 * deleted without QUIT; QUIT deletes exactly the marked messages. Also the dot-stuffing encoder:
 * any data in any slices unstuffs to itself. Seeds are printed by jqwik on failure.
 */
class Pop3HandlerPropertyTest {

  static final List<String> MESSAGES = List.of(
      "Subject: one\r\n\r\nbody one\r\n.dot\r\n",
      "Subject: two\r\n\r\nbody two\r\n",
      "Subject: three\r\n\r\n.\r\n..\r\nend");

  /** A status line: +OK / -ERR with optional text, or a SASL continuation; one CRLF, at the end. */
  static final Pattern STATUS = Pattern.compile("(\\+OK( [^\r\n]*)?|-ERR( [^\r\n]*)?|\\+ [^\r\n]*)\r\n");
  static final Pattern RESP_CODE = Pattern.compile("-ERR \\[(IN-USE|AUTH|SYS/TEMP|SYS/PERM)\\] .*\r\n");

  static Vertx vertx;
  static Context ctx;
  FakeMailstore store;

  @BeforeContainer
  static void vertx() {
    vertx = Vertx.vertx();
    ctx = vertx.getOrCreateContext();
  }

  @AfterContainer
  static void closeVertx() {
    vertx.close().await();
  }

  @BeforeTry
  void freshStore() {
    store = new FakeMailstore(vertx).addAccount(ALICE, ALICE_PASSWORD).addAccount("bob@example.test", "hunter2");
    store.start().await();
    for (String m : MESSAGES) {
      store.put(ALICE, Buffer.buffer(m));
    }
  }

  @AfterTry
  void stopStore() {
    store.stop().await();
    MaildropLock.leases(vertx).await().clear().await();
  }

  private Pop3Handler handler(boolean plaintext, boolean tls, int maxErrors) {
    Pop3Options options = Pop3Options.fromConfig(new JsonObject().put("hostname", "mail.example.test")
        .put("pop3", new JsonObject().put("storeTimeoutMs", 5_000).put("allowPlaintextAuth", plaintext)
            .put("maxErrors", maxErrors)));
    // A real throttle that never delays: its bookkeeping runs on every login, without the waiting.
    LoginThrottle throttle = new LoginThrottle(new LoginThrottle.Settings(1_000_000, 1, 1, 1_000_000, 1, 60_000, 100));
    Pop3Handler h = new Pop3Handler(vertx, new MailstoreClient(vertx, 5_000), options, options.lockLeaseMs(),
        Pop3Metrics.detached(), throttle);
    h.onConnect("192.0.2.1");
    if (tls) {
      h.tlsStarted();
    }
    return h;
  }

  /** Half of the sessions start with a valid login (USER/PASS or AUTH PLAIN) so TRANSACTION gets fuzzed too. */
  @Provide
  Arbitrary<List<byte[]>> sessionsWithoutQuit() {
    Arbitrary<List<byte[]>> random = Arbitraries.randomValue((Random r) -> FuzzLines.line(r, false)).list().ofMinSize(1).ofMaxSize(40);
    Arbitrary<List<byte[]>> login = Arbitraries.of(
        List.of(bytes("USER " + ALICE), bytes("PASS " + ALICE_PASSWORD)),
        List.of(bytes("AUTH PLAIN " + FuzzLines.b64("\0" + ALICE + "\0" + ALICE_PASSWORD))),
        List.of(bytes("AUTH PLAIN"), bytes(FuzzLines.b64(ALICE + "\0" + ALICE + "\0" + ALICE_PASSWORD))),
        List.<byte[]>of());
    return Arbitraries.frequencyOf(
        Tuple.of(1, random),
        Tuple.of(1, login.flatMap(prefix -> random.map(rest -> {
          List<byte[]> all = new ArrayList<>(prefix);
          all.addAll(rest);
          return all;
        }))));
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Checks one reply; returns its kind for the statistics. */
  static String check(Pop3Reply reply) {
    assertThat(reply).isNotNull();
    String status = reply.statusLine();
    assertThat(status).matches(STATUS);
    assertThat(reply).as("an exception escaped a command").isNotEqualTo(Pop3Handler.INTERNAL);
    if (status.startsWith("-ERR [")) {
      assertThat(status).matches(RESP_CODE);
    }
    if (reply instanceof Pop3Reply.MultiLine) {
      String wire = reply.encode().toString(StandardCharsets.ISO_8859_1);
      String body = wire.substring(status.length());
      // The terminator appears once, at the end: the data are stuffed (RFC 1939 section 3).
      assertThat(body).endsWith(".\r\n");
      String data = body.substring(0, body.length() - 3);
      assertThat(data.isEmpty() || data.endsWith("\r\n")).isTrue();
      assertThat(("\r\n" + data).contains("\r\n.\r\n")).isFalse();
      return "multi-line";
    }
    return reply instanceof Pop3Reply.Continue ? "continue" : status.startsWith("+OK") ? "+OK" : "-ERR";
  }

  @Property(tries = 250)
  void everyLineGetsOneWellFormedReplyAndNothingIsDeletedWithoutQuit(
      @ForAll("sessionsWithoutQuit") List<byte[]> lines, @ForAll boolean plaintext, @ForAll boolean tls)
      throws Exception {
    Pop3Handler h = handler(plaintext, tls, 1_000);
    Statistics.label("lines").collect(lines.size() / 10 * 10 + "-" + (lines.size() / 10 * 10 + 9));
    boolean reachedTransaction = false;
    for (byte[] line : lines) {
      Pop3Reply reply = call(h, FuzzLines.text(line));
      Statistics.label("reply").collect(check(reply));
      reachedTransaction |= h.session().state() == Pop3State.TRANSACTION;
      assertThat(h.session().isQuit()).isFalse();
      assertThat(h.session().state()).isNotEqualTo(Pop3State.UPDATE);
      if (h.takeTlsRequest()) {
        h.tlsStarted(); // what the connection does after the handshake
      }
    }
    Statistics.label("reached TRANSACTION").collect(reachedTransaction);
    onContext(h::close);
    assertThat(store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1))
        .containsExactlyElementsOf(MESSAGES);
    assertThat(MaildropLock.leases(vertx).await().get(ALICE).await()).isNull();
  }

  /** With a small maxErrors the closing reply comes exactly at the limit and says so. */
  @Property(tries = 100)
  void badCommandLimitIsExact(@ForAll("sessionsWithoutQuit") List<byte[]> lines) throws Exception {
    int max = 3;
    Pop3Handler h = handler(true, false, max);
    int bad = 0;
    for (byte[] line : lines) {
      Pop3Reply reply = call(h, FuzzLines.text(line));
      check(reply);
      if (reply == Pop3Handler.TOO_MANY_ERRORS) {
        bad++;
        assertThat(bad).isEqualTo(max);
        assertThat(h.closeRequested()).isTrue();
        break;
      }
      String s = reply.statusLine();
      if (s.equals("-ERR Unknown command\r\n") || s.equals("-ERR Command not valid in this state\r\n")
          || s.equals("-ERR Syntax error\r\n") || s.equals("-ERR Unsupported authentication mechanism\r\n")
          || s.equals("-ERR Invalid base64 data\r\n") || s.equals("-ERR Malformed PLAIN response\r\n")) {
        bad++;
      }
      assertThat(bad).isLessThan(max);
      assertThat(h.closeRequested()).isFalse();
      if (h.takeTlsRequest()) {
        h.tlsStarted();
      }
    }
    onContext(h::close);
    assertThat(store.messages(ALICE)).hasSize(MESSAGES.size());
  }

  @Provide
  Arbitrary<List<String>> transactions() {
    Arbitrary<String> cmd = Arbitraries.oneOf(
        Arbitraries.integers().between(0, 4).map(n -> "DELE " + n),
        Arbitraries.integers().between(0, 4).map(n -> "RETR " + n),
        Arbitraries.of("RSET", "STAT", "LIST", "UIDL", "NOOP", "TOP 1 1", "CAPA", "BOGUS"));
    return cmd.list().ofMaxSize(15);
  }

  /** RFC 1939 section 6: QUIT removes exactly the messages marked (and not unmarked by RSET). */
  @Property(tries = 150)
  void quitDeletesExactlyTheMarkedMessages(@ForAll("transactions") List<String> lines) throws Exception {
    Pop3Handler h = handler(true, false, 1_000);
    call(h, "USER " + ALICE);
    assertThat(call(h, "PASS " + ALICE_PASSWORD).statusLine()).startsWith("+OK");
    boolean[] marked = new boolean[MESSAGES.size()];
    for (String line : lines) {
      Pop3Reply reply = call(h, line);
      check(reply);
      if (line.equals("RSET")) {
        java.util.Arrays.fill(marked, false);
      } else if (line.startsWith("DELE ") && reply.isOk()) {
        marked[Integer.parseInt(line.substring(5)) - 1] = true;
      }
    }
    assertThat(call(h, "QUIT").statusLine()).startsWith("+OK");
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < MESSAGES.size(); i++) {
      if (!marked[i]) {
        expected.add(MESSAGES.get(i));
      }
    }
    assertThat(store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1))
        .containsExactlyElementsOf(expected);
  }

  @Provide
  Arbitrary<Tuple.Tuple2<byte[], List<Integer>>> slicedData() {
    Arbitrary<byte[]> data = Arbitraries.randomValue((Random r) -> {
      byte[] alphabet = {'.', '\r', '\n', 'a', ' ', (byte) 0xFF};
      byte[] b = new byte[r.nextInt(200)];
      for (int i = 0; i < b.length; i++) {
        b[i] = alphabet[r.nextInt(alphabet.length)];
      }
      return b;
    });
    return Arbitraries.integers().between(1, 50).list().ofMaxSize(10).flatMap(cuts -> data.map(d -> Tuple.of(d, cuts)));
  }

  /**
   * The incremental encoder the connection slices through gives the same octets as encoding at once,
   * for any slicing, and unstuffs to the data (plus CRLF when it did not end with one).
   */
  @Property(tries = 500)
  void dotEncoderIsSliceIndependentAndReversible(@ForAll("slicedData") Tuple.Tuple2<byte[], List<Integer>> input) {
    byte[] data = input.get1();
    DotEncoder e = new DotEncoder();
    Buffer out = Buffer.buffer();
    int off = 0;
    for (int cut : input.get2()) {
      int end = Math.min(data.length, off + cut);
      out.appendBuffer(e.encode(Buffer.buffer(data).slice(off, end)));
      off = end;
    }
    out.appendBuffer(e.encode(Buffer.buffer(data).slice(off, data.length))).appendBuffer(e.finish());
    assertThat(out.getBytes()).isEqualTo(DotEncoder.encodeAll(Buffer.buffer(data)).getBytes());
    byte[] wire = out.getBytes();
    byte[] withoutTerminator = java.util.Arrays.copyOf(wire, wire.length - 3);
    byte[] expected = data;
    boolean endsWithCrlf = data.length >= 2 && data[data.length - 2] == '\r' && data[data.length - 1] == '\n';
    if (data.length > 0 && !endsWithCrlf) {
      expected = java.util.Arrays.copyOf(data, data.length + 2);
      expected[data.length] = '\r';
      expected[data.length + 1] = '\n';
    }
    assertThat(unstuffAfterAnyLf(withoutTerminator)).isEqualTo(expected);
  }

  /** The inverse of the encoder's rule (a line starts after every LF, bare or not). */
  static byte[] unstuffAfterAnyLf(byte[] wire) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    boolean lineStart = true;
    for (byte b : wire) {
      if (lineStart && b == '.') {
        lineStart = false;
        continue;
      }
      out.write(b);
      lineStart = b == '\n';
    }
    return out.toByteArray();
  }

  private static Pop3Reply call(Pop3Handler h, String line) throws Exception {
    return onContext(() -> h.handle(line));
  }

  private static <T> T onContext(Supplier<Future<T>> action) throws Exception {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(v -> action.get().onComplete(p));
    return p.future().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }
}
