package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.time.ZonedDateTime;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HeaderFixupsTest {

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      "Subject: x\\r\\n\\r\\nbody"                                   | false | false
      "Date: now\\r\\nMessage-ID: <a@b>\\r\\n\\r\\n"                  | true  | true
      "date:now\\r\\nMESSAGE-ID:<a@b>\\r\\n"                           | true  | true
      "Subject: x\\r\\n\\r\\nDate: in the body\\r\\n"                  | false | false
      "X-Folded: a\\r\\n Date: continuation\\r\\n\\r\\n"               | false | false
      "Subject: bare LF\\nDate: x\\nMessage-Id: <y>\\n\\n"             | true  | true
      "not a header line\\r\\nDate: x\\r\\n"                           | false | false
      "Message-ID : spaced name\\r\\n"                                 | false | false
      ""                                                               | false | false
      """)
  void findsDateAndMessageIdInTheHeaderSectionOnly(String message, boolean date, boolean messageId) {
    String m = message.replace("\\r", "\r").replace("\\n", "\n");
    Buffer b = Buffer.buffer("PREFIX\r\n" + m);
    assertThat(HeaderFixups.scan(b, 8)).isEqualTo(new HeaderFixups.Present(date, messageId));
  }

  @ParameterizedTest
  @CsvSource({"false,false,2", "true,false,1", "false,true,1", "true,true,0"})
  void addsOnlyWhatIsMissing(boolean date, boolean messageId, int fields) {
    String f = HeaderFixups.missingFields(new HeaderFixups.Present(date, messageId), "Q1", "mx.example",
        ZonedDateTime.parse("2026-11-21T10:15:30Z"));
    assertThat(f.isEmpty() ? 0 : f.split("\r\n").length).isEqualTo(fields);
    if (!messageId) {
      assertThat(f).startsWith("Message-ID: <Q1@mx.example>\r\n");
    }
    if (!date) {
      assertThat(f).endsWith("Date: Sat, 21 Nov 2026 10:15:30 +0000\r\n");
    }
  }
}
