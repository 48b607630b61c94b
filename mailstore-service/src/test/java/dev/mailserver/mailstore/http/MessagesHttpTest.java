package dev.mailserver.mailstore.http;

import static dev.mailserver.mailstore.http.TestServer.TOKEN;
import static dev.mailserver.mailstore.http.TestServer.assertError;
import static dev.mailserver.mailstore.http.TestServer.basic;
import static dev.mailserver.mailstore.http.TestServer.bearer;
import static dev.mailserver.mailstore.http.TestServer.fixture;
import static dev.mailserver.mailstore.http.TestServer.json;
import static dev.mailserver.mailstore.http.TestServer.simple;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Listing, detail, raw, parts, deletion and search over real fixtures delivered through the bus. */
class MessagesHttpTest {

  static final String CAROL = "carol@example.test";
  static final String CAROL_PW = "carol-secret-1";
  static final String DAVE = "dave@example.test";
  static final String DAVE_PW = "dave-secret-1";
  static final String BOX = "/api/v1/mailboxes/" + CAROL;
  static final String ADMIN = bearer(TOKEN);
  static final String OWNER = basic(CAROL, CAROL_PW);
  static final List<String> FIXTURES = List.of("alternative.eml", "mixed-attachments.eml", "encoded-headers.eml",
      "latin1.eml", "shift-jis.eml", "malformed.eml", "no-headers.eml", "garbage.bin");

  @TempDir
  static Path dataDir;
  static TestServer server;
  /** fixture name -> stored id, delivered in FIXTURES order (oldest first). */
  static final Map<String, String> ids = new LinkedHashMap<>();
  static Instant beforeLast;

  @BeforeAll
  static void start() throws InterruptedException {
    server = new TestServer(dataDir, TOKEN, Map.of(CAROL, CAROL_PW, DAVE, DAVE_PW), null);
    for (String f : FIXTURES) {
      if (f.equals("garbage.bin")) {
        Thread.sleep(20);
        beforeLast = Instant.now();
        Thread.sleep(5);
      }
      ids.put(f, server.deliver(CAROL, fixture(f)));
      Thread.sleep(3); // distinct receivedAt milliseconds, so "newest first" is unambiguous
    }
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static String stored(String fixture) {
    return "Return-Path: <sender@example.org>\r\n";
  }

  static List<String> newestFirst() {
    List<String> l = new java.util.ArrayList<>(ids.values());
    java.util.Collections.reverse(l);
    return l;
  }

  static List<String> listIds(JsonObject page) {
    return page.getJsonArray("messages").stream().map(o -> ((JsonObject) o).getString("id")).toList();
  }

  static JsonObject item(JsonObject page, String id) {
    return page.getJsonArray("messages").stream().map(o -> (JsonObject) o)
        .filter(o -> o.getString("id").equals(id)).findFirst().orElseThrow(() -> new AssertionError("no " + id + " in " + page));
  }

  @Test
  void listIsNewestFirstWithTotalAndEveryMessageParsedEvenBrokenOnes() {
    JsonObject page = server.getJson(BOX + "/messages", OWNER);
    assertThat(page.getInteger("total")).isEqualTo(FIXTURES.size());
    assertThat(page.getInteger("limit")).isEqualTo(50);
    assertThat(page.getInteger("offset")).isZero();
    assertThat(listIds(page)).containsExactlyElementsOf(newestFirst());

    JsonObject alt = item(page, ids.get("alternative.eml"));
    assertThat(alt.getString("subject")).isEqualTo("Quarterly numbers");
    assertThat(alt.getJsonObject("from")).isEqualTo(new JsonObject().put("name", "Alice Example").put("address", "alice@example.org"));
    assertThat(alt.getJsonArray("to")).hasSize(2);
    assertThat(alt.getJsonArray("cc").getJsonObject(0).getString("name")).isEqualTo("Doe, Dave");
    assertThat(alt.getString("date")).isEqualTo("2025-06-03T09:05:30Z");
    assertThat(alt.getString("snippet")).isEqualTo("Hello Bob, the numbers are in. Revenue is up 12 %.");
    assertThat(alt.getBoolean("hasAttachments")).isFalse();
    assertThat(alt.getLong("size")).isEqualTo(stored("").length() + fixture("alternative.eml").length);
    assertThat(Instant.parse(alt.getString("receivedAt"))).isBefore(Instant.now().plusSeconds(1));
    assertThat(item(page, ids.get("mixed-attachments.eml")).getBoolean("hasAttachments")).isTrue();
    assertThat(item(page, ids.get("encoded-headers.eml")).getString("subject")).isEqualTo("Grüße ✓ aus Köln");
    assertThat(item(page, ids.get("encoded-headers.eml")).getJsonObject("from").getString("name")).isEqualTo("Jörg Müller");
    assertThat(item(page, ids.get("latin1.eml")).getString("snippet")).startsWith("Grüße aus München");
    assertThat(item(page, ids.get("shift-jis.eml")).getString("snippet")).isEqualTo("こんにちは、世界。テストです。");
    // Broken messages are listed with what could be extracted.
    assertThat(item(page, ids.get("malformed.eml")).getJsonObject("from").getString("address")).isEqualTo("broken@example.org");
    assertThat(item(page, ids.get("garbage.bin")).getString("subject")).isEmpty();
    assertThat(item(page, ids.get("no-headers.eml")).getString("snippet")).startsWith("Hello, this message has no header");
  }

  @Test
  void paging() {
    List<String> newestFirst = newestFirst();
    JsonObject p = server.getJson(BOX + "/messages?limit=3&offset=2", OWNER);
    assertThat(p.getInteger("total")).isEqualTo(FIXTURES.size());
    assertThat(listIds(p)).containsExactlyElementsOf(newestFirst.subList(2, 5));
    assertThat(listIds(server.getJson(BOX + "/messages?limit=3&offset=7", OWNER))).containsExactly(newestFirst.get(7));
    assertThat(listIds(server.getJson(BOX + "/messages?offset=100", OWNER))).isEmpty();
    assertThat(server.getJson(BOX + "/messages?limit=100000", OWNER).getInteger("limit")).isEqualTo(500);
    assertError(server.get(BOX + "/messages?limit=0", OWNER), 400, "INVALID_PARAMETER");
    assertError(server.get(BOX + "/messages?limit=abc", OWNER), 400, "INVALID_PARAMETER");
    assertError(server.get(BOX + "/messages?offset=-1", OWNER), 400, "INVALID_PARAMETER");
  }

  @Test
  void detailOfAlternative() {
    JsonObject d = server.getJson(BOX + "/messages/" + ids.get("alternative.eml"), OWNER);
    assertThat(d.getString("id")).isEqualTo(ids.get("alternative.eml"));
    assertThat(d.getString("subject")).isEqualTo("Quarterly numbers");
    assertThat(d.getString("text")).isEqualTo("Hello Bob,\r\n\r\nthe   numbers are in. Revenue is up 12 %.");
    assertThat(d.getString("html")).contains("<b>Bob</b>");
    assertThat(d.getJsonArray("attachments")).isEmpty();
    assertThat(d.getString("messageId")).isEqualTo("alt-1@example.org");
    JsonArray headers = d.getJsonArray("headers");
    assertThat(headers.getJsonObject(0)).isEqualTo(new JsonObject().put("name", "Return-Path").put("value", "<sender@example.org>"));
    assertThat(headers.stream().map(h -> ((JsonObject) h).getString("name")).toList())
        .containsExactly("Return-Path", "From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type");
    assertThat(d.getValue("problem")).isNull();
    assertThat(d.getString("receivedAt")).isNotNull();
  }

  @Test
  void detailOfMixedListsAttachmentsAndPartsDownload() {
    String id = ids.get("mixed-attachments.eml");
    JsonObject d = server.getJson(BOX + "/messages/" + id, OWNER);
    JsonArray att = d.getJsonArray("attachments");
    assertThat(att).hasSize(3);
    JsonObject pdf = att.getJsonObject(1);
    assertThat(pdf.getString("partId")).isEqualTo("2");
    assertThat(pdf.getString("filename")).isEqualTo("report.pdf");
    assertThat(pdf.getString("contentType")).isEqualTo("application/pdf");
    assertThat(pdf.getString("disposition")).isEqualTo("attachment");
    assertThat(pdf.getLong("size")).isEqualTo(286);
    JsonObject csv = att.getJsonObject(2);
    assertThat(csv.getString("filename")).isEqualTo("€ Kursübersicht.csv"); // RFC 2231 continuation + charset
    JsonObject gif = att.getJsonObject(0);
    assertThat(gif.getString("contentId")).isEqualTo("chart@example.org");
    assertThat(gif.getBoolean("attachment")).isFalse();

    HttpResponse<byte[]> part = server.get(BOX + "/messages/" + id + "/parts/2", OWNER);
    assertThat(part.statusCode()).isEqualTo(200);
    assertThat(part.headers().firstValue("Content-Type")).hasValue("application/pdf");
    assertThat(part.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
    assertThat(part.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(part.body()).hasSize(286);
    assertThat(new String(part.body(), 0, 8, StandardCharsets.ISO_8859_1)).isEqualTo("%PDF-1.4");

    HttpResponse<byte[]> csvPart = server.get(BOX + "/messages/" + id + "/parts/3", OWNER);
    assertThat(csvPart.headers().firstValue("Content-Type")).hasValue("text/csv; charset=utf-8");
    assertThat(csvPart.headers().firstValue("Content-Disposition").orElseThrow())
        .contains("filename*=UTF-8''%E2%82%AC%20Kurs%C3%BCbersicht.csv");
    assertThat(new String(csvPart.body(), StandardCharsets.UTF_8)).isEqualTo("kurs;preis\nEUR;1.00\n");

    assertError(server.get(BOX + "/messages/" + id + "/parts/7", OWNER), 404, "PART_NOT_FOUND");
    assertError(server.get(BOX + "/messages/" + id + "/parts/1", OWNER), 404, "PART_NOT_FOUND"); // a multipart
  }

  @Test
  void detailDecodesCharsets() {
    assertThat(server.getJson(BOX + "/messages/" + ids.get("latin1.eml"), OWNER).getString("text"))
        .isEqualTo("Grüße aus München: Äpfel, Öl und Übermut kosten 5 ¤.\r\n");
    JsonObject sj = server.getJson(BOX + "/messages/" + ids.get("shift-jis.eml"), OWNER);
    assertThat(sj.getString("text")).isEqualTo("こんにちは、世界。テストです。");
    assertThat(sj.getString("subject")).isEqualTo("Привет мир");
    JsonObject enc = server.getJson(BOX + "/messages/" + ids.get("encoded-headers.eml"), OWNER);
    assertThat(enc.getJsonArray("to").getJsonObject(0)).isEqualTo(new JsonObject().put("name", "Ákos").put("address", "akos@example.test"));
  }

  @Test
  void brokenMessagesAreFetchableParsedAndRaw() {
    for (String f : List.of("malformed.eml", "garbage.bin", "no-headers.eml")) {
      String id = ids.get(f);
      HttpResponse<byte[]> d = server.get(BOX + "/messages/" + id, OWNER);
      assertThat(d.statusCode()).as(f).isEqualTo(200);
      assertThat(json(d).getString("id")).isEqualTo(id);
      HttpResponse<byte[]> raw = server.get(BOX + "/messages/" + id + "/raw", OWNER);
      assertThat(raw.statusCode()).isEqualTo(200);
      assertThat(raw.body()).isEqualTo(concat(stored(f).getBytes(StandardCharsets.US_ASCII), fixture(f)));
    }
  }

  @Test
  void rawIsByteIdentical() {
    for (String f : FIXTURES) {
      HttpResponse<byte[]> r = server.get(BOX + "/messages/" + ids.get(f) + "/raw", OWNER);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type")).hasValue("message/rfc822");
      assertThat(r.headers().firstValue("Content-Security-Policy").orElseThrow()).contains("sandbox");
      assertThat(r.body()).as(f).isEqualTo(concat(stored(f).getBytes(StandardCharsets.US_ASCII), fixture(f)));
    }
  }

  @Test
  void missingAndInvalidResources() {
    assertError(server.get(BOX + "/messages/1234567890.M1P1Q1R00000000.nohost,S=1", OWNER), 404, "MESSAGE_NOT_FOUND");
    assertError(server.get(BOX + "/messages/bad:id", OWNER), 400, "INVALID_REQUEST");
    assertError(server.get(BOX + "/messages/nope/raw", ADMIN), 404, "MESSAGE_NOT_FOUND");
    assertError(server.get("/api/v1/mailboxes/nobody@example.test/messages", ADMIN), 404, "MAILBOX_NOT_FOUND");
    assertError(server.get("/api/v1/mailboxes/not-an-address/messages", ADMIN), 400, "INVALID_REQUEST");
    assertError(server.get("/api/v1/nothing-here", ADMIN), 404, "NOT_FOUND");
    assertError(server.send("PATCH", BOX + "/messages", ADMIN, null), 405, "METHOD_NOT_ALLOWED");
  }

  @Test
  void adminSeesEveryMailbox() {
    assertThat(server.getJson(BOX + "/messages", ADMIN).getInteger("total")).isEqualTo(FIXTURES.size());
    assertThat(server.getJson("/api/v1/mailboxes/" + DAVE + "/messages", ADMIN).getInteger("total")).isNotNull();
  }

  @Test
  void search() {
    assertThat(listIds(search("from=ALICE"))).containsExactly(ids.get("alternative.eml"));
    assertThat(listIds(search("from=" + enc("jörg")))).containsExactly(ids.get("encoded-headers.eml"));
    assertThat(listIds(search("to=" + enc("doe, dave")))).as("to matches Cc too").containsExactly(ids.get("alternative.eml"));
    assertThat(listIds(search("to=akos"))).containsExactly(ids.get("encoded-headers.eml"));
    assertThat(listIds(search("subject=" + enc("grüße")))).containsExactly(ids.get("encoded-headers.eml"));
    assertThat(listIds(search("subject=report&from=reports"))).containsExactly(ids.get("mixed-attachments.eml"));
    assertThat(listIds(search("subject=report&from=alice"))).isEmpty();
    // text: the text body, or the HTML body's text when there is no text body
    assertThat(listIds(search("text=revenue"))).containsExactly(ids.get("alternative.eml"));
    assertThat(listIds(search("text=" + enc("SEE THE CHART")))).containsExactly(ids.get("mixed-attachments.eml"));
    assertThat(listIds(search("text=" + enc("übermut")))).containsExactly(ids.get("latin1.eml"));
    assertThat(listIds(search("text=" + enc("世界")))).containsExactly(ids.get("shift-jis.eml"));
    // receivedAt range
    assertThat(listIds(search("since=" + enc(beforeLast.toString())))).containsExactly(ids.get("garbage.bin"));
    assertThat(listIds(search("before=" + enc(beforeLast.toString())))).hasSize(FIXTURES.size() - 1)
        .doesNotContain(ids.get("garbage.bin"));
    assertThat(search("since=2000-01-01").getInteger("total")).isEqualTo(FIXTURES.size());
    assertThat(search("before=2000-01-01").getInteger("total")).isZero();
    assertThat(search("since=2000-01-01T00:00:00").getInteger("total")).isEqualTo(FIXTURES.size());
    // paging and order of matches
    JsonObject all = search("since=2000-01-01&limit=2&offset=1");
    assertThat(all.getInteger("total")).isEqualTo(FIXTURES.size());
    assertThat(listIds(all)).containsExactlyElementsOf(newestFirst().subList(1, 3));
    assertError(server.get(BOX + "/search?since=yesterday", OWNER), 400, "INVALID_PARAMETER");
    // items have the listing shape
    assertThat(search("from=alice").getJsonArray("messages").getJsonObject(0).fieldNames())
        .contains("id", "from", "to", "cc", "subject", "date", "size", "receivedAt", "hasAttachments", "snippet");
  }

  private static JsonObject search(String query) {
    return server.getJson(BOX + "/search?" + query, OWNER);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  @Test
  void largeMessageIsSummarisedFromItsBeginningAndFullyShownInDetail() {
    String big = "From: big@example.org\r\nSubject: Big one\r\nMIME-Version: 1.0\r\n"
        + "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
        + "--B\r\nContent-Type: text/plain\r\n\r\nFirst words of a big message.\r\n"
        + "--B\r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\n"
        + "filler line of text to make the message large enough\r\n".repeat(8000)
        + "--B\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"late.zip\"\r\n"
        + "Content-Transfer-Encoding: base64\r\n\r\nUEsDBAo=\r\n--B--\r\n";
    assertThat(big.length()).isGreaterThan((int) MessageIndex.FULL_READ_MAX_BYTES);
    String id = server.deliver(DAVE, big);
    JsonObject page = server.getJson("/api/v1/mailboxes/" + DAVE + "/search?from=big%40example.org", ADMIN);
    JsonObject item = item(page, id);
    assertThat(item.getString("subject")).isEqualTo("Big one");
    assertThat(item.getString("snippet")).isEqualTo("First words of a big message.");
    assertThat(item.getBoolean("hasAttachments")).as("beyond the part read, assumed for multipart/mixed").isTrue();
    JsonObject d = server.getJson("/api/v1/mailboxes/" + DAVE + "/messages/" + id, ADMIN);
    assertThat(d.getJsonArray("attachments").stream().map(o -> ((JsonObject) o).getString("filename")))
        .contains("late.zip");
    assertThat(server.send("DELETE", "/api/v1/mailboxes/" + DAVE + "/messages/" + id, ADMIN, null).statusCode()).isEqualTo(204);
  }

  @Test
  void deleteOneAndAll() {
    String dave = "/api/v1/mailboxes/" + DAVE + "/messages";
    String daveAuth = basic(DAVE, DAVE_PW);
    String a = server.deliver(DAVE, simple("one", "x@example.org", "1"));
    String b = server.deliver(DAVE, simple("two", "x@example.org", "2"));
    String c = server.deliver(DAVE, simple("three", "x@example.org", "3"));
    assertThat(server.getJson(dave, daveAuth).getInteger("total")).isEqualTo(3);

    HttpResponse<byte[]> del = server.send("DELETE", dave + "/" + a, daveAuth, null);
    assertThat(del.statusCode()).isEqualTo(204);
    assertError(server.send("DELETE", dave + "/" + a, daveAuth, null), 404, "MESSAGE_NOT_FOUND");
    assertError(server.get(dave + "/" + a, daveAuth), 404, "MESSAGE_NOT_FOUND");
    assertThat(listIds(server.getJson(dave, daveAuth))).containsExactly(c, b);
    assertThat(server.client.list(DAVE).await()).hasSize(2);

    HttpResponse<byte[]> all = server.send("DELETE", dave, daveAuth, null);
    assertThat(all.statusCode()).isEqualTo(200);
    assertThat(json(all).getInteger("deleted")).isEqualTo(2);
    assertThat(server.getJson(dave, daveAuth).getInteger("total")).isZero();
    assertThat(json(server.send("DELETE", dave, daveAuth, null)).getInteger("deleted")).isZero();
    // the owner of another mailbox can delete nothing here
    assertError(server.send("DELETE", BOX + "/messages", daveAuth, null), 403, "FORBIDDEN");
    assertThat(server.getJson(BOX + "/messages", OWNER).getInteger("total")).isEqualTo(FIXTURES.size());
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
