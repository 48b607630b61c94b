package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreClient;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two clustered Vert.x instances on loopback (Hazelcast, random cluster name, ephemeral ports):
 * the mailstore in one, SMTP in the other. A message and its new-mail event cross the wire intact,
 * which proves the codecs are registered on both nodes and no state is shared in memory.
 */
class ClusteredBusTest {

  @TempDir
  Path dataDir;
  MailServer storeNode;
  MailServer smtpNode;

  @AfterEach
  void stop() {
    if (smtpNode != null) {
      smtpNode.close();
    }
    if (storeNode != null) {
      storeNode.close();
    }
  }

  @Test
  void messageCrossesTheClusterIntact() throws Exception {
    String name = "test-" + UUID.randomUUID();
    Vertx a = Cluster.loopback(name, List.of()).start();
    int seed = Cluster.memberPort(a);
    Vertx b = Cluster.loopback(name, List.of("127.0.0.1:" + seed)).start();

    JsonObject config = EmbeddedEndToEndTest.testConfig(dataDir);
    storeNode = MailServer.start(a, config, List.of(Main.Role.MAILSTORE));
    smtpNode = MailServer.start(b, config, List.of(Main.Role.SMTP));

    List<MailEvent> events = new CopyOnWriteArrayList<>();
    b.eventBus().<JsonObject>consumer(Addresses.EVENTS_NEW, m -> events.add(MailEvent.fromJson(m.body())))
        .completion().await(10, TimeUnit.SECONDS);
    MailstoreClient remote = new MailstoreClient(b, 10_000);
    // Subscriptions propagate through Hazelcast asynchronously: wait until node B sees the store.
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> remote.ping().await(5, TimeUnit.SECONDS) != null);

    byte[] body = ("Subject: across the wire\r\n\r\n" + "binary-ish \u00e9\u00e8 line\r\n".repeat(2000))
        .getBytes(StandardCharsets.UTF_8);
    try (LineClient c = new LineClient("127.0.0.1", smtpNode.smtpPort())) {
      assertThat(c.smtp()).startsWith("220");
      c.send("EHLO far.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<far@elsewhere.test> BODY=8BITMIME");
      assertThat(c.smtp()).startsWith("250");
      c.send("RCPT TO:<alice@example.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("DATA");
      assertThat(c.smtp()).startsWith("354");
      c.sendRaw(body).sendRaw(".\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0");
      c.send("QUIT");
    }

    List<MessageInfo> list = remote.list("alice@example.test").await(10, TimeUnit.SECONDS);
    assertThat(list).hasSize(1);
    byte[] stored = remote.fetch("alice@example.test", list.get(0).id()).await(10, TimeUnit.SECONDS).getBytes();
    assertThat(stored).hasSize((int) list.get(0).size());
    assertThat(EmbeddedEndToEndTest.belowTraceHeaders(stored)).isEqualTo(body);
    await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
    assertThat(events.get(0).subject()).isEqualTo("across the wire");
    assertThat(events.get(0).messageId()).isEqualTo(list.get(0).id());
  }
}
