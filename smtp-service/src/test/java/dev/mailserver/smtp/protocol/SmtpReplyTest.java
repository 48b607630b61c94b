package dev.mailserver.smtp.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class SmtpReplyTest {

  @Test
  void formatsSingleAndMultiLineReplies() {
    assertThat(SmtpReply.of(250, "2.0.0", "Ok").toBuffer().toString()).isEqualTo("250 2.0.0 Ok\r\n");
    assertThat(new SmtpReply(250, null, List.of("mx", "PIPELINING", "SMTPUTF8")).toBuffer().toString())
        .isEqualTo("250-mx\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
    assertThat(Replies.HELP.toBuffer().toString()).startsWith("214-2.0.0 Commands").endsWith("214 2.0.0 See RFC 5321\r\n");
    assertThat(Replies.greeting("mx.test").toBuffer().toString()).isEqualTo("220 mx.test ESMTP ready\r\n");
  }

  @Test
  void refusesMalformedReplies() {
    assertThatThrownBy(() -> SmtpReply.of(250, "5.0.0", "x")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SmtpReply.of(250, "2.0.0", "a\r\nb")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SmtpReply.of(99, null, "x")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void onlyClosingRepliesClose() {
    assertThat(Replies.closing("h").closesConnection()).isTrue();
    assertThat(Replies.idleTimeout("h").closesConnection()).isTrue();
    assertThat(Replies.STORE_UNAVAILABLE.closesConnection()).isFalse();
  }
}
