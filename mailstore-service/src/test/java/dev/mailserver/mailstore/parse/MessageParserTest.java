package dev.mailserver.mailstore.parse;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MessageParserTest {

  static byte[] fixture(String name) throws IOException {
    try (InputStream in = MessageParserTest.class.getResourceAsStream("/messages/" + name)) {
      assertThat(in).as(name).isNotNull();
      return in.readAllBytes();
    }
  }

  @Test
  void alternativeHasTextAndHtmlAndNoAttachments() throws IOException {
    ParsedMessage m = MessageParser.parse(fixture("alternative.eml"));
    MessageSummary s = m.summary();
    assertThat(s.subject()).isEqualTo("Quarterly numbers");
    assertThat(s.from()).isEqualTo(new MailAddress("Alice Example", "alice@example.org"));
    assertThat(s.to()).containsExactly(new MailAddress("Bob", "bob@example.test"), new MailAddress(null, "carol@example.org"));
    assertThat(s.cc()).containsExactly(new MailAddress("Doe, Dave", "dave@example.org"));
    assertThat(s.date()).isEqualTo(Instant.parse("2025-06-03T09:05:30Z"));
    assertThat(s.messageId()).isEqualTo("alt-1@example.org");
    // Quoted-printable soft line break joined, whitespace collapsed in the snippet only.
    assertThat(m.text()).isEqualTo("Hello Bob,\r\n\r\nthe   numbers are in. Revenue is up 12 %.");
    assertThat(s.snippet()).isEqualTo("Hello Bob, the numbers are in. Revenue is up 12 %.");
    assertThat(m.html()).startsWith("<html>").contains("<b>Bob</b>");
    assertThat(m.attachments()).isEmpty();
    assertThat(s.hasAttachments()).isFalse();
    assertThat(m.problem()).isNull();
    assertThat(m.headers()).extracting(HeaderField::name)
        .containsExactly("From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type");
    assertThat(m.headers().get(7).value()).isEqualTo("multipart/alternative; boundary=\"ALT-BOUNDARY\"");
    // The summary walk agrees with the full one.
    assertThat(MessageParser.summarize(fixture("alternative.eml"), true)).isEqualTo(s);
  }

  @Test
  void mixedListsAttachmentsWithDecodedFilenames() throws IOException {
    byte[] raw = fixture("mixed-attachments.eml");
    ParsedMessage m = MessageParser.parse(raw);
    assertThat(m.html()).contains("cid:chart@example.org");
    assertThat(m.text()).isNull();
    assertThat(m.attachments()).extracting(PartInfo::partId).containsExactly("1.2", "2", "3");
    PartInfo gif = m.attachments().get(0);
    assertThat(gif.contentType()).isEqualTo("image/gif");
    assertThat(gif.contentId()).isEqualTo("chart@example.org");
    assertThat(gif.isAttachment()).as("inline image of multipart/related").isFalse();
    PartInfo pdf = m.attachments().get(1);
    assertThat(pdf.filename()).isEqualTo("report.pdf");
    assertThat(pdf.disposition()).isEqualTo("attachment");
    assertThat(pdf.size()).isEqualTo(30 + 256);
    PartInfo csv = m.attachments().get(2);
    // RFC 2231 continuation with a charset: "€ Kurs" + "übersicht.csv"
    assertThat(csv.filename()).isEqualTo("\u20ac Kurs\u00fcbersicht.csv");
    assertThat(csv.contentType()).isEqualTo("text/csv");
    assertThat(csv.charset()).isEqualTo("utf-8");
    assertThat(m.summary().hasAttachments()).isTrue();
    assertThat(m.summary().snippet()).isEqualTo("See the chart:");
    assertThat(MessageParser.summarize(raw, true).hasAttachments()).isTrue();

    PartContent part = MessageParser.part(raw, "2").orElseThrow();
    assertThat(part.contentType()).isEqualTo("application/pdf");
    assertThat(new String(part.data(), 0, 8, StandardCharsets.ISO_8859_1)).isEqualTo("%PDF-1.4");
    assertThat(part.data()).hasSize(30 + 256);
    assertThat(MessageParser.part(raw, "3").orElseThrow().data()).isEqualTo("kurs;preis\nEUR;1.00\n".getBytes(StandardCharsets.UTF_8));
    assertThat(MessageParser.part(raw, "1.2").orElseThrow().data()).startsWith((byte) 'G', (byte) 'I', (byte) 'F');
    assertThat(MessageParser.part(raw, "1")).as("a multipart is not a leaf").isEmpty();
    assertThat(MessageParser.part(raw, "9")).isEmpty();
    assertThat(MessageParser.part(raw, "../1")).isEmpty();
  }

  @Test
  void encodedWordsInSubjectAndFromAreDecoded() throws IOException {
    MessageSummary s = MessageParser.summarize(fixture("encoded-headers.eml"), true);
    assertThat(s.subject()).isEqualTo("Grüße ✓ aus Köln"); // UTF-8 B encoding
    assertThat(s.from()).isEqualTo(new MailAddress("Jörg Müller", "joerg@example.de")); // ISO-8859-1 Q encoding
    assertThat(s.to()).containsExactly(new MailAddress("Ákos", "akos@example.test"));
    assertThat(s.date()).as("comment after the zone").isEqualTo(Instant.parse("2025-06-05T08:00:00Z"));
    assertThat(s.snippet()).isEqualTo("Schöne Grüße aus Köln ✓");
  }

  @Test
  void nonUtf8CharsetsAreDecoded() throws IOException {
    ParsedMessage latin = MessageParser.parse(fixture("latin1.eml"));
    assertThat(latin.text()).isEqualTo("Grüße aus München: Äpfel, Öl und Übermut kosten 5 ¤.\r\n");

    ParsedMessage sj = MessageParser.parse(fixture("shift-jis.eml"));
    assertThat(sj.text()).isEqualTo("こんにちは、世界。テストです。");
    assertThat(sj.summary().subject()).isEqualTo("Привет мир"); // KOI8-R encoded word
  }

  @Test
  void malformedMessageStillYieldsWhatItCan() throws IOException {
    byte[] raw = fixture("malformed.eml");
    ParsedMessage m = MessageParser.parse(raw);
    assertThat(m.summary().from()).isEqualTo(new MailAddress(null, "broken@example.org"));
    assertThat(m.summary().subject()).startsWith("Broken").endsWith("message");
    assertThat(m.summary().date()).isNull();
    assertThat(m.text()).isNotNull(); // the garbled base64 decodes as far as it goes
    assertThat(m.attachments()).extracting(PartInfo::partId).containsExactly("2");
    assertThat(MessageParser.summarize(raw, true).subject()).isEqualTo(m.summary().subject());
  }

  @Test
  void headerlessMessageIsAllBody() throws IOException {
    byte[] raw = concat("Return-Path: <x@example.org>\r\n".getBytes(StandardCharsets.US_ASCII), fixture("no-headers.eml"));
    ParsedMessage m = MessageParser.parse(raw);
    assertThat(m.headers()).extracting(HeaderField::name).containsExactly("Return-Path");
    assertThat(m.text()).isEqualTo("Hello, this message has no header section at all.\r\nIt is just text: äöü\r\n");
    assertThat(m.summary().subject()).isEmpty();
    assertThat(m.summary().from()).isNull();
  }

  @Test
  void garbageInTheHeaderSectionStartsTheBody() {
    String msg = "Subject: ok\r\nFrom: a@example.org\r\nthis is no header\r\nTo: lost@example.org\r\n\r\nbody\r\n";
    ParsedMessage m = MessageParser.parse(msg.getBytes(StandardCharsets.US_ASCII));
    assertThat(m.headers()).extracting(HeaderField::name).containsExactly("Subject", "From");
    assertThat(m.text()).isEqualTo("this is no header\r\nTo: lost@example.org\r\n\r\nbody\r\n");
    // Folded headers are not garbage.
    String folded = "Subject: a\r\n b\r\nX-Obs : y\r\n\r\nbody";
    ParsedMessage f = MessageParser.parse(folded.getBytes(StandardCharsets.US_ASCII));
    assertThat(f.summary().subject()).isEqualTo("a b");
    assertThat(f.headers()).extracting(HeaderField::value).containsExactly("a b", "y");
    assertThat(f.text()).isEqualTo("body");
  }

  @Test
  void binaryGarbageNeverThrows() throws IOException {
    byte[] garbage = fixture("garbage.bin");
    assertThat(MessageParser.parse(garbage)).isNotNull();
    assertThat(MessageParser.summarize(garbage, true)).isNotNull();
    // And a few thousand random inputs, including truncations of real messages.
    Random r = new Random(7);
    byte[] mixed = fixture("mixed-attachments.eml");
    for (int i = 0; i < 300; i++) {
      byte[] b = new byte[r.nextInt(600)];
      r.nextBytes(b);
      MessageParser.parse(b);
      byte[] cut = Arrays.copyOf(mixed, r.nextInt(mixed.length));
      assertThat("Report with attachments").startsWith(MessageParser.parse(cut).summary().subject());
      MessageParser.summarize(cut, false);
      MessageParser.part(cut, "2");
    }
    assertThat(MessageParser.parse(new byte[0]).summary().subject()).isEmpty();
  }

  @Test
  void truncatedMultipartMixedIsAssumedToCarryAttachments() throws IOException {
    byte[] mixed = fixture("mixed-attachments.eml");
    byte[] head = Arrays.copyOf(mixed, 400); // ends inside the first (related) part
    assertThat(MessageParser.summarize(head, true).hasAttachments()).isFalse();
    MessageSummary s = MessageParser.summarize(head, false);
    assertThat(s.hasAttachments()).isTrue();
    assertThat(s.complete()).isFalse();
  }

  @Test
  void snippetIsCappedAndCollapsed() {
    String body = "Subject: x\r\n\r\n" + "word\t\r\n ".repeat(100);
    MessageSummary s = MessageParser.summarize(body.getBytes(StandardCharsets.US_ASCII), true);
    assertThat(s.snippet()).hasSize(MessageParser.SNIPPET_CHARS).startsWith("word word word").doesNotContain("  ");
  }

  @Test
  void htmlToTextIsLinearAndTolerant() {
    assertThat(Html.toText("<html><head><title>T</title><style>p{}</style></head><body><p>a&amp;b&#x20AC;&#8364;&nbsp;c</p>"
        + "<!-- hidden --><SCRIPT>x()</SCRIPT>d &bogus; e &</body></html>").replaceAll("\\s+", " ").strip())
        .isEqualTo("a&b€€ c d &bogus; e &");
    // hostile input: huge unterminated comment / style, deep nesting; must neither throw nor take long
    String huge = "<!--" + "x".repeat(2_000_000);
    assertThat(Html.toText(huge)).isBlank();
    assertThat(Html.toText("<style>" + "y".repeat(2_000_000))).isBlank();
    assertThat(Html.toText("<b>".repeat(200_000) + "z")).endsWith("z");
    assertThat(Html.toText("<stylex>kept</stylex>")).contains("kept");
  }

  @Test
  void mimeParamsDecodeRfc2231AndRfc2047() {
    MimeParams p = MimeParams.parse("attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt; filename=\"fallback.txt\"");
    assertThat(p.value()).isEqualTo("attachment");
    assertThat(p.param("filename")).isEqualTo("Grüße.txt");
    assertThat(MimeParams.parse("inline; filename=\"=?UTF-8?B?w6TDtsO8LnR4dA==?=\"").param("filename")).isEqualTo("äöü.txt");
    assertThat(MimeParams.parse("text/plain; charset=\"UTF-8\"; name=\"a;b.txt\"").params())
        .containsEntry("charset", "UTF-8").containsEntry("name", "a;b.txt");
    assertThat(MimeParams.parse(null).value()).isEmpty();
    assertThat(MimeParams.parse("x; name*0=a; name*2=c").param("name")).as("gap in sections").isEqualTo("a");
  }

  @Test
  void charsetsFallBackSensibly() {
    byte[] utf8 = "Grüße".getBytes(StandardCharsets.UTF_8);
    byte[] latin = "Grüße".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(Charsets.decode(utf8, null)).isEqualTo("Grüße");
    assertThat(Charsets.decode(latin, null)).isEqualTo("Grüße");
    assertThat(Charsets.decode(utf8, "us-ascii")).as("8-bit mislabelled as ASCII").isEqualTo("Grüße");
    assertThat(Charsets.decode(latin, "bogus-charset")).isEqualTo("Grüße");
    assertThat(Charsets.decode(new byte[] {(byte) 0x80}, "iso-8859-1")).as("windows-1252 superset").isEqualTo("€");
    assertThat(Charsets.decode(new byte[] {(byte) 0xff, 'a'}, "utf-8")).isEqualTo("\ufffda");
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
