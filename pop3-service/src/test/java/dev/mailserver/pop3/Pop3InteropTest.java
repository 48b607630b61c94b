package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.ByteArrayOutputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.commons.net.pop3.POP3Client;
import org.apache.commons.net.pop3.POP3MessageInfo;
import org.eclipse.angus.mail.pop3.POP3Folder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Real POP3 clients against the server: Apache commons-net and Jakarta Mail (Angus). */
class Pop3InteropTest {

  static final String M1 = "From: bob@example.test\r\nTo: alice@example.test\r\nSubject: Interop one\r\n"
      + "Content-Type: text/plain; charset=US-ASCII\r\n\r\nFirst body\r\n.leading dot\r\n.\r\nend\r\n";
  static final String M2 = "From: carol@example.test\r\nTo: alice@example.test\r\nSubject: Interop two\r\n"
      + "Content-Type: text/plain; charset=US-ASCII\r\n\r\nSecond body\r\n";

  TestServer server;

  @BeforeEach
  void start() {
    server = TestServer.start();
    server.put(ALICE, M1);
    server.put(ALICE, M2);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void commonsNetClient() throws Exception {
    POP3Client client = new POP3Client();
    client.setDefaultTimeout(10_000);
    client.connect("127.0.0.1", server.port);
    try {
      assertThat(client.capa()).isTrue();
      assertThat(client.getReplyStrings()).contains("PIPELINING", "UIDL", "TOP");
      assertThat(client.login(ALICE, "wrong")).isFalse();
      assertThat(client.getReplyString()).startsWith("-ERR [AUTH]");
      assertThat(client.login(ALICE, ALICE_PASSWORD)).isTrue();
      POP3MessageInfo status = client.status();
      assertThat(status.number).isEqualTo(2);
      assertThat(status.size).isEqualTo(M1.length() + M2.length());
      POP3MessageInfo[] list = client.listMessages();
      assertThat(list).extracting(i -> i.number).containsExactly(1, 2);
      assertThat(list).extracting(i -> i.size).containsExactly(M1.length(), M2.length());
      POP3MessageInfo[] uids = client.listUniqueIdentifiers();
      assertThat(uids).extracting(i -> i.identifier).allMatch(u -> u.startsWith("uid-"));
      assertThat(readAll(client.retrieveMessage(1))).isEqualTo(M1);
      assertThat(readAll(client.retrieveMessageTop(2, 0)))
          .isEqualTo(M2.substring(0, M2.indexOf("\r\n\r\n") + 4));
      assertThat(client.deleteMessage(1)).isTrue();
      assertThat(client.deleteMessage(1)).isFalse();
      assertThat(client.logout()).isTrue();
    } finally {
      client.disconnect();
    }
    assertThat(server.store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1)).containsExactly(M2);
  }

  @Test
  void jakartaMailClient() throws Exception {
    Properties props = new Properties();
    props.put("mail.pop3.host", "127.0.0.1");
    props.put("mail.pop3.port", String.valueOf(server.port));
    props.put("mail.pop3.connectiontimeout", "10000");
    props.put("mail.pop3.timeout", "10000");
    Session session = Session.getInstance(props);
    Store store = session.getStore("pop3");
    store.connect("127.0.0.1", server.port, ALICE, ALICE_PASSWORD);
    try {
      POP3Folder inbox = (POP3Folder) store.getFolder("INBOX");
      inbox.open(Folder.READ_WRITE);
      assertThat(inbox.getMessageCount()).isEqualTo(2);
      Message[] messages = inbox.getMessages();
      assertThat(messages[0].getSubject()).isEqualTo("Interop one");
      assertThat(messages[1].getSubject()).isEqualTo("Interop two");
      assertThat(messages[1].getContent()).isEqualTo("Second body\r\n");
      assertThat(messages[0].getContent()).isEqualTo("First body\r\n.leading dot\r\n.\r\nend\r\n");
      ByteArrayOutputStream raw = new ByteArrayOutputStream();
      messages[0].writeTo(raw);
      assertThat(raw.toString(StandardCharsets.ISO_8859_1)).isEqualTo(M1);
      assertThat(inbox.getUID(messages[0])).startsWith("uid-");
      assertThat(inbox.getUID(messages[1])).isNotEqualTo(inbox.getUID(messages[0]));
      messages[1].setFlag(Flags.Flag.DELETED, true);
      inbox.close(true); // expunge: DELE then QUIT
    } finally {
      store.close();
    }
    assertThat(server.store.messages(ALICE)).extracting(b -> b.toString(StandardCharsets.ISO_8859_1)).containsExactly(M1);
  }

  private static String readAll(Reader r) throws Exception {
    assertThat(r).isNotNull();
    try (r) {
      StringWriter w = new StringWriter();
      r.transferTo(w);
      return w.toString();
    }
  }
}
