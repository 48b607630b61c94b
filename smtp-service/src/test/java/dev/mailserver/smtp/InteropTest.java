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
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

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
}
