package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.pop3.protocol.DotEncoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RETR and TOP of big messages stream with back-pressure: a slow reader makes the server wait (its
 * socket write queue stays bounded), it does not make it buffer a dot-stuffed copy of the message.
 * RETR of a message above {@link Pop3Handler#STREAM_THRESHOLD} is fetched in ranges while it is
 * written, so the heap does not hold the message either. Measured: byte-identical delivery after
 * unstuffing, the connection's write-queue high-water mark, the ranges asked of the store, and the
 * heap (printed; see the module README for the figures). A message that vanishes, shrinks or grows
 * between ranges aborts the RETR: the connection closes without the terminating dot.
 */
class Pop3StreamingTest {

  static final int MIB = 1024 * 1024;
  /** Generous for one 64 KiB slice (twice that stuffed) on top of Netty's 64 KiB high-water mark. */
  static final long QUEUE_BOUND = 256 * 1024;

  TestServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** A message of {@code size} octets with CRLF lines, 8-bit octets and lines that need stuffing. */
  static Buffer message(int size, long seed) {
    Random rnd = new Random(seed);
    byte[] b = new byte[size];
    byte[] head = "From: big@example.test\r\nSubject: big\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(head, 0, b, 0, head.length);
    int i = head.length;
    while (i < size - 2) {
      int len = Math.min(rnd.nextInt(120), size - 2 - i);
      int kind = rnd.nextInt(20);
      for (int k = 0; k < len; k++) {
        int c = 32 + rnd.nextInt(95);
        if (k == 0 && kind < 2) {
          c = '.'; // one line in ten starts with a dot: stuffed on the wire
        } else if (kind == 3) {
          c = 128 + rnd.nextInt(128); // 8-bit octets pass untouched
        }
        b[i++] = (byte) c;
      }
      if (i < size - 2) {
        b[i++] = '\r';
        b[i++] = '\n';
      }
    }
    while (i < size) {
      b[i] = (byte) (i == size - 2 ? '\r' : i == size - 1 ? '\n' : 'x');
      i++;
    }
    return Buffer.buffer(b);
  }

  static String sha256(byte[] b) throws NoSuchAlgorithmException {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static long usedHeap() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
    return rt.totalMemory() - rt.freeMemory();
  }

  /**
   * Reads a dot-terminated multi-line body from {@code in}, unstuffing on the fly into a digest;
   * the first {@code slowBytes} octets in 4 KiB reads with a 1 ms pause after each.
   */
  static final class Reader {
    final MessageDigest digest;
    long octets;
    long wire;
    private boolean lineStart = true;
    /** State at a line start: 0 none, 1 saw '.', 2 saw ".\r". */
    private int dotState;
    private Runnable midway = () -> { };
    private long midwayAt = Long.MAX_VALUE;

    Reader() throws NoSuchAlgorithmException {
      digest = MessageDigest.getInstance("SHA-256");
    }

    Reader midway(long at, Runnable r) {
      this.midwayAt = at;
      this.midway = r;
      return this;
    }

    void read(InputStream in, long slowBytes) throws IOException, InterruptedException {
      if (!readToTerminatorOrEof(in, slowBytes)) {
        throw new IOException("closed after " + wire + " octets");
      }
    }

    /** True at the terminator, false when the server closed the connection before it. */
    boolean readToTerminatorOrEof(InputStream in, long slowBytes) throws IOException, InterruptedException {
      byte[] buf = new byte[64 * 1024];
      while (true) {
        int want = wire < slowBytes ? 4096 : buf.length;
        int n = in.read(buf, 0, want);
        if (n < 0) {
          return false;
        }
        wire += n;
        if (wire < slowBytes) {
          Thread.sleep(1);
        }
        if (wire >= midwayAt) {
          midwayAt = Long.MAX_VALUE;
          midway.run();
        }
        if (consume(buf, n)) {
          return true;
        }
      }
    }

    /** True at the terminator. The server writes nothing after it, so the read ends there. */
    private boolean consume(byte[] b, int n) {
      for (int i = 0; i < n; i++) {
        byte c = b[i];
        if (dotState == 1) {
          if (c == '\r') {
            dotState = 2;
            continue;
          }
          dotState = 0; // a stuffed dot: the first '.' was dropped, this octet is data
        } else if (dotState == 2) {
          if (c == '\n') {
            return true;
          }
          throw new IllegalStateException("'.' CR without LF at a line start");
        } else if (lineStart && c == '.') {
          dotState = 1;
          lineStart = false;
          continue;
        }
        digest.update(c);
        octets++;
        lineStart = c == '\n';
      }
      return false;
    }
  }

  /** Stores a generated message (the store keeps its own copy) and returns its SHA-256. */
  private String putMessage(int size, long seed) throws NoSuchAlgorithmException {
    Buffer m = message(size, seed);
    server.store.put(ALICE, m);
    return sha256(m.getBytes());
  }

  private Pop3Connection onlyConnection() {
    assertThat(server.verticle.connections()).hasSize(1);
    return server.verticle.connections().iterator().next();
  }

  /**
   * 50 MiB through a slow reader: the first 3 MiB in 4 KiB reads with 1 ms pauses, then fast.
   * The client's receive buffer is small, so the kernel cannot absorb the message either. The
   * heap is measured while the reader is slow, 2 MiB into the transfer.
   */
  @Test
  void retrOfFiftyMegabytesStreamsInRangesWithBoundedHeapAndWriteQueue() throws Exception {
    server = TestServer.start();
    int size = 50 * MIB;
    String expected = putMessage(size, 42);
    long before = usedHeap();
    long[] during = new long[1];
    long[] queuedMidway = new long[1];
    long t0;
    long t1;
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(32 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", server.port), 5_000);
      s.setSoTimeout(30_000);
      InputStream in = s.getInputStream();
      s.getOutputStream().write(("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\nRETR 1\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(readLine(in)).startsWith("+OK");
      assertThat(readLine(in)).startsWith("+OK");
      assertThat(readLine(in)).startsWith("+OK maildrop has 1 messages");
      t0 = System.nanoTime();
      assertThat(readLine(in)).isEqualTo("+OK " + size + " octets");
      Reader reader = new Reader().midway(2 * MIB, () -> {
        try {
          during[0] = usedHeap();
          queuedMidway[0] = onlyConnection().queuedBytes();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      reader.read(in, 3L * MIB);
      t1 = System.nanoTime();
      assertThat(reader.octets).isEqualTo(size);
      assertThat(HexFormat.of().formatHex(reader.digest.digest())).isEqualTo(expected);
      long highWater = onlyConnection().queuedHighWater();
      s.getOutputStream().write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(readLine(in)).startsWith("+OK");
      long after = usedHeap();
      long delta = during[0] - before;
      System.out.printf("POP3 RETR 50 MiB: wire %d octets in %d ms; write-queue high-water %d octets"
              + " (%.1f KiB), queued while the reader slept: %d octets; heap used before %d MiB, during %d MiB"
              + " (delta %+.2f MiB = %+d octets), after %d MiB (delta %+.2f MiB)%n",
          reader.wire, (t1 - t0) / 1_000_000, highWater, highWater / 1024.0, queuedMidway[0],
          before / MIB, during[0] / MIB, delta / (double) MIB, delta, after / MIB, (after - before) / (double) MIB);
      assertThat(highWater).isLessThanOrEqualTo(QUEUE_BOUND);
      // The measure is live: the reader did stall the server (the queue filled up to the socket's mark).
      assertThat(highWater).isGreaterThanOrEqualTo(Pop3Connection.SLICE);
      // The store's copy is in "before"; in flight there are at most two ranges of 256 KiB (and their
      // transient copies), never the message: fetched whole it was +52 MiB.
      assertThat(delta).isLessThan(16L * MIB);
      // Fetched as consecutive ranges from the start, none longer than a range (+1 for the last).
      List<JsonObject> fetches = server.store.fetchRequests();
      assertThat(fetches).hasSize(size / Pop3Handler.RANGE_LENGTH);
      for (int k = 0; k < fetches.size(); k++) {
        assertThat(fetches.get(k).getLong("offset")).isEqualTo((long) k * Pop3Handler.RANGE_LENGTH);
        assertThat(fetches.get(k).getInteger("length")).isBetween(1, Pop3Handler.RANGE_LENGTH + 1);
      }
    }
  }

  /**
   * A reader that stops reading altogether in the middle of a 32 MiB RETR: the server stops
   * fetching too. It is at most the kernel's socket buffers, the write queue and two ranges ahead
   * of what the client has read, and the heap does not grow with the message.
   */
  @Test
  void aStalledReaderStopsTheRangedFetchesToo() throws Exception {
    server = TestServer.start();
    int size = 32 * MIB;
    String expected = putMessage(size, 11);
    long before = usedHeap();
    long[] stalled = new long[4];
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(32 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", server.port), 5_000);
      s.setSoTimeout(30_000);
      InputStream in = s.getInputStream();
      s.getOutputStream().write(("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\nRETR 1\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      for (int i = 0; i < 3; i++) {
        readLine(in);
      }
      assertThat(readLine(in)).isEqualTo("+OK " + size + " octets");
      Reader reader = new Reader();
      reader.midway(MIB, () -> {
        try {
          Thread.sleep(1_500); // the server runs ahead as far as it will
          stalled[0] = reader.wire;
          stalled[1] = fetchedUpTo();
          stalled[2] = onlyConnection().queuedBytes();
          stalled[3] = usedHeap();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      reader.read(in, 2L * MIB);
      assertThat(reader.octets).isEqualTo(size);
      assertThat(HexFormat.of().formatHex(reader.digest.digest())).isEqualTo(expected);
    }
    long ahead = stalled[1] - stalled[0];
    System.out.printf("POP3 RETR 32 MiB, reader stalled at %d octets: ranges fetched up to %d (%.2f MiB ahead of"
            + " the reader), queued %d octets, heap delta %+.2f MiB%n",
        stalled[0], stalled[1], ahead / (double) MIB, stalled[2], (stalled[3] - before) / (double) MIB);
    // Ahead by the kernel's send buffer (up to 4 MiB here, net.ipv4.tcp_wmem), the client's receive
    // buffer, the write queue and two ranges; fetching on regardless would be ~30 MiB ahead.
    assertThat(ahead).isLessThan(8L * MIB);
    assertThat(stalled[2]).isLessThanOrEqualTo(QUEUE_BOUND);
    assertThat(stalled[3] - before).isLessThan(16L * MIB);
  }

  /** The end of the furthest range the store was asked for. */
  private long fetchedUpTo() {
    return server.store.fetchRequests().stream()
        .filter(r -> r.containsKey("offset"))
        .mapToLong(r -> r.getLong("offset") + r.getLong("length"))
        .max().orElse(0);
  }

  /**
   * The dot-stuffing state carries across range boundaries: ranges that start with '.' at a line
   * start (stuffed) and in the middle of a line (not stuffed), and a CR LF split by a boundary. The
   * wire bytes equal a one-shot encoding of the whole message.
   */
  @Test
  void streamedRetrIsByteForByteTheOneShotEncodingAcrossRangeBoundaries() throws Exception {
    server = TestServer.start();
    int range = Pop3Handler.RANGE_LENGTH;
    int size = 5 * range + 1234;
    byte[] b = message(size, 9).getBytes();
    // boundary 1: ".x" at a line start; 2: ".x" in the middle of a line; 3: CR | LF ".";
    // 4: LF | "." (the line start is known only from the previous range)
    put(b, range - 2, "\r\n.x");
    put(b, 2 * range - 2, "ab.x");
    put(b, 3 * range - 1, "\r\n..");
    put(b, 4 * range - 2, "\r\n.\r\n");
    server.store.put(ALICE, Buffer.buffer(b));
    byte[] wire = DotEncoder.encodeAll(Buffer.buffer(b)).getBytes();
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      c.command("PASS " + ALICE_PASSWORD);
      assertThat(c.command("RETR 1")).isEqualTo("+OK " + size + " octets");
      assertThat(c.socket().getInputStream().readNBytes(wire.length)).isEqualTo(wire);
      assertThat(c.command("NOOP")).isEqualTo("+OK");
    }
    assertThat(server.store.fetchRequests()).hasSize(6);
  }

  private static void put(byte[] b, int at, String s) {
    byte[] x = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(x, 0, b, at, x.length);
  }

  /**
   * The message is deleted (by another protocol, say) in the middle of a streamed RETR: the next
   * range is MESSAGE_NOT_FOUND, and after the +OK the only honest answer is to close the connection
   * without the terminating dot. What was sent is the message's true beginning; the session ends
   * without UPDATE (its DELE is not applied) and the server goes on serving.
   */
  @Test
  void aMessageRemovedBetweenRangesAbortsTheRetrWithoutTheFinalDot() throws Exception {
    server = TestServer.start();
    server.put(ALICE, "Subject: small\r\n\r\nx\r\n");
    int size = 8 * MIB;
    Buffer m = message(size, 17);
    String id = server.store.put(ALICE, m);
    boolean[] removed = {false};
    server.store.afterFetch = req -> {
      if (id.equals(req.getString("id")) && req.getLong("offset", 0L) >= 2L * MIB && !removed[0]) {
        removed[0] = server.store.remove(ALICE, id); // this range is answered, the next is not
      }
    };
    Reader reader = new Reader();
    boolean terminated;
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", server.port), 5_000);
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      s.getOutputStream().write(("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\nDELE 1\r\nRETR 2\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(readLine(in)).startsWith("+OK"); // greeting
      assertThat(readLine(in)).startsWith("+OK"); // USER
      assertThat(readLine(in)).startsWith("+OK maildrop has 2 messages");
      assertThat(readLine(in)).isEqualTo("+OK Message 1 deleted");
      assertThat(readLine(in)).isEqualTo("+OK " + size + " octets");
      terminated = reader.readToTerminatorOrEof(in, 0);
    }
    assertThat(removed[0]).isTrue();
    assertThat(terminated).as("terminating dot").isFalse();
    assertThat(reader.octets).isBetween(2L * MIB, (long) size - 1);
    byte[] prefix = java.util.Arrays.copyOf(m.getBytes(), (int) reader.octets);
    assertThat(HexFormat.of().formatHex(reader.digest.digest())).isEqualTo(sha256(prefix));
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
        .until(() -> server.verticle.connections().isEmpty() && server.leaseHolder(ALICE) == null);
    // No UPDATE: message 1 is still there. And the server serves the next session normally.
    assertThat(server.store.messages(ALICE)).hasSize(1);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).startsWith("+OK");
      assertThat(c.command("STAT")).isEqualTo("+OK 1 " + "Subject: small\r\n\r\nx\r\n".length());
      assertThat(c.command("QUIT")).startsWith("+OK");
    }
  }

  /**
   * Ranges that disagree with the size on the +OK line (a store that rewrote the message: shorter,
   * by less or more than a range, or longer, even by one octet) abort the RETR the same way: the
   * client never gets a message whose length contradicts the +OK line, nor a terminating dot.
   */
  @ParameterizedTest
  @ValueSource(ints = {-1, -1000, -700_000, 1, 5000})
  void rangesThatDisagreeWithTheListedSizeAbortTheRetr(int change) throws Exception {
    server = TestServer.start();
    int size = 3 * MIB;
    Buffer m = message(size, 23);
    String id = server.store.put(ALICE, m);
    Buffer other = change < 0 ? m.getBuffer(0, size + change) : m.copy().appendString("x".repeat(change));
    server.store.afterFetch = req -> {
      if (id.equals(req.getString("id")) && req.getLong("offset", -1L) == 0) {
        server.store.replace(ALICE, id, other); // after the first range, before the +OK
      }
    };
    Reader reader = new Reader();
    boolean terminated;
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      c.command("PASS " + ALICE_PASSWORD);
      assertThat(c.command("RETR 1")).isEqualTo("+OK " + size + " octets");
      terminated = reader.readToTerminatorOrEof(c.socket().getInputStream(), 0);
    }
    assertThat(terminated).as("terminating dot").isFalse();
    assertThat(reader.octets).isLessThan(size);
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
        .until(() -> server.verticle.connections().isEmpty() && server.leaseHolder(ALICE) == null);
  }

  /** Over TLS (POP3S) the same bound holds: the TLS layer's pending writes count too. */
  @Test
  void retrOverTlsIsBoundedToo() throws Exception {
    server = TestServer.start(new JsonObject().put("pop3sPort", 0), true);
    int size = 8 * MIB;
    String expected = putMessage(size, 7);
    try (Pop3TestClient c = Pop3TestClient.implicitTls(server.pop3sPort)) {
      assertThat(c.socket()).isInstanceOf(SSLSocket.class);
      c.readLine();
      c.command("USER " + ALICE);
      assertThat(c.command("PASS " + ALICE_PASSWORD)).startsWith("+OK");
      assertThat(c.command("RETR 1")).isEqualTo("+OK " + size + " octets");
      Reader reader = new Reader();
      reader.read(c.socket().getInputStream(), 2L * MIB);
      assertThat(reader.octets).isEqualTo(size);
      assertThat(HexFormat.of().formatHex(reader.digest.digest())).isEqualTo(expected);
      assertThat(onlyConnection().queuedHighWater()).isLessThanOrEqualTo(QUEUE_BOUND);
    }
  }

  /** TOP sends the headers, the blank line and n lines (the store trims), through the same path. */
  @Test
  void topOfABigMessageSendsOnlyTheTop() throws Exception {
    server = TestServer.start();
    putMessage(8 * MIB, 3);
    try (Pop3TestClient c = Pop3TestClient.plain(server.port)) {
      c.readLine();
      c.command("USER " + ALICE);
      c.command("PASS " + ALICE_PASSWORD);
      assertThat(c.command("TOP 1 2")).startsWith("+OK");
      java.util.List<String> lines = c.readMultiLine();
      assertThat(lines).hasSize(5);
      assertThat(lines.subList(0, 3)).containsExactly("From: big@example.test", "Subject: big", "");
      assertThat(onlyConnection().queuedHighWater()).isLessThan(4096);
    }
  }

  /** A client hanging up in the middle of a big RETR: streaming stops, the lease goes, no UPDATE. */
  @Test
  void hangUpInTheMiddleOfARetrStopsStreamingAndDeletesNothing() throws Exception {
    server = TestServer.start();
    server.put(ALICE, "Subject: small\r\n\r\nx\r\n");
    putMessage(16 * MIB, 5);
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(32 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", server.port), 5_000);
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      s.getOutputStream().write(("USER " + ALICE + "\r\nPASS " + ALICE_PASSWORD + "\r\nDELE 1\r\nRETR 2\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      for (int i = 0; i < 4; i++) {
        assertThat(readLine(in)).startsWith("+OK");
      }
      assertThat(in.readNBytes(256 * 1024)).hasSize(256 * 1024);
      assertThat(onlyConnection().queuedHighWater()).isLessThanOrEqualTo(QUEUE_BOUND);
    }
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
        .until(() -> server.verticle.connections().isEmpty() && server.leaseHolder(ALICE) == null);
    assertThat(server.store.messages(ALICE)).hasSize(2);
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        int len = sb.length();
        return len > 0 && sb.charAt(len - 1) == '\r' ? sb.substring(0, len - 1) : sb.toString();
      }
      sb.append((char) c);
    }
    throw new IOException("closed");
  }
}
