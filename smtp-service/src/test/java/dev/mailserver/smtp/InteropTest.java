package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.model.DeliverRequest;
import io.vertx.ext.mail.LoginOption;
import io.vertx.ext.mail.MailClient;
import io.vertx.ext.mail.MailConfig;
import io.vertx.ext.mail.MailMessage;
import io.vertx.ext.mail.MailResult;
import io.vertx.ext.mail.StartTLSOptions;
import jakarta.mail.Message;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real SMTP clients against the server: the bytes they send arrive in the store unchanged. */
class InteropTest extends TestSupport {

  /** Lines that exercise dot-stuffing, blank lines and 8-bit-free plain text. */
  static final String TEXT = "Hello Alice,\r\n.\r\n..two dots\r\n.one dot\r\n\r\nthe end\r\n";

  static String body(DeliverRequest req) {
    String msg = afterReceived(req.content());
    int sep = msg.indexOf("\r\n\r\n");
    assertThat(sep).as("header/body separator").isPositive();
    return msg.substring(sep + 4);
  }

  @Test
  void vertxMailClient() throws Exception {
    int port = deploy();
    MailConfig cfg = new MailConfig().setHostname("127.0.0.1").setPort(port)
        .setStarttls(StartTLSOptions.DISABLED).setLogin(LoginOption.DISABLED).setOwnHostname("vertx.client.test");
    MailClient client = MailClient.create(vertx, cfg);
    try {
      MailMessage m = new MailMessage().setFrom("sender@remote.example")
          .setTo(List.of("alice@example.test", "bob@example.test")).setSubject("interop")
          // The client turns LF into CRLF itself (and quoted-printable-encodes a bare CR).
          .setText(TEXT.replace("\r\n", "\n"));
      MailResult r = client.sendMail(m).await(10, TimeUnit.SECONDS);
      assertThat(r.getRecipients()).containsExactly("alice@example.test", "bob@example.test");
    } finally {
      client.close().await(5, TimeUnit.SECONDS);
    }
    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(req.sender()).isEqualTo("sender@remote.example");
    assertThat(req.recipients()).containsExactly("alice@example.test", "bob@example.test");
    assertThat(req.content().toString()).startsWith("Received: from vertx.client.test ([127.0.0.1])");
    assertThat(afterReceived(req.content())).contains("Subject: interop\r\n");
    assertThat(body(req)).isEqualTo(TEXT);
  }

  Session jakartaSession(int port) {
    Properties p = new Properties();
    p.put("mail.smtp.host", "127.0.0.1");
    p.put("mail.smtp.port", String.valueOf(port));
    p.put("mail.smtp.localhost", "angus.client.test");
    p.put("mail.smtp.connectiontimeout", "5000");
    p.put("mail.smtp.timeout", "5000");
    return Session.getInstance(p);
  }

  @Test
  void jakartaMail() throws Exception {
    int port = deploy();
    Session session = jakartaSession(port);
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress("sender@remote.example"));
    m.setRecipients(Message.RecipientType.TO, "carol@other.test, Bob@Example.test");
    m.setSubject("angus");
    m.setText(TEXT, "US-ASCII");
    Transport.send(m);

    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(req.recipients()).containsExactly("carol@other.test", "bob@example.test");
    assertThat(req.content().toString()).startsWith("Received: from angus.client.test ([127.0.0.1])");
    assertThat(afterReceived(req.content())).contains("Subject: angus\r\n");
    assertThat(body(req)).isEqualTo(TEXT);
  }

  @Test
  void jakartaMailSeesRecipientRejections() throws Exception {
    int port = deploy();
    MimeMessage m = new MimeMessage(jakartaSession(port));
    m.setFrom(new InternetAddress("sender@remote.example"));
    m.setRecipients(Message.RecipientType.TO, "nobody@example.test");
    m.setText("x");
    assertThatThrownBy(() -> Transport.send(m)).isInstanceOf(SendFailedException.class)
        .hasStackTraceContaining("550 5.1.1");
    assertThat(store.deliveries()).isEmpty();
  }

  /** vertx-mail-client: STARTTLS required, AUTH required, on the submission port (RFC 6409). */
  @Test
  void vertxMailClientOverStartTlsWithAuthToSubmission() throws Exception {
    io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    dev.mailserver.common.metrics.Meters.bind(vertx, registry);
    Deployed d = deployAll(new JsonObject());
    MailConfig cfg = new MailConfig().setHostname("127.0.0.1").setPort(d.verticle().actualSubmissionPort())
        .setStarttls(StartTLSOptions.REQUIRED).setTrustAll(true)
        .setLogin(LoginOption.REQUIRED).setUsername("alice@example.test").setPassword(PASSWORD)
        .setOwnHostname("vertx.client.test");
    MailClient client = MailClient.create(vertx, cfg);
    try {
      MailMessage m = new MailMessage().setFrom("alice@example.test").setTo(List.of("bob@example.test"))
          .setSubject("submitted").setText(TEXT.replace("\r\n", "\n"));
      MailResult r = client.sendMail(m).await(15, TimeUnit.SECONDS);
      assertThat(r.getRecipients()).containsExactly("bob@example.test");
      // The submission policy is enforced for this client too. (The client pipelines MAIL, RCPT and
      // DATA and reports either the 553 or the close after its QUIT, so the 553 is read server-side.)
      MailMessage spoofed = new MailMessage().setFrom("carol@other.test").setTo(List.of("bob@example.test")).setText("x");
      assertThatThrownBy(() -> client.sendMail(spoofed).await(15, TimeUnit.SECONDS)).isNotNull();
      assertThat(registry.get(SmtpMetrics.REJECTIONS).tag("code", "553").counter().count()).isEqualTo(1);
    } finally {
      client.close().await(5, TimeUnit.SECONDS);
    }
    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(text(req.content())).startsWith("Received: from vertx.client.test ([127.0.0.1])").contains(" with ESMTPSA id ");
    assertThat(afterReceived(req.content())).contains("Subject: submitted\r\n");
    assertThat(body(req)).isEqualTo(TEXT);
  }

  /** Jakarta Mail (Angus) over implicit TLS (RFC 8314) with AUTH, on the SMTPS port. */
  @Test
  void jakartaMailOverImplicitTlsWithAuth() throws Exception {
    Deployed d = deployAll(new JsonObject());
    Properties p = new Properties();
    p.put("mail.smtps.host", "127.0.0.1");
    p.put("mail.smtps.port", String.valueOf(d.verticle().actualSmtpsPort()));
    p.put("mail.smtps.auth", "true");
    p.put("mail.smtps.ssl.trust", "*");
    p.put("mail.smtp.ssl.trust", "*");
    p.put("mail.smtps.ssl.checkserveridentity", "false");
    p.put("mail.smtps.localhost", "angus.client.test");
    p.put("mail.smtps.connectiontimeout", "5000");
    p.put("mail.smtps.timeout", "5000");
    Session session = Session.getInstance(p);
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress("carol@other.test"));
    m.setRecipients(Message.RecipientType.TO, "alice@example.test");
    m.setSubject("smtps");
    m.setText(TEXT, "US-ASCII");
    try (Transport t = session.getTransport("smtps")) {
      t.connect("carol@other.test", PASSWORD);
      t.sendMessage(m, m.getAllRecipients());
    }
    try (Transport t = session.getTransport("smtps")) {
      assertThatThrownBy(() -> t.connect("carol@other.test", "wrong"))
          .isInstanceOf(jakarta.mail.AuthenticationFailedException.class);
    }
    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(req.sender()).isEqualTo("carol@other.test");
    assertThat(text(req.content())).startsWith("Received: from angus.client.test ([127.0.0.1])").contains(" with ESMTPSA id ");
    assertThat(body(req)).isEqualTo(TEXT);
  }

  static boolean curlAvailable() {
    try {
      Process p = new ProcessBuilder("curl", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  static int curl(Path message, int port, String user) throws Exception {
    Process p = new ProcessBuilder("curl", "-sS", "--max-time", "15", "--ssl-reqd", "--insecure",
        "smtp://127.0.0.1:" + port, "--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
        "--upload-file", message.toString(), "--user", user)
        .redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return p.exitValue();
  }

  /** curl with --ssl-reqd: STARTTLS, then AUTH, on the submission port. */
  @Test
  void curlOverStartTlsWithAuth(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(curlAvailable(), "curl is not installed");
    Deployed d = deployAll(new JsonObject());
    Path msg = dir.resolve("msg.eml");
    String content = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: curl\r\n"
        + "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <curl@example.test>\r\n\r\n" + TEXT;
    Files.write(msg, content.getBytes(StandardCharsets.US_ASCII));
    assertThat(curl(msg, d.verticle().actualSubmissionPort(), "alice@example.test:" + PASSWORD)).isZero();
    // 67: "the user name, password, or similar was not accepted".
    assertThat(curl(msg, d.verticle().actualSubmissionPort(), "alice@example.test:wrong")).isEqualTo(67);
    assertThat(store.deliveries()).hasSize(1);
    DeliverRequest req = store.deliveries().get(0);
    assertThat(text(req.content())).contains(" with ESMTPSA id ");
    assertThat(afterReceived(req.content())).isEqualTo(content);
  }
}
