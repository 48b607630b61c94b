package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vertx.core.json.JsonObject;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.commons.net.pop3.ExtendedPOP3Client;
import org.apache.commons.net.pop3.POP3SClient;
import org.apache.commons.net.util.TrustManagerUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real clients over TLS, against the production defaults (no plaintext login): commons-net
 * {@code POP3SClient} with STLS and with implicit TLS, commons-net AUTH PLAIN, Jakarta Mail (Angus)
 * with required STLS and with the {@code pop3s} store, and curl (skipped when not installed).
 */
class Pop3TlsInteropTest {

  static final String M1 = "From: bob@example.test\r\nTo: alice@example.test\r\nSubject: Secure one\r\n"
      + "Content-Type: text/plain; charset=US-ASCII\r\n\r\nFirst body\r\n.leading dot\r\nend\r\n";

  TestServer server;

  @BeforeEach
  void start() {
    server = TestServer.start(new JsonObject().put("allowPlaintextAuth", false).put("pop3sPort", 0), true);
    server.put(ALICE, M1);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private static String readAll(Reader r) throws Exception {
    assertThat(r).isNotNull();
    try (r) {
      StringWriter w = new StringWriter();
      r.transferTo(w);
      return w.toString();
    }
  }

  /** Explicit TLS: connect in the clear, STLS ({@code execTLS}), then log in. */
  @Test
  void commonsNetStls() throws Exception {
    POP3SClient client = new POP3SClient(false);
    client.setTrustManager(TrustManagerUtils.getAcceptAllTrustManager());
    client.setDefaultTimeout(10_000);
    client.connect("127.0.0.1", server.port);
    try {
      // In the clear the server refuses to take a password.
      assertThat(client.login(ALICE, ALICE_PASSWORD)).isFalse();
      assertThat(client.getReplyString()).startsWith("-ERR [AUTH] Plaintext authentication disallowed");
      assertThat(client.execTLS()).isTrue();
      assertThat(client.capa()).isTrue();
      assertThat(client.getReplyStrings()).contains("USER", "SASL PLAIN").doesNotContain("STLS");
      assertThat(client.login(ALICE, ALICE_PASSWORD)).isTrue();
      assertThat(client.status().number).isEqualTo(1);
      assertThat(readAll(client.retrieveMessage(1))).isEqualTo(M1);
      assertThat(client.logout()).isTrue();
    } finally {
      client.disconnect();
    }
  }

  /** Implicit TLS on the POP3S port (RFC 8314). */
  @Test
  void commonsNetImplicitTls() throws Exception {
    POP3SClient client = new POP3SClient(true);
    client.setTrustManager(TrustManagerUtils.getAcceptAllTrustManager());
    client.setDefaultTimeout(10_000);
    client.connect("127.0.0.1", server.pop3sPort);
    try {
      assertThat(client.login(ALICE, ALICE_PASSWORD)).isTrue();
      assertThat(readAll(client.retrieveMessageTop(1, 1)))
          .isEqualTo(M1.substring(0, M1.indexOf("\r\n\r\n") + 4) + "First body\r\n");
      assertThat(client.deleteMessage(1)).isTrue();
      assertThat(client.logout()).isTrue();
    } finally {
      client.disconnect();
    }
    assertThat(server.store.messages(ALICE)).isEmpty();
  }

  /** commons-net's SASL client: STLS, then AUTH PLAIN with its initial response. */
  @Test
  void commonsNetAuthPlain() throws Exception {
    ExtendedPOP3Client client = new ExtendedPOP3Client();
    client.setTrustManager(TrustManagerUtils.getAcceptAllTrustManager());
    client.setDefaultTimeout(10_000);
    client.connect("127.0.0.1", server.port);
    try {
      assertThat(client.execTLS()).isTrue();
      assertThat(client.auth(ExtendedPOP3Client.AUTH_METHOD.PLAIN, ALICE, "wrong")).isFalse();
      assertThat(client.auth(ExtendedPOP3Client.AUTH_METHOD.PLAIN, ALICE, ALICE_PASSWORD)).isTrue();
      // commons-net 3.11's auth() does not move its own state machine to TRANSACTION (login() does).
      client.setState(POP3SClient.TRANSACTION_STATE);
      assertThat(client.status().number).isEqualTo(1);
      assertThat(client.logout()).isTrue();
    } finally {
      client.disconnect();
    }
  }

  private Properties jakartaProps(String protocol, int port) {
    Properties p = new Properties();
    p.put("mail." + protocol + ".host", "127.0.0.1");
    p.put("mail." + protocol + ".port", String.valueOf(port));
    p.put("mail." + protocol + ".connectiontimeout", "10000");
    p.put("mail." + protocol + ".timeout", "10000");
    p.put("mail." + protocol + ".ssl.trust", "*");
    // The generated certificate names the host in its CN only (no subjectAltName), which Angus's
    // identity check rejects even for a trusted certificate; trust-all tests do not check identity.
    p.put("mail." + protocol + ".ssl.checkserveridentity", "false");
    return p;
  }

  private void readInbox(Store store) throws Exception {
    try {
      Folder inbox = store.getFolder("INBOX");
      inbox.open(Folder.READ_ONLY);
      Message[] messages = inbox.getMessages();
      assertThat(messages).hasSize(1);
      assertThat(messages[0].getSubject()).isEqualTo("Secure one");
      ByteArrayOutputStream raw = new ByteArrayOutputStream();
      messages[0].writeTo(raw);
      assertThat(raw.toString(StandardCharsets.ISO_8859_1)).isEqualTo(M1);
      inbox.close(false);
    } finally {
      store.close();
    }
  }

  /** Jakarta Mail with STLS required: it must find STLS in CAPA, switch, then log in. */
  @Test
  void jakartaMailStls() throws Exception {
    Properties p = jakartaProps("pop3", server.port);
    p.put("mail.pop3.starttls.enable", "true");
    p.put("mail.pop3.starttls.required", "true");
    Store store = Session.getInstance(p).getStore("pop3");
    store.connect("127.0.0.1", server.port, ALICE, ALICE_PASSWORD);
    readInbox(store);
  }

  @Test
  void jakartaMailPop3s() throws Exception {
    Store store = Session.getInstance(jakartaProps("pop3s", server.pop3sPort)).getStore("pop3s");
    store.connect("127.0.0.1", server.pop3sPort, ALICE, ALICE_PASSWORD);
    readInbox(store);
  }

  private static boolean curlAvailable() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, "curl").canExecute()) {
        return true;
      }
    }
    return false;
  }

  private static String curl(List<String> args) throws Exception {
    Process p = new ProcessBuilder(args).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("curl exit status").isZero();
    return new String(out, StandardCharsets.ISO_8859_1);
  }

  /** curl over POP3S; it logs in with SASL PLAIN (CAPA lists it) and retrieves message 1. */
  @Test
  void curlPop3s() throws Exception {
    assumeTrue(curlAvailable(), "curl not installed");
    String out = curl(List.of("curl", "--silent", "--show-error", "--insecure", "--max-time", "15",
        "pop3s://127.0.0.1:" + server.pop3sPort + "/1", "--user", ALICE + ":" + ALICE_PASSWORD));
    assertThat(out).isEqualTo(M1);
  }

  /** curl with STLS required on the plain port. */
  @Test
  void curlStls() throws Exception {
    assumeTrue(curlAvailable(), "curl not installed");
    String out = curl(List.of("curl", "--silent", "--show-error", "--insecure", "--ssl-reqd", "--max-time", "15",
        "pop3://127.0.0.1:" + server.port + "/1", "--user", ALICE + ":" + ALICE_PASSWORD));
    assertThat(out).isEqualTo(M1);
  }
}
