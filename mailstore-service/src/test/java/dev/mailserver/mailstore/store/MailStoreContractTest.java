package dev.mailserver.mailstore.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The MailStore contract, written once and run against every implementation. */
abstract class MailStoreContractTest {

  static final String MSG = "From: bob@example.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\nline 3\r\n";

  @TempDir
  Path tmp;
  MailStore store;
  final MailboxName alice = MailboxName.of("alice@example.test");
  final MailboxName bob = MailboxName.of("bob@example.test");

  abstract MailStore newStore(Path dir);

  @BeforeEach
  void setUp() {
    store = newStore(tmp);
    store.open();
    store.createMailbox(alice);
    store.createMailbox(bob);
  }

  @AfterEach
  void tearDown() {
    store.close();
  }

  static Buffer buf(String s) {
    return Buffer.buffer(s.getBytes(StandardCharsets.UTF_8));
  }

  static void assertFails(MailstoreError error, ThrowingCallable call) {
    assertThatThrownBy(call).isInstanceOfSatisfying(MailstoreException.class, e -> assertThat(e.error()).isEqualTo(error));
  }

  @Test
  void deliverStoresOneCopyPerMailboxWithReturnPathPrepended() {
    List<DeliverResult.Stored> stored = store.deliver("carol@example.org", List.of(alice, bob), buf(MSG));

    String expected = "Return-Path: <carol@example.org>\r\n" + MSG;
    assertThat(stored).extracting(DeliverResult.Stored::mailbox).containsExactly("alice@example.test", "bob@example.test");
    assertThat(stored).allSatisfy(s -> assertThat(s.size()).isEqualTo(expected.length()));
    for (DeliverResult.Stored s : stored) {
      MailboxName box = MailboxName.of(s.mailbox());
      assertThat(store.list(box)).extracting(MessageInfo::id).containsExactly(s.messageId());
      assertThat(store.fetch(box, s.messageId()).toString(StandardCharsets.UTF_8)).isEqualTo(expected);
    }
  }

  @Test
  void bytesAreStoredExactlyIncludingNonUtf8AndBareLf() {
    byte[] raw = {'S', 'u', 'b', 'j', ':', ' ', (byte) 0xE9, (byte) 0xFF, 0x00, '\n', '\r', '\n', 'x', '\r', '\n'};
    DeliverResult.Stored s = store.deliver("", List.of(alice), Buffer.buffer(raw)).get(0);

    Buffer expected = Buffer.buffer("Return-Path: <>\r\n").appendBytes(raw);
    assertThat(store.fetch(alice, s.messageId()).getBytes()).isEqualTo(expected.getBytes());
    assertThat(s.size()).isEqualTo(expected.length());
  }

  @Test
  void duplicateRecipientsGetOneCopy() {
    assertThat(store.deliver("a@b.test", List.of(alice, alice), buf(MSG))).hasSize(1);
    assertThat(store.list(alice)).hasSize(1);
  }

  @Test
  void listIsOldestFirstWithExactSizesAndUniqueUids() {
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String body = "Subject: " + i + "\r\n\r\n" + "x".repeat(i * 10) + "\r\n";
      ids.add(store.deliver("s@example.org", List.of(alice), buf(body)).get(0).messageId());
    }

    List<MessageInfo> list = store.list(alice);
    assertThat(list).extracting(MessageInfo::id).containsExactlyElementsOf(ids);
    for (MessageInfo m : list) {
      assertThat(m.size()).isEqualTo(store.fetch(alice, m.id()).length());
      assertThat(m.uid()).hasSizeBetween(1, 70).matches("[\\x21-\\x7e]+");
      assertThat(m.receivedAt()).isCloseTo(System.currentTimeMillis(), org.assertj.core.data.Offset.offset(60_000L));
    }
    assertThat(list).extracting(MessageInfo::uid).doesNotHaveDuplicates();
    assertThat(list).extracting(MessageInfo::receivedAt).isSorted();
  }

  @Test
  void fetchTopReturnsHeadersBlankLineAndAtMostNBodyLines() {
    String id = store.deliver("s@example.org", List.of(alice), buf(MSG)).get(0).messageId();
    String head = "Return-Path: <s@example.org>\r\nFrom: bob@example.test\r\nSubject: hi\r\n\r\n";

    assertThat(store.fetchTop(alice, id, 0).toString()).isEqualTo(head);
    assertThat(store.fetchTop(alice, id, 2).toString()).isEqualTo(head + "line 1\r\nline 2\r\n");
    assertThat(store.fetchTop(alice, id, 100).toString()).isEqualTo(head + "line 1\r\nline 2\r\nline 3\r\n");
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchTop(alice, id, -1));
  }

  /** A stored message of about 10 KiB whose every octet depends on its position (8-bit included). */
  byte[] deliverPatterned(MailboxName box, String[] idOut) {
    byte[] body = new byte[10_000];
    for (int i = 0; i < body.length; i++) {
      body[i] = (byte) (i * 31 + i / 251);
    }
    DeliverResult.Stored s = store.deliver("s@example.org", List.of(box), Buffer.buffer(body)).get(0);
    idOut[0] = s.messageId();
    return Buffer.buffer("Return-Path: <s@example.org>\r\n").appendBytes(body).getBytes();
  }

  static byte[] slice(byte[] b, long from, long to) {
    return java.util.Arrays.copyOfRange(b, (int) Math.min(from, b.length), (int) Math.min(to, b.length));
  }

  @Test
  void fetchRangeReturnsExactlyTheStoredOctetsOfTheRange() {
    String[] id = new String[1];
    byte[] all = deliverPatterned(alice, id);
    int size = all.length;
    assertThat(store.list(alice).get(0).size()).isEqualTo(size);

    // first, middle, last (ending exactly at the end), across the end, past the end, at the end
    assertThat(store.fetchRange(alice, id[0], 0, 100).getBytes()).isEqualTo(slice(all, 0, 100));
    assertThat(store.fetchRange(alice, id[0], 4321, 1234).getBytes()).isEqualTo(slice(all, 4321, 5555));
    assertThat(store.fetchRange(alice, id[0], size - 10, 10).getBytes()).isEqualTo(slice(all, size - 10, size));
    assertThat(store.fetchRange(alice, id[0], size - 10, 1000).getBytes()).isEqualTo(slice(all, size - 10, size));
    assertThat(store.fetchRange(alice, id[0], size, 10).length()).isZero();
    assertThat(store.fetchRange(alice, id[0], size + 1, 10).length()).isZero();
    assertThat(store.fetchRange(alice, id[0], Long.MAX_VALUE, 10).length()).isZero();
    assertThat(store.fetchRange(alice, id[0], 7, 0).length()).isZero();
    // the largest allowed length on a small message: the whole of it
    assertThat(store.fetchRange(alice, id[0], 0, dev.mailserver.common.bus.MailstoreClient.MAX_RANGE_LENGTH).getBytes())
        .isEqualTo(all);
  }

  @Test
  void consecutiveRangesReassembleTheMessage() {
    String[] id = new String[1];
    byte[] all = deliverPatterned(alice, id);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    int ranges = 0;
    for (long off = 0; ; off += 999) {
      Buffer b = store.fetchRange(alice, id[0], off, 999);
      if (b.length() == 0) {
        break;
      }
      assertThat(b.length()).isLessThanOrEqualTo(999);
      out.writeBytes(b.getBytes());
      ranges++;
    }
    assertThat(ranges).isEqualTo((all.length + 998) / 999);
    assertThat(out.toByteArray()).isEqualTo(all);
    assertThat(out.toByteArray()).isEqualTo(store.fetch(alice, id[0]).getBytes());
  }

  @Test
  void fetchRangeRejectsNegativeValuesAndOverlongRanges() {
    String[] id = new String[1];
    deliverPatterned(alice, id);
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, id[0], -1, 10));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, id[0], 0, -1));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, id[0], Long.MIN_VALUE, 10));
    assertFails(MailstoreError.INVALID_REQUEST,
        () -> store.fetchRange(alice, id[0], 0, dev.mailserver.common.bus.MailstoreClient.MAX_RANGE_LENGTH + 1));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, id[0], 0, Integer.MAX_VALUE));
    // invalid before anything is looked up
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, "1234.nothing", -1, 10));
  }

  @Test
  void fetchRangeOfMissingMessagesAndMailboxesAreTypedFailures() {
    String[] id = new String[1];
    deliverPatterned(alice, id);
    assertFails(MailstoreError.MESSAGE_NOT_FOUND, () -> store.fetchRange(alice, "1234.nothing", 0, 10));
    assertFails(MailstoreError.MAILBOX_NOT_FOUND, () -> store.fetchRange(MailboxName.of("nobody@example.test"), id[0], 0, 10));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, "../x", 0, 10));
    // deleted between two ranges: the next range is MESSAGE_NOT_FOUND, not a short or empty range
    assertThat(store.fetchRange(alice, id[0], 0, 10).length()).isEqualTo(10);
    store.delete(alice, List.of(id[0]));
    assertFails(MailstoreError.MESSAGE_NOT_FOUND, () -> store.fetchRange(alice, id[0], 10, 10));
  }

  @Test
  void fetchTopOfAMessageWithoutBodyReturnsItWhole() {
    String id = store.deliver("s@example.org", List.of(alice), buf("Subject: no body\r\n")).get(0).messageId();
    assertThat(store.fetchTop(alice, id, 3).toString()).isEqualTo("Return-Path: <s@example.org>\r\nSubject: no body\r\n");
  }

  @Test
  void deleteRemovesMessagesAndReportsMissingIds() {
    String a = store.deliver("s@example.org", List.of(alice), buf(MSG)).get(0).messageId();
    String b = store.deliver("s@example.org", List.of(alice), buf(MSG)).get(0).messageId();

    DeleteResult r = store.delete(alice, List.of(a, "no-such-id"));

    assertThat(r.deleted()).isEqualTo(1);
    assertThat(r.missing()).containsExactly("no-such-id");
    assertThat(store.list(alice)).extracting(MessageInfo::id).containsExactly(b);
    assertFails(MailstoreError.MESSAGE_NOT_FOUND, () -> store.fetch(alice, a));
    assertThat(store.delete(alice, List.of(a)).missing()).containsExactly(a);
  }

  @Test
  void deliveryToAnUnknownMailboxWritesNothing() {
    MailboxName nobody = MailboxName.of("nobody@example.test");
    assertFails(MailstoreError.MAILBOX_NOT_FOUND, () -> store.deliver("s@example.org", List.of(alice, nobody), buf(MSG)));
    assertThat(store.list(alice)).isEmpty();
  }

  @Test
  void unknownMailboxAndMessageAreTypedFailures() {
    MailboxName nobody = MailboxName.of("nobody@example.test");
    assertThat(store.exists(nobody)).isFalse();
    assertThat(store.exists(alice)).isTrue();
    assertFails(MailstoreError.MAILBOX_NOT_FOUND, () -> store.list(nobody));
    assertFails(MailstoreError.MAILBOX_NOT_FOUND, () -> store.fetch(nobody, "x"));
    assertFails(MailstoreError.MAILBOX_NOT_FOUND, () -> store.delete(nobody, List.of("x")));
    assertFails(MailstoreError.MESSAGE_NOT_FOUND, () -> store.fetch(alice, "1234.nothing"));
    assertFails(MailstoreError.MESSAGE_NOT_FOUND, () -> store.fetchTop(alice, "1234.nothing", 1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"../x", "..", "a/b", "/etc/passwd", ".hidden", "", "x\u0000y", "a\nb", "new/../../x", "id:2,S"})
  void invalidMessageIdsAreRejected(String id) {
    String good = store.deliver("s@example.org", List.of(alice), buf(MSG)).get(0).messageId();
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetch(alice, id));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchTop(alice, id, 1));
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.fetchRange(alice, id, 0, 10));
    // One bad id makes the whole delete invalid: nothing is deleted.
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.delete(alice, List.of(good, id)));
    assertThat(store.list(alice)).hasSize(1);
  }

  @Test
  void senderThatWouldInjectHeadersIsRejected() {
    assertFails(MailstoreError.INVALID_REQUEST, () -> store.deliver("a@b.test>\r\nX-Evil: 1", List.of(alice), buf(MSG)));
    assertThat(store.list(alice)).isEmpty();
  }

  @Test
  void createMailboxIsIdempotentAndKeepsMessages() {
    store.deliver("s@example.org", List.of(alice), buf(MSG));
    store.createMailbox(alice);
    assertThat(store.list(alice)).hasSize(1);
  }
}
