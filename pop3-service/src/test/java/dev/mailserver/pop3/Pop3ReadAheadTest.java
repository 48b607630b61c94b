package dev.mailserver.pop3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.testing.LineClient;
import dev.mailserver.pop3.protocol.DotEncoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Read-ahead of RETR (Pop3Handler.readAhead): after a RETR the next messages of the snapshot are
 * fetched while the client reads, within 256 KiB per session, each message once, and what is sent
 * is byte for byte the stuffed message (RFC 1939 section 3), as without read-ahead.
 */
class Pop3ReadAheadTest {

  static final int SIZE = 100 * 1024;
  TestServer server;
  final List<String> ids = new ArrayList<>();
  final List<Buffer> contents = new ArrayList<>();

  @BeforeEach
  void start() {
    server = TestServer.start();
    for (int m = 0; m < 6; m++) {
      contents.add(message(m));
      ids.add(server.store.put(TestServer.ALICE, contents.get(m)));
    }
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /** About SIZE octets of CRLF lines, some starting with '.' (lines cross the 64 KiB slice edge). */
  static Buffer message(int m) {
    StringBuilder b = new StringBuilder("Subject: m" + m + "\r\n\r\n");
    int i = 0;
    while (b.length() < SIZE - 100) {
      b.append(i % 7 == 0 ? "." : "").append("line ").append(m).append(' ').append(i++).append("\r\n");
    }
    b.append("\r\n..leading dots\r\n.\r\nend\r\n");
    return Buffer.buffer(b.toString(), StandardCharsets.US_ASCII.name());
  }

  List<String> fetchedIds() {
    return server.store.fetchRequests().stream().map(j -> j.getString("id")).toList();
  }

  @Test
  void theNextMessagesAreFetchedAheadWithinTheBudgetOnceEachAndSentByteForByte() throws Exception {
    try (LineClient c = server.loginAlice()) {
      assertThat(fetchedIds()).as("nothing is fetched before the first RETR").isEmpty();
      retr(c, 1);
      // 2 x 100 KiB fit in the 256 KiB budget, a third does not.
      await().atMost(Duration.ofSeconds(10)).until(() -> fetchedIds().size() >= 3);
      assertThat(fetchedIds()).containsExactly(ids.get(0), ids.get(1), ids.get(2));
      for (int n = 2; n <= 6; n++) {
        retr(c, n);
      }
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK");
    }
    assertThat(fetchedIds()).as("each message fetched exactly once").containsExactlyElementsOf(ids);
  }

  @Test
  void aMessageMarkedDeletedIsNeitherFetchedAheadNorServed() throws Exception {
    try (LineClient c = server.loginAlice()) {
      c.send("DELE 2");
      assertThat(c.readLine()).startsWith("+OK");
      retr(c, 1);
      await().atMost(Duration.ofSeconds(10)).until(() -> fetchedIds().size() >= 3);
      assertThat(fetchedIds()).containsExactly(ids.get(0), ids.get(2), ids.get(3));
      c.send("RETR 2");
      assertThat(c.readLine()).startsWith("-ERR");
      retr(c, 3);
      c.send("QUIT");
      assertThat(c.readLine()).startsWith("+OK");
    }
  }

  @Test
  void aSessionThatOnlyListsFetchesNothing() throws Exception {
    try (LineClient c = server.loginAlice()) {
      for (String cmd : List.of("STAT", "LIST", "UIDL", "QUIT")) {
        c.send(cmd);
        String status = c.readLine();
        assertThat(status).startsWith("+OK");
        if (cmd.equals("LIST") || cmd.equals("UIDL")) {
          c.readPop3MultiLineRaw();
        }
      }
    }
    assertThat(fetchedIds()).isEmpty();
  }

  void retr(LineClient c, int n) throws Exception {
    c.send("RETR " + n);
    assertThat(c.readLine()).isEqualTo("+OK " + contents.get(n - 1).length() + " octets");
    byte[] expected = DotEncoder.encodeAll(contents.get(n - 1)).getBytes();
    byte[] got = c.readPop3MultiLineRaw();
    // readPop3MultiLineRaw stops before the terminator line ".CRLF".
    assertThat(got).as("RETR %d on the wire", n).isEqualTo(Arrays.copyOf(expected, expected.length - 3));
  }
}
