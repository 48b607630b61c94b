package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

class MessageTextTest {

  @Test
  void subjectIsTheFirstOneUnfoldedAndUndecoded() {
    Buffer m = Buffer.buffer("From: a@b\r\nsubject: =?UTF-8?Q?caf=C3=A9?= and\r\n\tmore\r\nSubject: second\r\n\r\nSubject: body\r\n");
    assertThat(MessageText.subject(m)).isEqualTo("=?UTF-8?Q?caf=C3=A9?= and\tmore");
  }

  @Test
  void subjectIsOnlySearchedInTheHeaderSection() {
    assertThat(MessageText.subject(Buffer.buffer("From: a@b\r\n\r\nSubject: in body\r\n"))).isEmpty();
    assertThat(MessageText.subject(Buffer.buffer(""))).isEmpty();
    assertThat(MessageText.subject(Buffer.buffer("X-Subject: no\r\nSubject:yes\r\n"))).isEqualTo("yes");
  }

  @Test
  void overlongFoldedSubjectIsCut() {
    StringBuilder b = new StringBuilder("Subject: x\r\n");
    for (int i = 0; i < 2000; i++) {
      b.append(" 0123456789\r\n");
    }
    assertThat(MessageText.subject(Buffer.buffer(b.append("\r\n").toString()))).hasSize(MessageText.MAX_SUBJECT_CHARS);
  }
}
