package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.security.LoginThrottle;
import dev.mailserver.common.testing.FakeMailstore;
import dev.mailserver.smtp.protocol.BdatChunk;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.slf4j.LoggerFactory;

/**
 * Property-based fuzzing (jqwik) of the SMTP session: random and mutated command lines, DATA and
 * BDAT streams, cut into random pieces, through the real {@link SmtpConnection} and
 * {@link SmtpHandler} over a {@link FakeTransport} (no sockets), against the fake mailstore.
 *
 * <p>For every input: nothing is logged at ERROR (no exception escaped into the safety nets), the
 * session settles, every reply is well formed, every command line and every chunk end that was
 * dispatched got exactly one reply (BDAT lines get theirs after their chunk), and the store holds
 * exactly the messages that were answered "250 ... queued as" with those ids, each one complete
 * and within the size limit. For unmutated scripts every stored message is byte-identical to one
 * the script sent. {@link #roundTrip} checks the same for valid transactions cut at random
 * places: exactly one message, byte-identical.
 */
class SmtpFuzzTest {
  static final String HOST = TestSupport.HOST;
  static final Pattern QUEUED = Pattern.compile("^250 2\\.0\\.0 Ok: queued as ([0-9A-Z]+)$");
  static final Pattern REPLY_LINE = Pattern.compile("^[2-5][0-9][0-9][ -].*");

  static Vertx vertx;
  static FakeMailstore store;
  static ListAppender<ILoggingEvent> errors;
  static Level previousLevel;
  static final AtomicLong inputs = new AtomicLong();
  static final AtomicLong mutatedInputs = new AtomicLong();
  static final AtomicLong bytes = new AtomicLong();
  static final AtomicLong stored = new AtomicLong();
  static long startNanos;

  @BeforeContainer
  static void start() throws Exception {
    vertx = Vertx.vertx();
    store = new FakeMailstore(vertx);
    TestSupport.ACCOUNTS.forEach(a -> store.addAccount(a, TestSupport.PASSWORD));
    store.start().await(5, TimeUnit.SECONDS);
    // Thousands of sessions: keep their INFO lines out of the build log, but watch for ERRORs.
    Logger root = (Logger) LoggerFactory.getLogger("dev.mailserver");
    previousLevel = root.getLevel();
    root.setLevel(Level.WARN);
    errors = new ListAppender<>();
    errors.start();
    root.addAppender(errors);
    startNanos = System.nanoTime();
  }

  @AfterContainer
  static void stop() throws Exception {
    long ms = (System.nanoTime() - startNanos) / 1_000_000;
    System.out.printf("SmtpFuzzTest: %d inputs (%d mutated), %d bytes, %d messages stored, %d ms%n",
        inputs.get(), mutatedInputs.get(), bytes.get(), stored.get(), ms);
    Logger root = (Logger) LoggerFactory.getLogger("dev.mailserver");
    root.detachAppender(errors);
    root.setLevel(previousLevel);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  // ---------------------------------------------------------------- the model

  /** One piece of a script. {@code expected} is the stored message it must produce, or null. */
  record Op(byte[] wire, byte[] expected, boolean raw) {
    static Op line(String s) {
      return new Op((s + "\r\n").getBytes(StandardCharsets.UTF_8), null, false);
    }
  }

  /** A byte-level mutation at a relative position. */
  record Mutation(int kind, double at, int value, int length) {}

  record Script(Listener listener, boolean tls, boolean plainAuth, long maxSize, boolean prologue, List<Op> ops,
                List<Double> cuts, List<Mutation> mutations) {

    byte[] render() {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      if (prologue) {
        b.writeBytes("EHLO fuzz.example\r\n".getBytes(StandardCharsets.US_ASCII));
        if (listener.isSubmission()) {
          b.writeBytes(("AUTH PLAIN " + SmtpClient.b64("\0alice@example.test\0" + TestSupport.PASSWORD) + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
        }
      }
      for (Op op : ops) {
        b.writeBytes(op.wire());
      }
      byte[] out = b.toByteArray();
      for (Mutation m : mutations) {
        out = mutate(out, m);
      }
      return out;
    }

    boolean pristine() {
      return mutations.isEmpty() && ops.stream().noneMatch(Op::raw);
    }

    List<byte[]> pieces(byte[] all) {
      List<Integer> at = new ArrayList<>();
      for (double c : cuts) {
        at.add((int) (c * all.length));
      }
      at.sort(null);
      List<byte[]> out = new ArrayList<>();
      int prev = 0;
      for (int a : at) {
        if (a > prev) {
          out.add(java.util.Arrays.copyOfRange(all, prev, a));
          prev = a;
        }
      }
      out.add(java.util.Arrays.copyOfRange(all, prev, all.length));
      return out;
    }

    @Override
    public String toString() {
      return listener + " tls=" + tls + " plainAuth=" + plainAuth + " max=" + maxSize + " prologue=" + prologue
          + " mutations=" + mutations.size() + "\n" + new String(render(), StandardCharsets.ISO_8859_1)
          .replace("\r", "\\r").replace("\n", "\\n\n");
    }
  }

  static final byte[] INTERESTING = {'\r', '\n', '.', 0, ' ', ':', '<', '>', '@', (byte) 0xc3, (byte) 0xff, 'A'};

  static byte[] mutate(byte[] in, Mutation m) {
    if (in.length == 0) {
      return in;
    }
    int pos = Math.min(in.length - 1, (int) (m.at() * in.length));
    ByteArrayOutputStream b = new ByteArrayOutputStream(in.length + 16);
    switch (m.kind()) {
      case 0 -> { // overwrite one byte
        byte[] c = in.clone();
        c[pos] = (byte) m.value();
        return c;
      }
      case 1 -> { // insert an interesting byte
        b.write(in, 0, pos);
        b.write(INTERESTING[m.value() % INTERESTING.length]);
        b.write(in, pos, in.length - pos);
      }
      case 2 -> { // delete a range
        int end = Math.min(in.length, pos + m.length());
        b.write(in, 0, pos);
        b.write(in, end, in.length - end);
      }
      case 3 -> { // duplicate a range
        int end = Math.min(in.length, pos + m.length());
        b.write(in, 0, end);
        b.write(in, pos, end - pos);
        b.write(in, end, in.length - end);
      }
      default -> { // truncate
        b.write(in, 0, pos);
      }
    }
    return b.toByteArray();
  }

  /** RFC 5321 section 4.5.2 transparency: a line starting with "." gets another one. */
  static String stuff(String body) {
    String[] lines = body.split("\r\n", -1);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < lines.length; i++) {
      if (i > 0) {
        sb.append("\r\n");
      }
      sb.append(lines[i].startsWith(".") ? "." + lines[i] : lines[i]);
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- generators

  /**
   * A command that only ever appears inside BDAT chunks: its reply (214) in a session means chunk
   * content was executed as a command (RFC 3030 section 2: chunk octets are data, even when the
   * BDAT is refused).
   */
  static final String CANARY = "HELP";

  static final String GOOD_PLAIN = SmtpClient.b64("\0alice@example.test\0" + TestSupport.PASSWORD);

  static Arbitrary<Op> commandLines() {
    Arbitrary<String> fixed = Arbitraries.of(
        "EHLO fuzz.example", "HELO fuzz.example", "EHLO", "ehlo x y z",
        "MAIL FROM:<sender@remote.example>", "MAIL FROM:<alice@example.test>", "MAIL FROM:<>",
        "MAIL FROM:<alice@example.test> BODY=BINARYMIME", "MAIL FROM:<sender@remote.example> BODY=8BITMIME SIZE=120",
        "MAIL FROM:<jörg@remote.example> SMTPUTF8", "MAIL FROM:<alice@example.test> AUTH=<>", "MAIL FROM:<bob@example.test>",
        "MAIL FROM:<a@b", "MAIL TO:<x@y>",
        "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>", "RCPT TO:<x@remote.example>",
        "RCPT TO:<nobody@example.test>", "RCPT TO:<postmaster>", "RCPT TO:<jörg@example.test>", "RCPT TO:<>",
        "RSET", "NOOP", "VRFY alice", "EXPN x", "QUIT", "STARTTLS", "STARTTLS now",
        "AUTH PLAIN", "AUTH LOGIN", "AUTH PLAIN " + GOOD_PLAIN, "AUTH PLAIN " + SmtpClient.b64("\0alice@example.test\0nope"),
        "AUTH LOGIN " + SmtpClient.b64("alice@example.test"), "AUTH CRAM-MD5", "AUTH PLAIN =", "*", GOOD_PLAIN,
        SmtpClient.b64(TestSupport.PASSWORD), "!!!", "DATA now", "BDAT", "BDAT x", "BDAT 3 FIRST", "BDAT 0 LAST",
        "", " ", "\u0000", "x".repeat(2100), "GET / HTTP/1.1");
    Arbitrary<String> random = Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(40)
        .filter(r -> !r.toUpperCase(java.util.Locale.ROOT).startsWith(CANARY));
    return Arbitraries.frequencyOf(Tuple.of(12, fixed), Tuple.of(1, random)).map(Op::line);
  }

  /** Text lines that can never be a command (so a DATA body run as commands stays harmless). */
  static Arbitrary<String> bodyLine() {
    Arbitrary<String> prefix = Arbitraries.of("", ".", "..", "x", "-", " ", ".\t", "Subject: ", "From: a@b");
    Arbitrary<String> rest = Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(60);
    return Combinators.combine(prefix, rest).as((p, r) -> p.isEmpty() && !r.isEmpty() ? "x" + r : p + r);
  }

  static Arbitrary<Op> dataOps() {
    return bodyLine().list().ofMaxSize(12).map(lines -> {
      String body = lines.isEmpty() ? "" : String.join("\r\n", lines) + "\r\n";
      String wire = "DATA\r\n" + stuff(body) + ".\r\n";
      return new Op(wire.getBytes(StandardCharsets.US_ASCII), body.getBytes(StandardCharsets.US_ASCII), false);
    });
  }

  static Arbitrary<byte[]> chunkBytes() {
    Arbitrary<byte[]> piece = Arbitraries.of("\r\n.\r\n", ".", "..\r\n", "\r\n", "\n", "\r", "\0", "QUIT\r\n", "RSET\r\n",
        "\r\n" + CANARY + "\r\n",
        "BDAT 5\r\n", "é", "text ", "\u00ff").map(s -> s.getBytes(StandardCharsets.UTF_8));
    Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(30);
    return Arbitraries.oneOf(piece, random).list().ofMaxSize(8).map(l -> {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      l.forEach(b::writeBytes);
      return b.toByteArray();
    });
  }

  static Arbitrary<Op> bdatOps() {
    return Combinators.combine(chunkBytes().list().ofMinSize(1).ofMaxSize(4), Arbitraries.of(true, false))
        .as((chunks, zeroLast) -> {
          ByteArrayOutputStream wire = new ByteArrayOutputStream();
          ByteArrayOutputStream all = new ByteArrayOutputStream();
          for (int i = 0; i < chunks.size(); i++) {
            byte[] c = chunks.get(i);
            boolean last = i == chunks.size() - 1 && !zeroLast;
            wire.writeBytes(("BDAT " + c.length + (last ? " LAST" : "") + "\r\n").getBytes(StandardCharsets.US_ASCII));
            wire.writeBytes(c);
            all.writeBytes(c);
          }
          if (zeroLast) {
            wire.writeBytes("BDAT 0 LAST\r\n".getBytes(StandardCharsets.US_ASCII));
          }
          return new Op(wire.toByteArray(), all.toByteArray(), false);
        });
  }

  /** MAIL, RCPT and content in one piece: most of these make a message (when the session allows it). */
  static Arbitrary<Op> transactionOps() {
    Arbitrary<String> sender = Arbitraries.of("alice@example.test", "sender@remote.example", "");
    Arbitrary<String> rcpts = Arbitraries.of("bob@example.test", "alice@example.test", "nobody@example.test", "x@remote.example")
        .list().ofMinSize(1).ofMaxSize(3).map(l -> {
          StringBuilder sb = new StringBuilder();
          l.forEach(r -> sb.append("RCPT TO:<").append(r).append(">\r\n"));
          return sb.toString();
        });
    return Combinators.combine(sender, rcpts, Arbitraries.oneOf(dataOps(), bdatOps())).as((from, to, content) -> {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      b.writeBytes(("MAIL FROM:<" + from + ">\r\n" + to).getBytes(StandardCharsets.US_ASCII));
      b.writeBytes(content.wire());
      return new Op(b.toByteArray(), content.expected(), false);
    });
  }

  static Arbitrary<Op> rawOps() {
    return Arbitraries.bytes().array(byte[].class).ofMaxSize(64).map(b -> new Op(b, null, true));
  }

  static Arbitrary<Mutation> mutations() {
    return Combinators.combine(Arbitraries.integers().between(0, 4), Arbitraries.doubles().between(0, 1),
        Arbitraries.integers().between(0, 255), Arbitraries.integers().between(1, 40)).as(Mutation::new);
  }

  @Provide
  Arbitrary<Script> scripts() {
    Arbitrary<Op> op = Arbitraries.frequencyOf(Tuple.of(10, commandLines()), Tuple.of(2, dataOps()),
        Tuple.of(2, bdatOps()), Tuple.of(4, transactionOps()), Tuple.of(1, rawOps()));
    Arbitrary<List<Mutation>> muts = Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(List.<Mutation>of())), Tuple.of(1, mutations().list().ofMinSize(1).ofMaxSize(6)));
    return Combinators.combine(
        Arbitraries.of(Listener.values()), Arbitraries.of(true, false), Arbitraries.of(true, false),
        Arbitraries.of(64L, 300L, 100_000L), Arbitraries.of(true, true, false), op.list().ofMinSize(1).ofMaxSize(20),
        Arbitraries.doubles().between(0, 1).list().ofMaxSize(6), muts).as(Script::new);
  }

  // ---------------------------------------------------------------- the properties

  @Property(tries = 3000)
  void randomAndMutatedSessionsKeepTheInvariants(@ForAll("scripts") Script script) {
    byte[] wire = script.render();
    boolean pristine = script.pristine();
    inputs.incrementAndGet();
    if (!pristine) {
      mutatedInputs.incrementAndGet();
    }
    bytes.addAndGet(wire.length);
    int errorsBefore = errorCount();
    int deliveriesBefore = store.deliveries().size();
    SmtpOptions options = Sim.options(new JsonObject().put("maxMessageSize", script.maxSize())
        .put("allowPlaintextAuth", script.plainAuth()));
    boolean tls = script.tls() || script.listener().implicitTls();
    try (Sim sim = new Sim(vertx, options, script.listener(), tls, new LoginThrottle(LoginThrottle.Settings.defaults()), false)) {
      for (byte[] piece : script.pieces(wire)) {
        sim.send(Buffer.buffer(piece));
      }
      sim.settle();
      List<String> lines = sim.on(sim.transport::replyLines);
      assertThat(lines).allMatch(l -> REPLY_LINE.matcher(l).matches());
      List<String> replies = sim.replies();
      long[] c = sim.on(() -> new long[] {sim.connection.dispatched, sim.connection.answered, sim.connection.deferred,
          sim.connection.chunkEnds, sim.handler.contentSink() instanceof BdatChunk ? 1 : 0});
      // Every dispatched line or content end was answered, or (BDAT) deferred to its chunk's end.
      assertThat(c[0]).as("dispatched = answered + deferred").isEqualTo(c[1] + c[2]);
      assertThat(c[2]).as("each deferred BDAT is answered at its chunk end, or its chunk is still being read")
          .isEqualTo(c[3] + c[4]);
      // Each answer went out exactly once, after the greeting.
      assertThat((long) replies.size() - 1).isEqualTo(c[1]);

      List<String> ids = new ArrayList<>();
      for (String r : replies) {
        Matcher m = QUEUED.matcher(r);
        if (m.matches()) {
          ids.add(m.group(1));
        }
      }
      List<DeliverRequest> fresh = store.deliveries().subList(deliveriesBefore, store.deliveries().size());
      stored.addAndGet(fresh.size());
      assertThat(fresh).extracting(DeliverRequest::deliveryId).containsExactlyElementsOf(ids);
      Set<String> expected = new HashSet<>();
      // The line op "BDAT 0 LAST" after MAIL and RCPT lines legitimately stores an empty message
      // (RFC 3030 section 2) without any op that announces content.
      if (script.ops().stream().anyMatch(op -> !op.raw() && new String(op.wire(), StandardCharsets.ISO_8859_1).equals("BDAT 0 LAST\r\n"))) {
        expected.add("");
      }
      for (Op op : script.ops()) {
        if (op.expected() != null) {
          expected.add(new String(op.expected(), StandardCharsets.ISO_8859_1));
        }
      }
      for (DeliverRequest d : fresh) {
        String message = afterReceived(d.content());
        if (script.listener().isSubmission()) {
          message = withoutFixups(message, d.deliveryId());
        }
        assertThat((long) message.length()).as("within the size limit").isLessThanOrEqualTo(script.maxSize());
        if (pristine) {
          assertThat(expected).as("stored exactly as sent").contains(message);
        }
      }
      // Without AUTH exchanges or STARTTLS (which legitimately swallow or drop the lines that carry
      // a chunk's size), no byte of a chunk may run as a command.
      boolean framingIntact = pristine && script.ops().stream().noneMatch(op -> {
        String w = new String(op.wire(), StandardCharsets.ISO_8859_1);
        return w.startsWith("AUTH") || w.startsWith("STARTTLS");
      });
      if (framingIntact) {
        assertThat(replies).as("chunk content executed").noneMatch(r -> r.startsWith("214"));
      }
    }
    assertThat(errorCount()).as("ERROR log lines: %s", errors.list).isEqualTo(errorsBefore);
  }

  static final Pattern DATE_LINE = Pattern.compile("Date: \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n");

  /**
   * Removes the Message-ID and Date fields submission puts in front of a message that lacked them
   * (the generated messages never start with such fields themselves).
   */
  static String withoutFixups(String message, String id) {
    String m = message;
    String mid = "Message-ID: <" + id + "@" + HOST + ">\r\n";
    if (m.startsWith(mid)) {
      m = m.substring(mid.length());
    }
    Matcher date = DATE_LINE.matcher(m);
    if (date.lookingAt()) {
      m = m.substring(date.end());
    }
    return m;
  }

  static final Pattern RECEIVED = Pattern.compile(
      "Received: [^\r\n]*\r\n(\t[^\r\n]*\r\n)*?\t[^\r\n]*; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n");

  /**
   * The stored message after our trace header, found by its shape (it ends with the date) rather
   * than by folding, since a message may itself start with white space.
   */
  static String afterReceived(Buffer content) {
    String s = content.toString(StandardCharsets.ISO_8859_1);
    Matcher m = RECEIVED.matcher(s);
    assertThat(m.lookingAt()).as("trace header first: %s", s).isTrue();
    return s.substring(m.end());
  }

  static int errorCount() {
    synchronized (errors) {
      return (int) errors.list.stream().filter(e -> e.getLevel() == Level.ERROR).count();
    }
  }

  /** A valid transaction (DATA or BDAT), cut at random places: exactly one message, byte-identical. */
  @Property(tries = 500)
  void roundTrip(@ForAll("transactions") Script script) {
    byte[] wire = script.render();
    inputs.incrementAndGet();
    bytes.addAndGet(wire.length);
    int before = store.deliveries().size();
    SmtpOptions options = Sim.options(new JsonObject().put("allowPlaintextAuth", true));
    try (Sim sim = new Sim(vertx, options, script.listener(), true, new LoginThrottle(LoginThrottle.Settings.defaults()), false)) {
      for (byte[] piece : script.pieces(wire)) {
        sim.send(Buffer.buffer(piece));
      }
      sim.settle();
      List<String> replies = sim.replies();
      assertThat(replies).last().asString().startsWith("250 2.0.0 Ok: queued as ");
      List<DeliverRequest> fresh = store.deliveries().subList(before, store.deliveries().size());
      assertThat(fresh).hasSize(1);
      stored.incrementAndGet();
      String message = afterReceived(fresh.get(0).content());
      if (script.listener().isSubmission()) {
        message = withoutFixups(message, fresh.get(0).deliveryId());
      }
      assertThat(message).isEqualTo(new String(script.ops().get(script.ops().size() - 1).expected(), StandardCharsets.ISO_8859_1));
    }
  }

  @Provide
  Arbitrary<Script> transactions() {
    // SMTPS is secure from the start; on the other listeners the prologue's AUTH needs TLS or
    // allowPlaintextAuth, so plaintext AUTH is allowed here.
    Arbitrary<Listener> listener = Arbitraries.of(Listener.values());
    return Combinators.combine(listener, Arbitraries.oneOf(dataOps(), bdatOps()),
        Arbitraries.doubles().between(0, 1).list().ofMaxSize(8)).as((l, content, cuts) -> {
          String sender = l.isSubmission() ? "alice@example.test" : "sender@remote.example";
          List<Op> ops = List.of(Op.line("MAIL FROM:<" + sender + ">"), Op.line("RCPT TO:<bob@example.test>"), content);
          return new Script(l, true, true, 100_000L, true, ops, cuts, List.of());
        });
  }
}
