package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.testing.LineClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.mail.MailClient;
import io.vertx.ext.mail.MailConfig;
import io.vertx.ext.mail.MailMessage;
import io.vertx.ext.mail.StartTLSOptions;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.net.pop3.POP3Client;
import org.apache.commons.net.pop3.POP3MessageInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path in one JVM, as operators start it: SMTP in, Maildir on disk, POP3 out, with real
 * clients on both ends and the new-mail event on the bus.
 */
class EmbeddedEndToEndTest {

  @TempDir
  static Path dataDir;
  static MailServer server;
  static final List<MailEvent> events = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    server = MailServer.start(testConfig(dataDir), List.of(Main.Role.values()));
    server.vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS_NEW, m -> events.add(MailEvent.fromJson(m.body())))
        .completion().await(10, TimeUnit.SECONDS);
  }

  static JsonObject testConfig(Path dataDir) throws ConfigException {
    JsonObject c = ConfigLoader.load(null, java.util.Map.of(), new java.util.ArrayList<>());
    c.put("dataDir", dataDir.toString()).put("hostname", "mx.example.test");
    for (String s : List.of("smtp", "pop3", "http", "management")) {
      c.getJsonObject(s).put("host", "127.0.0.1").put("port", 0);
    }
    c.getJsonObject("smtp").put("submissionPort", 0).put("smtpsPort", 0).put("allowPlaintextAuth", true);
    c.getJsonObject("pop3").put("pop3sPort", 0).put("allowPlaintextAuth", true);
    c.put("accounts", new JsonArray()
        .add(new JsonObject().put("address", "alice@example.test").put("password", "alice-pw"))
        .add(new JsonObject().put("address", "bob@example.test").put("password", "bob-pw"))
        .add(new JsonObject().put("address", "carol@example.test").put("password", "carol-pw"))
        .add(new JsonObject().put("address", "dave@example.test").put("password", "dave-pw")));
    return c;
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** The stored message below the trace headers the system adds (Return-Path, Received). */
  static byte[] belowTraceHeaders(byte[] stored) {
    String s = new String(stored, StandardCharsets.ISO_8859_1);
    assertThat(s).startsWith("Return-Path: <");
    int received = s.indexOf("\r\nReceived: ");
    assertThat(received).isPositive();
    // The Received field ends at the first line that does not start with white space (folding).
    int pos = received + 2;
    do {
      pos = s.indexOf("\r\n", pos) + 2;
    } while (s.charAt(pos) == ' ' || s.charAt(pos) == '\t');
    return s.substring(pos).getBytes(StandardCharsets.ISO_8859_1);
  }

  static byte[] pop3Retrieve(String user, String password, int number, boolean delete) throws IOException {
    POP3Client pop = new POP3Client();
    pop.setDefaultTimeout(10_000);
    pop.connect("127.0.0.1", server.pop3Port());
    try {
      assertThat(pop.login(user, password)).as("POP3 login " + user).isTrue();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (Reader r = pop.retrieveMessage(number)) {
        assertThat(r).as("RETR " + number).isNotNull();
        // commons-net hands back lines already un-stuffed; rebuild them with CRLF.
        BufferedReader br = new BufferedReader(r);
        String line;
        while ((line = br.readLine()) != null) {
          out.writeBytes(line.getBytes(StandardCharsets.ISO_8859_1));
          out.writeBytes(new byte[] {'\r', '\n'});
        }
      }
      if (delete) {
        assertThat(pop.deleteMessage(number)).isTrue();
      }
      assertThat(pop.logout()).isTrue();
      return out.toByteArray();
    } finally {
      pop.disconnect();
    }
  }

  static int pop3Count(String user, String password) throws IOException {
    POP3Client pop = new POP3Client();
    pop.setDefaultTimeout(10_000);
    pop.connect("127.0.0.1", server.pop3Port());
    try {
      assertThat(pop.login(user, password)).isTrue();
      POP3MessageInfo status = pop.status();
      pop.logout();
      return status.number;
    } finally {
      pop.disconnect();
    }
  }

  private static void smtpRaw(String from, List<String> rcpts, byte[] body) throws IOException {
    try (LineClient c = new LineClient("127.0.0.1", server.smtpPort())) {
      assertThat(c.smtp()).startsWith("220 ");
      c.send("EHLO client.example.test");
      assertThat(c.smtp()).startsWith("250 ");
      c.send("MAIL FROM:<" + from + ">");
      assertThat(c.smtp()).startsWith("250 ");
      for (String r : rcpts) {
        c.send("RCPT TO:<" + r + ">");
        assertThat(c.smtp()).startsWith("250 ");
      }
      c.send("DATA");
      assertThat(c.smtp()).startsWith("354 ");
      c.sendRaw(body).sendRaw(".\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued as ");
      c.send("QUIT");
      assertThat(c.smtp()).startsWith("221 ");
    }
  }

  @Test
  void rawSmtpInPop3OutByteForByteWithDotsAndEightBit() throws Exception {
    String body = "From: sender@elsewhere.test\r\nTo: dave@example.test\r\nSubject: e2e dots\r\n\r\n"
        + ".leading dot\r\n..two dots\r\n.\r\nnot the end\r\nUTF-8: grüße\r\n";
    byte[] sent = body.getBytes(StandardCharsets.UTF_8);
    // Dot-stuff as RFC 5321 section 4.5.2 requires of the client.
    String stuffed = body.replace("\r\n.", "\r\n..");
    smtpRaw("sender@elsewhere.test", List.of("dave@example.test"), stuffed.getBytes(StandardCharsets.UTF_8));

    byte[] stored;
    try (LineClient p = new LineClient("127.0.0.1", server.pop3Port())) {
      assertThat(p.readLine()).startsWith("+OK");
      p.send("USER dave@example.test");
      assertThat(p.readLine()).startsWith("+OK");
      p.send("PASS dave-pw");
      assertThat(p.readLine()).startsWith("+OK");
      p.send("RETR 1");
      String ok = p.readLine();
      assertThat(ok).startsWith("+OK");
      byte[] wire = p.readPop3MultiLineRaw();
      assertThat(new String(wire, StandardCharsets.UTF_8)).contains("\r\n..leading dot\r\n...two dots\r\n..\r\n");
      stored = LineClient.unstuff(wire);
      assertThat(ok).isEqualTo("+OK " + stored.length + " octets");
      p.send("DELE 1");
      assertThat(p.readLine()).startsWith("+OK");
      p.send("QUIT");
      assertThat(p.readLine()).startsWith("+OK");
    }
    assertThat(new String(stored, StandardCharsets.UTF_8)).startsWith("Return-Path: <sender@elsewhere.test>\r\nReceived: from client.example.test");
    assertThat(belowTraceHeaders(stored)).isEqualTo(sent);
    await().atMost(Duration.ofSeconds(10)).until(() -> pop3Count("dave@example.test", "dave-pw") == 0);
  }

  @Test
  void jakartaMailSendsCommonsNetReadsBack() throws Exception {
    Properties props = new Properties();
    props.put("mail.smtp.host", "127.0.0.1");
    props.put("mail.smtp.port", String.valueOf(server.smtpPort()));
    props.put("mail.smtp.connectiontimeout", "10000");
    props.put("mail.smtp.timeout", "10000");
    Session session = Session.getInstance(props);
    MimeMessage msg = new MimeMessage(session);
    msg.setFrom(new InternetAddress("jakarta@elsewhere.test"));
    msg.setRecipient(Message.RecipientType.TO, new InternetAddress("carol@example.test"));
    msg.setSubject("Hello from Jakarta Mail");
    msg.setText("First line\n.dot line\nLast line\n", "UTF-8");
    msg.saveChanges();
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    msg.writeTo(written);
    // sendMessage (unlike Transport.send) does not call saveChanges again, so the Message-ID stays.
    try (Transport t = session.getTransport("smtp")) {
      t.connect();
      t.sendMessage(msg, msg.getAllRecipients());
    }
    // On the wire SMTPTransport turns every line ending into CRLF and ends the data with CRLF.
    String expected = written.toString(StandardCharsets.ISO_8859_1).replace("\r\n", "\n").replace("\n", "\r\n");
    if (!expected.endsWith("\r\n")) {
      expected += "\r\n";
    }

    byte[] got = pop3Retrieve("carol@example.test", "carol-pw", 1, true);
    assertThat(new String(belowTraceHeaders(got), StandardCharsets.ISO_8859_1)).isEqualTo(expected);
  }

  @Test
  void vertxMailClientSendsToTwoMailboxesStoredOncePerMailboxWithEvents() throws Exception {
    int eventsBefore = events.size();
    MailClient client = MailClient.create(server.vertx(), new MailConfig()
        .setHostname("127.0.0.1").setPort(server.smtpPort()).setStarttls(StartTLSOptions.DISABLED));
    MailMessage m = new MailMessage().setFrom("vertx@elsewhere.test")
        .setTo(List.of("alice@example.test", "bob@example.test", "ALICE@example.test"))
        .setSubject("fan-out").setText("to two mailboxes");
    client.sendMail(m).await(20, TimeUnit.SECONDS);
    client.close();

    await().atMost(Duration.ofSeconds(10)).until(() -> events.size() >= eventsBefore + 2);
    List<MailEvent> mine = events.subList(eventsBefore, events.size()).stream()
        .filter(e -> e.subject().equals("fan-out")).toList();
    assertThat(mine).extracting(MailEvent::mailbox).containsExactlyInAnyOrder("alice@example.test", "bob@example.test");
    assertThat(mine).allSatisfy(e -> {
      assertThat(e.type()).isEqualTo(MailEvent.TYPE_NEW);
      assertThat(e.from()).isEqualTo("vertx@elsewhere.test");
      assertThat(e.size()).isPositive();
    });

    // One file per mailbox, in new/, nothing left in tmp/.
    for (String box : List.of("alice", "bob")) {
      Path maildir = dataDir.resolve("mail/example.test/" + box);
      try (Stream<Path> tmp = Files.list(maildir.resolve("tmp")); Stream<Path> nu = Files.list(maildir.resolve("new"))) {
        assertThat(tmp.count()).isZero();
        assertThat(nu.filter(p -> {
          try {
            return Files.readString(p, StandardCharsets.ISO_8859_1).contains("Subject: fan-out");
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        }).count()).isEqualTo(1);
      }
    }
    byte[] a = pop3Retrieve("alice@example.test", "alice-pw", 1, true);
    assertThat(new String(a, StandardCharsets.UTF_8)).contains("Subject: fan-out").contains("to two mailboxes");
  }

  @Test
  void wrongPasswordAndUnknownUserAreRefused() throws Exception {
    try (LineClient p = new LineClient("127.0.0.1", server.pop3Port())) {
      assertThat(p.readLine()).startsWith("+OK");
      p.send("USER alice@example.test");
      assertThat(p.readLine()).startsWith("+OK");
      p.send("PASS wrong");
      assertThat(p.readLine()).startsWith("-ERR [AUTH]");
      p.send("USER nobody@example.test");
      p.readLine();
      p.send("PASS x");
      assertThat(p.readLine()).startsWith("-ERR [AUTH]");
      p.send("STAT");
      assertThat(p.readLine()).startsWith("-ERR");
    }
    try (LineClient c = new LineClient("127.0.0.1", server.smtpPort())) {
      c.smtp();
      c.send("EHLO x.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<a@elsewhere.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("RCPT TO:<nobody@example.test>");
      assertThat(c.smtp()).startsWith("550 5.1.1");
      c.send("RCPT TO:<someone@elsewhere.test>");
      assertThat(c.smtp()).startsWith("550 5.7.1");
    }
  }

  @Test
  void httpHealthIsUp() throws Exception {
    var http = java.net.http.HttpClient.newHttpClient();
    var res = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.httpPort() + "/livez")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
  }
}
