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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Separate JVMs from the built jar on loopback, one role each, joined by Hazelcast under a random
 * cluster name: a mailstore, two SMTP nodes, two POP3 nodes; this test JVM joins as a fifth member
 * and consumes the new-mail events. Then the failure cases: the mailstore killed with SIGKILL
 * during sends, a POP3 node killed while holding a maildrop lock, an SMTP node stopped with SIGTERM
 * in the middle of a transaction.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {

  static final int LEASE_SECONDS = 4;
  static final String CLUSTER = "it-" + UUID.randomUUID();

  @TempDir
  static Path work;
  static Path dataDir;
  static JarProcess mailstore;
  static JarProcess smtp1;
  static JarProcess smtp2;
  static JarProcess pop3a;
  static JarProcess pop3b;
  static Vertx consumer;
  static MailstoreClient client;
  static final List<MailEvent> events = new CopyOnWriteArrayList<>();
  static final List<JarProcess> all = new CopyOnWriteArrayList<>();

  static Map<String, String> env(String members) {
    Map<String, String> env = new HashMap<>(JarProcess.ephemeralEnv());
    env.put("MAIL_CLUSTER_NAME", CLUSTER);
    env.put("MAIL_CLUSTER_HOST", "127.0.0.1");
    env.put("MAIL_CLUSTER_PORT", "0");
    env.put("MAIL_CLUSTER_MEMBERS", members);
    env.put("MAIL_CLUSTER_MEMBER_TIMEOUT_SECONDS", "10");
    env.put("MAIL_DATA_DIR", dataDir.toString());
    env.put("MAIL_SMTP_STORE_TIMEOUT_MS", "4000");
    env.put("MAIL_SMTP_SHUTDOWN_GRACE_SECONDS", "20");
    env.put("MAIL_POP3_STORE_TIMEOUT_MS", "4000");
    env.put("MAIL_POP3_LOCK_LEASE_SECONDS", String.valueOf(LEASE_SECONDS));
    env.put("MAIL_ACCOUNTS", "[{\"address\":\"alice@example.test\",\"password\":\"alice-pw\"},"
        + "{\"address\":\"bob@example.test\",\"password\":\"bob-pw\"},"
        + "{\"address\":\"load@example.test\",\"password\":\"load-pw\"}]");
    return env;
  }

  static JarProcess start(String name, String role, String members) throws Exception {
    JarProcess p = JarProcess.start(name, work, env(members), "--roles", role, "--cluster");
    all.add(p);
    return p;
  }

  static String seeds() {
    List<String> s = new ArrayList<>();
    for (JarProcess p : all) {
      if (p.process.isAlive()) {
        s.add(p.member());
      }
    }
    if (consumer != null) {
      s.add(Cluster.memberAddress(consumer));
    }
    return String.join(",", s);
  }

  @BeforeAll
  static void startCluster() throws Exception {
    dataDir = work.resolve("data");
    mailstore = start("mailstore", "mailstore", "");
    // This JVM is the fifth member: an event consumer, and a bus client for checking the store.
    consumer = Cluster.loopback(CLUSTER, List.of(mailstore.member())).start();
    consumer.eventBus().<JsonObject>consumer(Addresses.EVENTS_NEW, m -> events.add(MailEvent.fromJson(m.body())))
        .completion().await(10, TimeUnit.SECONDS);
    client = new MailstoreClient(consumer, 5_000);
    smtp1 = start("smtp1", "smtp", seeds());
    smtp2 = start("smtp2", "smtp", seeds());
    pop3a = start("pop3a", "pop3", seeds());
    pop3b = start("pop3b", "pop3", seeds());
    for (JarProcess p : List.of(smtp1, smtp2, pop3a, pop3b)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> LauncherIT.httpStatus(p.port("management"), ManagementServer.READYZ) == 200);
    }
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (JarProcess p : all) {
      p.close();
    }
    if (consumer != null) {
      consumer.close().await(30, TimeUnit.SECONDS);
    }
  }

  /** Sends one message; returns the final reply line after the data, or the failure. */
  static String send(int smtpPort, String rcpt, byte[] body) {
    try (LineClient c = new LineClient("127.0.0.1", smtpPort)) {
      if (!c.smtp().startsWith("220")) {
        return "no greeting";
      }
      c.send("EHLO it.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<sender@elsewhere.test>");
      String r = c.smtp();
      if (!r.startsWith("250")) {
        return r;
      }
      c.send("RCPT TO:<" + rcpt + ">");
      r = c.smtp();
      if (!r.startsWith("250")) {
        return r;
      }
      c.send("DATA");
      r = c.smtp();
      if (!r.startsWith("354")) {
        return r;
      }
      c.sendRaw(body).sendRaw(".\r\n");
      r = c.smtp();
      c.send("QUIT");
      return r;
    } catch (IOException e) {
      return "io: " + e;
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static byte[] message(String subject, int lines) {
    StringBuilder b = new StringBuilder("From: sender@elsewhere.test\r\nSubject: " + subject + "\r\n\r\n");
    for (int i = 0; i < lines; i++) {
      b.append("line ").append(i).append(" of ").append(subject).append(" \u00e9\r\n");
    }
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  static byte[] pop3Retr(int port, String user, String pw, int n) throws IOException {
    try (LineClient p = new LineClient("127.0.0.1", port)) {
      assertThat(p.readLine()).startsWith("+OK");
      p.send("USER " + user);
      p.readLine();
      p.send("PASS " + pw);
      assertThat(p.readLine()).startsWith("+OK");
      p.send("RETR " + n);
      assertThat(p.readLine()).startsWith("+OK");
      byte[] b = LineClient.unstuff(p.readPop3MultiLineRaw());
      p.send("QUIT");
      p.readLine();
      return b;
    }
  }

  @Test
  @Order(1)
  void mailThroughEitherSmtpNodeIsStoredOnceAndReadBackThroughPop3WithEvents() throws Exception {
    byte[] m1 = message("via smtp1", 50);
    byte[] m2 = message("via smtp2", 60);
    assertThat(send(smtp1.port("SMTP"), "alice@example.test", m1)).startsWith("250 2.0.0");
    assertThat(send(smtp2.port("SMTP"), "alice@example.test", m2)).startsWith("250 2.0.0");

    assertThat(client.list("alice@example.test").await(10, TimeUnit.SECONDS)).hasSize(2);
    assertThat(EmbeddedEndToEndTest.belowTraceHeaders(pop3Retr(pop3a.port("POP3"), "alice@example.test", "alice-pw", 1))).isEqualTo(m1);
    assertThat(EmbeddedEndToEndTest.belowTraceHeaders(pop3Retr(pop3b.port("POP3"), "alice@example.test", "alice-pw", 2))).isEqualTo(m2);
    await().atMost(Duration.ofSeconds(10)).until(() -> events.stream().filter(e -> e.mailbox().equals("alice@example.test")).count() == 2);
    assertThat(events).extracting(MailEvent::subject).contains("via smtp1", "via smtp2");
  }

  @Test
  @Order(2)
  void killedMailstoreLosesNothingAcknowledgedAndSmtpRecoversWithoutRestart() throws Exception {
    Map<String, String> replies = new ConcurrentHashMap<>();
    Map<String, byte[]> bodies = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> senders = new ArrayList<>();
    for (JarProcess node : List.of(smtp1, smtp2)) {
      int port = node.port("SMTP");
      Thread t = new Thread(() -> {
        for (int i = 0; i < 2_000 && !stop.get(); i++) {
          String subject = node.name + "-" + i;
          byte[] body = message(subject, 20 + (i % 7) * 40);
          bodies.put(subject, body);
          String reply = send(port, "load@example.test", body);
          replies.put(subject, reply);
          if (!reply.startsWith("250")) {
            // A client backs off after a temporary failure; it also keeps the loop from spinning.
            sleep(50);
          }
        }
      });
      t.start();
      senders.add(t);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> replies.values().stream().filter(r -> r.startsWith("250")).count() >= 20);
    mailstore.kill9();
    // The outage: sends must now fail temporarily, never get 250.
    await().atMost(Duration.ofSeconds(30)).until(() -> replies.values().stream().anyMatch(r -> r.startsWith("451")));
    Thread.sleep(2_000);
    mailstore = start("mailstore-restarted", "mailstore", seeds());
    // The SMTP nodes were not restarted: they must accept mail again by themselves.
    int before = (int) replies.values().stream().filter(r -> r.startsWith("250")).count();
    await().atMost(Duration.ofSeconds(60)).until(() -> replies.values().stream().filter(r -> r.startsWith("250")).count() >= before + 20);
    stop.set(true);
    for (Thread t : senders) {
      t.join(60_000);
    }

    List<String> acked = replies.entrySet().stream().filter(e -> e.getValue().startsWith("250")).map(Map.Entry::getKey).toList();
    assertThat(replies.values()).allSatisfy(r -> assertThat(r).matches("(250 2\\.0\\.0|451 4\\.3\\.0|421 4).*"));
    // Every acknowledged message is stored exactly once and whole.
    List<MessageInfo> stored = client.list("load@example.test").await(30, TimeUnit.SECONDS);
    Map<String, Integer> copies = new HashMap<>();
    for (MessageInfo info : stored) {
      byte[] raw = client.fetch("load@example.test", info.id()).await(10, TimeUnit.SECONDS).getBytes();
      assertThat(raw).hasSize((int) info.size());
      String text = new String(raw, StandardCharsets.UTF_8);
      int s = text.indexOf("\r\nSubject: ") + 11;
      String subject = text.substring(s, text.indexOf("\r\n", s));
      copies.merge(subject, 1, Integer::sum);
      assertThat(EmbeddedEndToEndTest.belowTraceHeaders(raw)).as("stored copy of " + subject).isEqualTo(bodies.get(subject));
    }
    long refused = replies.values().stream().filter(r -> r.startsWith("451")).count();
    System.out.printf("ClusterIT kill -9 mailstore: %d sends, %d acknowledged, %d refused with 451, %d stored%n",
        replies.size(), acked.size(), refused, stored.size());
    assertThat(refused).as("sends during the outage were refused").isPositive();
    assertThat(copies.values()).as("no duplicates").allMatch(n -> n == 1);
    assertThat(copies.keySet()).as("every 250 is in the store").containsAll(acked);
  }

  @Test
  @Order(3)
  void lockOfAKilledPop3NodeIsReleasedWithinTheLease() throws Exception {
    LineClient holder = new LineClient("127.0.0.1", pop3a.port("POP3"));
    assertThat(holder.readLine()).startsWith("+OK");
    holder.send("USER bob@example.test");
    holder.readLine();
    holder.send("PASS bob-pw");
    assertThat(holder.readLine()).startsWith("+OK");

    try (LineClient other = new LineClient("127.0.0.1", pop3b.port("POP3"))) {
      other.readLine();
      other.send("USER bob@example.test");
      other.readLine();
      other.send("PASS bob-pw");
      assertThat(other.readLine()).startsWith("-ERR [IN-USE]");
    }
    pop3a.kill9();
    long killed = System.nanoTime();
    await().atMost(Duration.ofSeconds(LEASE_SECONDS + 10)).pollInterval(Duration.ofMillis(250)).until(() -> {
      try (LineClient other = new LineClient("127.0.0.1", pop3b.port("POP3"))) {
        other.readLine();
        other.send("USER bob@example.test");
        other.readLine();
        other.send("PASS bob-pw");
        boolean ok = other.readLine().startsWith("+OK");
        other.send("QUIT");
        return ok;
      }
    });
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - killed);
    System.out.println("ClusterIT POP3 node killed holding a lock: maildrop free again after " + seconds + " s (lease " + LEASE_SECONDS + " s)");
    assertThat(seconds).as("released within the lease").isLessThanOrEqualTo(LEASE_SECONDS + 2);
    holder.close();
  }

  @Test
  @Order(4)
  void sigtermDuringATransactionCompletesItAndLosesNothing() throws Exception {
    byte[] body = message("in flight at SIGTERM", 200);
    int half = body.length / 2;
    try (LineClient c = new LineClient("127.0.0.1", smtp2.port("SMTP"))) {
      assertThat(c.smtp()).startsWith("220");
      c.send("EHLO it.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<sender@elsewhere.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("RCPT TO:<alice@example.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("DATA");
      assertThat(c.smtp()).startsWith("354");
      c.sendRaw(java.util.Arrays.copyOfRange(body, 0, half));
      smtp2.terminate();
      Thread.sleep(1_000);
      c.sendRaw(java.util.Arrays.copyOfRange(body, half, body.length)).sendRaw(".\r\n");
      String reply = c.smtp();
      System.out.println("ClusterIT SIGTERM during DATA: the transaction got " + reply);
      // The grace (20 s) is far longer than the second before the body ends: the drain must let the
      // transaction finish, so a 4xx here (allowed by the issue in general) would mean a broken drain.
      assertThat(reply).startsWith("250 2.0.0");
      List<byte[]> copies = client.list("alice@example.test").await(10, TimeUnit.SECONDS).stream()
          .map(i -> client.fetch("alice@example.test", i.id()).await().getBytes())
          .filter(b -> new String(b, StandardCharsets.UTF_8).contains("Subject: in flight at SIGTERM"))
          .toList();
      assertThat(copies).as("acknowledged, so stored once").hasSize(1);
      assertThat(EmbeddedEndToEndTest.belowTraceHeaders(copies.get(0))).isEqualTo(body);
      assertThat(c.smtp()).startsWith("421 4.3.2");
    }
    assertThat(smtp2.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    // The other SMTP node is unaffected.
    assertThat(send(smtp1.port("SMTP"), "alice@example.test", message("after drain", 3))).startsWith("250 2.0.0");
  }
}
