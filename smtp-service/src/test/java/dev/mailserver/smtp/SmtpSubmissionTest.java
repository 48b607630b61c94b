package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.model.DeliverRequest;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Message submission (RFC 6409) on the submission port (STARTTLS) and the SMTPS port (RFC 8314),
 * and SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
 */
class SmtpSubmissionTest extends TestSupport {

  Deployed d;

  /** Submission port, STARTTLS done, EHLO sent: ready for AUTH. */
  SmtpClient submissionOverTls() throws Exception {
    if (d == null) {
      d = deployAll(new JsonObject());
    }
    SmtpClient c = client(d.verticle().actualSubmissionPort());
    c.cmd("EHLO client.example");
    c.startTls();
    List<String> ehlo = c.cmdAll("EHLO client.example");
    assertThat(ehlo).contains("250 AUTH PLAIN LOGIN");
    return c;
  }

  static List<String> replies(SmtpClient c, int n) throws Exception {
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(c.smtp());
    }
    return out;
  }

  @Test
  void submissionNeedsAuthBeforeMail() throws Exception {
    SmtpClient c = submissionOverTls();
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).isEqualTo("530 5.7.0 Authentication required");
    assertThat(c.cmd("VRFY alice")).startsWith("530 5.7.0");
    assertThat(c.authPlain("alice@example.test", PASSWORD)).isEqualTo("235 2.7.0 Authentication successful");
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).startsWith("250 2.1.0");
  }

  @Test
  void plaintextAuthIsNeitherOfferedNorAcceptedBeforeTls() throws Exception {
    d = deployAll(new JsonObject());
    SmtpClient c = client(d.verticle().actualSubmissionPort());
    List<String> ehlo = c.cmdAll("EHLO client.example");
    assertThat(ehlo).contains("250 STARTTLS").noneMatch(l -> l.contains("AUTH"));
    assertThat(c.authPlain("alice@example.test", PASSWORD))
        .isEqualTo("538 5.7.11 Encryption required for requested authentication mechanism");
    assertThat(c.cmd("AUTH LOGIN")).startsWith("538 5.7.11");
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).startsWith("530 5.7.0");
    // The same on the MX port: AUTH only after TLS there too.
    SmtpClient mx = client(d.port());
    mx.cmd("EHLO client.example");
    assertThat(mx.authPlain("alice@example.test", PASSWORD)).startsWith("538 5.7.11");
  }

  @Test
  void allowPlaintextAuthOffersAndAcceptsAuthBeforeTls() throws Exception {
    d = deployAll(new JsonObject().put("allowPlaintextAuth", true));
    SmtpClient c = client(d.verticle().actualSubmissionPort());
    assertThat(c.cmdAll("EHLO client.example")).contains("250-STARTTLS", "250 AUTH PLAIN LOGIN");
    assertThat(c.authPlain("alice@example.test", PASSWORD)).startsWith("235 2.7.0");
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).startsWith("250 2.1.0");
  }

  @Test
  void authPlainWithInitialResponseContinuationAndFailure() throws Exception {
    SmtpClient c = submissionOverTls();
    assertThat(c.authPlain("alice@example.test", "wrong")).isEqualTo("535 5.7.8 Authentication credentials invalid");
    assertThat(c.authPlain("nobody@example.test", PASSWORD)).as("unknown account looks the same").startsWith("535 5.7.8");
    // No initial response: an empty challenge, then the response on its own line.
    assertThat(c.cmdAll("AUTH PLAIN")).containsExactly("334 ");
    assertThat(c.cmd(SmtpClient.b64("alice@example.test\0alice@example.test\0" + PASSWORD))).startsWith("235 2.7.0");
    assertThat(c.authPlain("alice@example.test", PASSWORD)).isEqualTo("503 5.5.1 Bad sequence of commands: already authenticated");
  }

  @Test
  void authPlainRefusals() throws Exception {
    SmtpClient c = submissionOverTls();
    assertThat(c.cmd("AUTH PLAIN")).isEqualTo("334 ");
    assertThat(c.cmd("*")).isEqualTo("501 5.0.0 Authentication cancelled");
    assertThat(c.cmd("AUTH PLAIN !!notbase64")).isEqualTo("501 5.5.2 Invalid base64 data");
    assertThat(c.cmd("AUTH PLAIN")).isEqualTo("334 ");
    assertThat(c.cmd("abc")).startsWith("501 5.5.2");
    assertThat(c.cmd("AUTH PLAIN " + SmtpClient.b64("no-nul-here"))).startsWith("501 5.5.2");
    assertThat(c.cmd("AUTH PLAIN " + SmtpClient.b64("bob@example.test\0alice@example.test\0" + PASSWORD)))
        .as("authorization identity other than the user").startsWith("535 5.7.8");
    assertThat(c.cmd("AUTH CRAM-MD5")).isEqualTo("504 5.5.4 Unrecognized authentication type");
    assertThat(c.cmd("AUTH")).startsWith("501 5.5.4");
    // Still usable after all that.
    assertThat(c.authPlain("alice@example.test", PASSWORD)).startsWith("235");
  }

  @Test
  void authLoginWithPromptsAndWithInitialResponse() throws Exception {
    SmtpClient c = submissionOverTls();
    // draft-murchison-sasl-login: "Username:" and "Password:" in base64.
    assertThat(c.cmdAll("AUTH LOGIN")).containsExactly("334 VXNlcm5hbWU6");
    assertThat(c.cmdAll(SmtpClient.b64("alice@example.test"))).containsExactly("334 UGFzc3dvcmQ6");
    assertThat(c.cmd(SmtpClient.b64("wrong"))).startsWith("535 5.7.8");
    assertThat(c.cmdAll("AUTH LOGIN " + SmtpClient.b64("alice@example.test"))).containsExactly("334 UGFzc3dvcmQ6");
    assertThat(c.cmd("*")).startsWith("501 5.0.0");
    assertThat(c.cmdAll("AUTH LOGIN " + SmtpClient.b64("alice@example.test"))).containsExactly("334 UGFzc3dvcmQ6");
    assertThat(c.cmd(SmtpClient.b64(PASSWORD))).startsWith("235 2.7.0");
  }

  @Test
  void authIsRefusedInsideATransactionAndAfterHelo() throws Exception {
    d = deployAll(new JsonObject().put("allowPlaintextAuth", true));
    SmtpClient mx = client(d.port());
    mx.cmd("EHLO client.example");
    assertThat(mx.cmd("MAIL FROM:<sender@remote.example>")).startsWith("250");
    assertThat(mx.authPlain("alice@example.test", PASSWORD)).startsWith("503 5.5.1");
    mx.cmd("HELO client.example");
    assertThat(mx.authPlain("alice@example.test", PASSWORD)).startsWith("503 5.5.1");
  }

  @Test
  void storeUnavailableGivesTemporaryFailure() throws Exception {
    SmtpClient c = submissionOverTls();
    store.failNext(MailstoreError.STORAGE_FAILURE);
    assertThat(c.authPlain("alice@example.test", PASSWORD)).isEqualTo("454 4.7.0 Temporary authentication failure");
    assertThat(c.authPlain("alice@example.test", PASSWORD)).startsWith("235");
  }

  @Test
  void authenticatedSenderMayOnlyUseItsOwnAddress() throws Exception {
    SmtpClient c = submissionOverTls();
    c.authPlain("alice@example.test", PASSWORD);
    assertThat(c.cmd("MAIL FROM:<bob@example.test>"))
        .isEqualTo("553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice@example.test");
    assertThat(c.cmd("MAIL FROM:<>")).as("no bounces from a submitter").startsWith("553 5.7.1");
    assertThat(c.cmd("MAIL FROM:<alice@remote.example>")).startsWith("553 5.7.1");
    assertThat(c.cmd("MAIL FROM:<Alice@Example.TEST>")).as("case-insensitive").startsWith("250 2.1.0");
    // No relaying for authenticated users either: the system has no outbound queue.
    assertThat(c.cmd("RCPT TO:<someone@remote.example>")).startsWith("550 5.7.1");
    assertThat(c.cmd("RCPT TO:<bob@example.test>")).startsWith("250 2.1.5");
  }

  /** RFC 6409 sections 8.2 and 8.3: Date and Message-ID are added when missing, and only then. */
  @Test
  void dateAndMessageIdAreAddedOnlyWhenMissing() throws Exception {
    SmtpClient c = submissionOverTls();
    c.authPlain("alice@example.test", PASSWORD);
    String bare = "From: alice@example.test\r\nSubject: no id\r\n\r\nbody\r\n";
    String complete = "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nmessage-id: <mine@example.test>\r\nSubject: full\r\n\r\nbody\r\n";
    String dateOnly = "Subject: half\r\nDATE: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nMessage-ID: <in-body@x>\r\n";
    for (String m : List.of(bare, complete, dateOnly)) {
      c.sendRaw("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
      assertThat(replies(c, 3).get(2)).startsWith("354");
      c.sendRaw(m + ".\r\n");
      assertThat(c.smtp()).startsWith("250 2.0.0");
    }
    List<DeliverRequest> ds = store.deliveries();
    String id0 = ds.get(0).deliveryId();
    assertThat(afterReceived(ds.get(0).content()))
        .matches("Message-ID: <" + id0 + "@" + HOST.replace(".", "\\.") + ">\r\n"
            + "Date: \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n"
            + java.util.regex.Pattern.quote(bare));
    assertThat(afterReceived(ds.get(1).content())).isEqualTo(complete);
    assertThat(afterReceived(ds.get(2).content())).as("a Message-ID in the body does not count")
        .isEqualTo("Message-ID: <" + ds.get(2).deliveryId() + "@" + HOST + ">\r\n" + dateOnly);
  }

  @Test
  void mxPortNeverAddsHeaderFields() throws Exception {
    SmtpClient c = client(deploy());
    String bare = "Subject: relay\r\n\r\nbody\r\n";
    c.sendRaw("EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    c.readSmtpReply();
    assertThat(replies(c, 3).get(2)).startsWith("354");
    c.sendRaw(bare + ".\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).isEqualTo(bare);
  }

  @Test
  void smtpsHasTheSubmissionPolicy() throws Exception {
    d = deployAll(new JsonObject());
    SmtpClient c = tlsClient(d.verticle().actualSmtpsPort());
    c.cmd("EHLO client.example");
    assertThat(c.cmd("MAIL FROM:<carol@other.test>")).startsWith("530 5.7.0");
    assertThat(c.cmd("AUTH LOGIN " + SmtpClient.b64("carol@other.test"))).startsWith("334");
    assertThat(c.cmd(SmtpClient.b64(PASSWORD))).startsWith("235");
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).startsWith("553 5.7.1");
    assertThat(c.cmd("MAIL FROM:<carol@other.test>")).startsWith("250");
    assertThat(c.cmd("RCPT TO:<alice@example.test>")).startsWith("250");
    assertThat(c.cmd("DATA")).startsWith("354");
    c.sendRaw("Subject: s\r\n\r\nx\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0");
    assertThat(afterReceived(store.deliveries().get(0).content())).startsWith("Message-ID: <").contains("\r\nDate: ");
  }

  /**
   * LoginThrottle: 3 free failures, then 500 ms doubling. The 3rd failure's 535 waits 500 ms, the
   * 4th waits the 500 ms the throttle asks before checking plus the 1000 ms its failure earns.
   * Meanwhile another session of the same client is served at once: timers, not sleeps.
   */
  @Test
  void failedAuthIsSlowedDownWithoutStallingOtherSessions() throws Exception {
    SmtpClient c = submissionOverTls();
    long[] took = new long[3];
    for (int i = 0; i < 3; i++) {
      long t0 = System.nanoTime();
      assertThat(c.authPlain("alice@example.test", "guess" + i)).startsWith("535 5.7.8");
      took[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    assertThat(took[0]).isLessThan(450);
    assertThat(took[1]).isLessThan(450);
    assertThat(took[2]).isBetween(450L, 1449L);

    // While the 4th failure is being delayed (1.5 s), another session from the same address is not.
    SmtpClient other = client(d.verticle().actualSubmissionPort());
    long t4 = System.nanoTime();
    c.send("AUTH PLAIN " + SmtpClient.b64("\0alice@example.test\0guess3"));
    Thread.sleep(200);
    long t0 = System.nanoTime();
    assertThat(other.cmd("EHLO other.example")).startsWith("250");
    assertThat(other.cmd("NOOP")).startsWith("250");
    // Well inside the 1.5 s the 4th attempt is held.
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(1000));
    assertThat(c.smtp()).startsWith("535 5.7.8");
    long took4 = (System.nanoTime() - t4) / 1_000_000;
    assertThat(took4).isGreaterThanOrEqualTo(1450L).isGreaterThan(took[2]);
  }

  @Test
  void drainWithAnOpenDataOnTheSubmissionPort() throws Exception {
    d = deployAll(new JsonObject());
    SmtpClient c = submissionOverTls();
    c.authPlain("alice@example.test", PASSWORD);
    assertThat(c.cmd("MAIL FROM:<alice@example.test>")).startsWith("250");
    assertThat(c.cmd("RCPT TO:<bob@example.test>")).startsWith("250");
    assertThat(c.cmd("DATA")).startsWith("354");
    c.sendRaw("Subject: drain\r\n\r\nfirst\r\n");
    SmtpClient idleSmtps = tlsClient(d.verticle().actualSmtpsPort());
    SmtpClient idleSubmission = client(d.verticle().actualSubmissionPort());

    var undeploy = undeploy(d);
    assertThat(idleSmtps.smtp()).startsWith("421 4.3.2");
    assertThat(idleSubmission.smtp()).startsWith("421 4.3.2");
    Thread.sleep(200);
    assertThat(undeploy.isComplete()).as("waits for the open DATA").isFalse();
    c.sendRaw("second\r\n.\r\n");
    assertThat(c.smtp()).startsWith("250 2.0.0 Ok: queued");
    assertThat(c.smtp()).startsWith("421 4.3.2");
    assertThat(c.isClosedByServer()).isTrue();
    undeploy.await(5, TimeUnit.SECONDS);
    assertThat(afterReceived(store.deliveries().get(0).content())).endsWith("Subject: drain\r\n\r\nfirst\r\nsecond\r\n");
  }
}
