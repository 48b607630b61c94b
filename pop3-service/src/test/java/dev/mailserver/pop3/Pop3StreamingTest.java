package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.Random;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * RETR and TOP of big messages stream with back-pressure: a slow reader makes the server wait (its
 * socket write queue stays bounded), it does not make it buffer a dot-stuffed copy of the message.
 * Measured: byte-identical delivery after unstuffing, the connection's write-queue high-water mark,
 * and the heap (printed; see the module README for the figures).
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
      byte[] buf = new byte[64 * 1024];
      while (true) {
        int want = wire < slowBytes ? 4096 : buf.length;
        int n = in.read(buf, 0, want);
        if (n < 0) {
          throw new IOException("closed after " + wire + " octets");
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
          return;
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
   * The client's receive buffer is small, so the kernel cannot absorb the message either.
   */
  @Test
  void retrOfFiftyMegabytesStreamsWithBoundedWriteQueue() throws Exception {
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
      System.out.printf("POP3 RETR 50 MiB: wire %d octets in %d ms; write-queue high-water %d octets"
              + " (%.1f KiB), queued while the reader slept: %d octets; heap used before %d MiB, during %d MiB"
              + " (delta %+d MiB), after %d MiB (delta %+d MiB)%n",
          reader.wire, (t1 - t0) / 1_000_000, highWater, highWater / 1024.0, queuedMidway[0],
          before / MIB, during[0] / MIB, (during[0] - before) / MIB, after / MIB, (after - before) / MIB);
      assertThat(highWater).isLessThanOrEqualTo(QUEUE_BOUND);
      // The measure is live: the reader did stall the server (the queue filled up to the socket's mark).
      assertThat(highWater).isGreaterThanOrEqualTo(Pop3Connection.SLICE);
      // The store's copy is in "before"; in flight there is one more copy (the fetched Buffer the
      // writer slices), never that plus a dot-stuffed copy or a queued copy (that would be >= 2x).
      assertThat(during[0] - before).isLessThan(size + size / 2);
    }
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
