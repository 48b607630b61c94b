package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.DeliverRequest;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * STARTTLS (RFC 3207) and implicit TLS (RFC 8314) dialogues over real sockets, with a
 * javax.net.ssl client layered over the connection after the 220.
 */
class SmtpTlsTest extends TestSupport {

  @Test
  void mxOffersStartTlsAndAuthOnlyAfterIt() throws Exception {
    SmtpClient c = client(deploy());
    List<String> before = c.cmdAll("EHLO client.example");
    assertThat(before).contains("250-CHUNKING", "250-BINARYMIME", "250 STARTTLS").noneMatch(l -> l.contains("AUTH"));
    c.startTls();
    assertThat(c.tlsProtocol()).isIn("TLSv1.2", "TLSv1.3");
    List<String> after = c.cmdAll("EHLO client.example");
    // RFC 3207 section 4.2: not offered again; AUTH now that credentials would be encrypted.
    assertThat(after).noneMatch(l -> l.contains("STARTTLS")).last().isEqualTo("250 AUTH PLAIN LOGIN");
    // The MX port needs no AUTH: local delivery as before, now with ESMTPS in the trace header.
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
    assertThat(c.cmd("RCPT TO:<alice@example.test>")).startsWith("250 2.1.5");
    assertThat(c.cmd("DATA")).startsWith("354");
    c.sendRaw("Subject: tls\r\n\r\nover TLS\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
    DeliverRequest req = store.deliveries().get(0);
    assertThat(text(req.content())).contains(" with ESMTPS id ");
    assertThat(afterReceived(req.content())).isEqualTo("Subject: tls\r\n\r\nover TLS\r\n");
  }

  @Test
  void startTlsResetsTheSessionAndEhloIsNeededAgain() throws Exception {
    SmtpClient c = client(deploy());
    c.cmd("EHLO client.example");
    c.startTls();
    // RFC 3207 section 4.2: back to the state right after the greeting; the old EHLO is forgotten,
    // so not even RSET (which keeps a HELO/EHLO) brings the session back to "greeted".
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
    assertThat(c.cmd("RSET")).startsWith("250");
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
    assertThat(c.cmd("EHLO client.example")).startsWith("250 ");
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("250 2.1.0");
  }

  @Test
  void startTlsClearsAnOpenTransactionIsRefusedInsideOne() throws Exception {
    SmtpClient c = client(deploy());
    c.cmd("EHLO client.example");
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("250");
    // Not inside a transaction: RSET first.
    assertThat(c.cmd("STARTTLS")).startsWith("503 5.5.1");
    assertThat(c.cmd("RSET")).startsWith("250");
    c.startTls();
    c.cmd("EHLO client.example");
    assertThat(c.cmd("RCPT TO:<alice@example.test>")).as("no transaction survives").startsWith("503 5.5.1");
  }

  /**
   * The STARTTLS command injection (CVE-2011-0411 class): commands pipelined in plaintext behind
   * STARTTLS must never be executed after the handshake. If the injected EHLO ran, the first
   * reply after the handshake would be its 250; it must be the 503 for the MAIL we send.
   */
  @Test
  void plaintextPipelinedAfterStartTlsIsDiscardedNotExecuted() throws Exception {
    SmtpClient c = client(deploy());
    c.cmd("EHLO client.example");
    c.sendRaw("STARTTLS\r\nEHLO injected.example\r\nMAIL FROM:<evil@remote.example>\r\n");
    assertThat(c.smtp()).isEqualTo("220 2.0.0 Ready to start TLS");
    c.upgrade();
    assertThat(c.cmd("MAIL FROM:<sender@remote.example>")).startsWith("503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
    assertThat(c.cmd("NOOP")).as("nothing else is queued").isEqualTo("250 2.0.0 Ok");
  }

  @Test
  void injectedRsetOrMailDoesNotRun() throws Exception {
    int port = deploy();
    SmtpClient c = client(port);
    c.cmd("EHLO client.example");
    c.sendRaw("STARTTLS\r\nMAIL FROM:<evil@remote.example>\r\n");
    assertThat(c.smtp()).isEqualTo("220 2.0.0 Ready to start TLS");
    c.upgrade();
    assertThat(c.cmd("EHLO client.example")).startsWith("250 ");
    // Had the injected MAIL run after the handshake, RCPT would be accepted.
    assertThat(c.cmd("RCPT TO:<alice@example.test>")).startsWith("503 5.5.1");

    SmtpClient d = client(port);
    d.cmd("EHLO client.example");
    d.sendRaw("STARTTLS\r\nRSET\r\n");
    assertThat(d.smtp()).isEqualTo("220 2.0.0 Ready to start TLS");
    d.upgrade();
    // An executed RSET would have put a "250 2.0.0 Ok" ahead of this reply.
    assertThat(d.cmd("HELP")).startsWith("214 2.0.0");
  }

  @Test
  void startTlsTwiceOrWithArgumentsIsRefused() throws Exception {
    SmtpClient c = client(deploy());
    c.cmd("EHLO client.example");
    assertThat(c.cmd("STARTTLS now")).startsWith("501 5.5.4");
    c.startTls();
    c.cmd("EHLO client.example");
    assertThat(c.cmd("STARTTLS")).isEqualTo("503 5.5.1 Bad sequence of commands: TLS already active");
    assertThat(c.cmd("NOOP")).isEqualTo("250 2.0.0 Ok");
  }

  @Test
  void tlsDisabledMeansNoStartTlsNoSmtpsAndNoSubmissionWithoutPlaintextAuth() throws Exception {
    JsonObject off = new JsonObject().put("tls", new JsonObject().put("enabled", false));
    Deployed d = deployVerticle(new JsonObject().put("submissionPort", 0).put("smtpsPort", 0), off);
    assertThat(d.verticle().actualSmtpsPort()).isEqualTo(-1);
    assertThat(d.verticle().actualSubmissionPort()).as("nobody could authenticate on it").isEqualTo(-1);
    SmtpClient c = client(d.port());
    assertThat(c.cmdAll("EHLO client.example")).noneMatch(l -> l.contains("STARTTLS") || l.contains("AUTH"));
    assertThat(c.cmd("STARTTLS")).startsWith("502 5.5.1");

    Deployed p = deployVerticle(new JsonObject().put("submissionPort", 0).put("smtpsPort", 0).put("allowPlaintextAuth", true), off);
    assertThat(p.verticle().actualSmtpsPort()).isEqualTo(-1);
    assertThat(p.verticle().actualSubmissionPort()).isPositive();
    SmtpClient s = client(p.verticle().actualSubmissionPort());
    assertThat(s.cmdAll("EHLO client.example")).noneMatch(l -> l.contains("STARTTLS")).contains("250 AUTH PLAIN LOGIN");
    assertThat(s.authPlain("alice@example.test", PASSWORD)).startsWith("235 2.7.0");
  }

  @Test
  void smtpsIsTlsFromTheFirstByte() throws Exception {
    Deployed d = deployAll(new JsonObject());
    assertThat(d.verticle().actualSubmissionPort()).isPositive().isNotEqualTo(d.port());
    assertThat(d.verticle().actualSmtpsPort()).isPositive().isNotEqualTo(d.port());
    SmtpClient c = tlsClient(d.verticle().actualSmtpsPort());
    assertThat(c.isTls()).isTrue();
    List<String> ehlo = c.cmdAll("EHLO client.example");
    assertThat(ehlo).noneMatch(l -> l.contains("STARTTLS")).last().isEqualTo("250 AUTH PLAIN LOGIN");
    assertThat(c.cmd("STARTTLS")).startsWith("503 5.5.1");
    // A plaintext client on the SMTPS port gets no SMTP greeting.
    try (SmtpClient plain = SmtpClient.plain(d.verticle().actualSmtpsPort())) {
      plain.socket().setSoTimeout(1500);
      plain.sendRaw("EHLO plain.example\r\n");
      assertThat(plain.isClosedByServer()).isTrue();
    } catch (java.net.SocketTimeoutException e) {
      // Also fine: the server waits for a ClientHello and never answers in plaintext.
    }
  }

  /** RFC 3848 and RFC 6531 section 3.7.3: the with-protocol tells TLS, AUTH and SMTPUTF8 apart. */
  @Test
  void receivedHeaderNamesTlsAuthAndUtf8() throws Exception {
    Deployed d = deployAll(new JsonObject());
    SmtpClient c = tlsClient(d.verticle().actualSmtpsPort());
    c.cmd("EHLO client.example");
    assertThat(c.authPlain("alice@example.test", PASSWORD)).startsWith("235");
    c.sendRaw("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    assertThat(List.of(c.smtp(), c.smtp(), c.smtp())).extracting(s -> s.substring(0, 3)).containsExactly("250", "250", "354");
    c.sendRaw("Subject: a\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    c.sendRaw("MAIL FROM:<alice@example.test> SMTPUTF8\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    assertThat(List.of(c.smtp(), c.smtp(), c.smtp())).extracting(s -> s.substring(0, 3)).containsExactly("250", "250", "354");
    c.sendRaw("Subject: b\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@b>\r\n\r\ny\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(text(store.deliveries().get(0).content())).contains(" with ESMTPSA id ");
    assertThat(text(store.deliveries().get(1).content())).contains(" with UTF8SMTPSA id ");

    SmtpClient s = client(d.verticle().actualSubmissionPort());
    s.cmd("EHLO client.example");
    s.startTls();
    s.cmd("EHLO client.example");
    assertThat(s.authPlain("bob@example.test", PASSWORD)).startsWith("235");
    String msg = "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c@b>\r\n\r\nz\r\n";
    s.sendRaw("MAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT " + msg.length() + " LAST\r\n" + msg);
    assertThat(List.of(s.smtp(), s.smtp(), s.smtp())).extracting(r -> r.substring(0, 3)).containsExactly("250", "250", "250");
    assertThat(text(store.deliveries().get(2).content())).contains(" with ESMTPSA id ");
  }

  @Test
  void unusableTlsConfigurationFailsTheDeploymentNamingTheKey() {
    JsonObject bad = new JsonObject().put("tls", new JsonObject().put("enabled", true).put("certPath", "/nonexistent/cert.pem"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> vertx.deployVerticle(new SmtpVerticle(),
            new io.vertx.core.DeploymentOptions().setConfig(config(new JsonObject(), bad))).await(10, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tls.certPath");
  }
}
