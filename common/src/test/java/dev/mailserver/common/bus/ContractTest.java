package dev.mailserver.common.bus;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

class ContractTest {

  @Test
  void deliverRequestCrossesTheWireByteExact() {
    byte[] bytes = new byte[256];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) i;
    }
    DeliverRequest req = new DeliverRequest("Q1", "a@b.test", List.of("x@y.test", "z@y.test"), Buffer.buffer(bytes));
    DeliverRequestCodec codec = new DeliverRequestCodec();
    Buffer wire = Buffer.buffer("prefix");
    codec.encodeToWire(wire, req);
    DeliverRequest back = codec.decodeFromWire(6, wire);
    assertThat(back.deliveryId()).isEqualTo("Q1");
    assertThat(back.sender()).isEqualTo("a@b.test");
    assertThat(back.recipients()).containsExactly("x@y.test", "z@y.test");
    assertThat(back.content().getBytes()).isEqualTo(bytes);
  }

  @Test
  void nullSenderIsEmptyString() {
    DeliverRequestCodec codec = new DeliverRequestCodec();
    Buffer wire = Buffer.buffer();
    codec.encodeToWire(wire, new DeliverRequest("Q2", "", List.of("x@y.test"), Buffer.buffer()));
    DeliverRequest back = codec.decodeFromWire(0, wire);
    assertThat(back.sender()).isEmpty();
    assertThat(back.content().length()).isZero();
  }

  @Test
  void recordsKeepTheirDocumentedJsonFieldNames() {
    assertThat(new MessageInfo("id1", "u1", 12, 34).toJson())
        .isEqualTo(new JsonObject("{\"id\":\"id1\",\"uid\":\"u1\",\"size\":12,\"receivedAt\":34}"));
    assertThat(new DeliverResult("Q", List.of(new DeliverResult.Stored("a@b", "m1", 5))).toJson())
        .isEqualTo(new JsonObject("{\"deliveryId\":\"Q\",\"stored\":[{\"mailbox\":\"a@b\",\"id\":\"m1\",\"size\":5}]}"));
    JsonObject ev = new MailEvent("e1", MailEvent.TYPE_NEW, "a@b", "m1", "s@x", "Hi", 5, 6, "Q").toJson();
    assertThat(ev.fieldNames()).containsExactlyInAnyOrder("eventId", "type", "mailbox", "messageId", "from", "subject", "size", "time", "deliveryId");
    assertThat(ev.getString("type")).isEqualTo("message.new");
    assertThat(MailEvent.fromJson(ev)).isEqualTo(new MailEvent("e1", MailEvent.TYPE_NEW, "a@b", "m1", "s@x", "Hi", 5, 6, "Q"));
    assertThat(MessageInfo.fromJson(new MessageInfo("i", "u", 1, 2).toJson())).isEqualTo(new MessageInfo("i", "u", 1, 2));
  }

  @Test
  void errorsRoundTripThroughReplyExceptions() {
    for (MailstoreError e : MailstoreError.values()) {
      ReplyException re = new MailstoreException(e, "why").toReplyException();
      MailstoreException back = MailstoreException.from(re);
      assertThat(back.error()).isEqualTo(e);
      assertThat(back.getMessage()).isEqualTo(e + ": why");
    }
  }

  @Test
  void busFailuresWithoutAMailstoreAreUnavailable() {
    assertThat(MailstoreException.from(new ReplyException(ReplyFailure.NO_HANDLERS, "x")).error()).isEqualTo(MailstoreError.UNAVAILABLE);
    assertThat(MailstoreException.from(new ReplyException(ReplyFailure.TIMEOUT, "x")).error()).isEqualTo(MailstoreError.UNAVAILABLE);
    assertThat(MailstoreException.from(new IllegalStateException("boom")).error()).isEqualTo(MailstoreError.INTERNAL);
    assertThat(MailstoreError.UNAVAILABLE.isTemporary()).isTrue();
    assertThat(MailstoreError.MAILBOX_NOT_FOUND.isTemporary()).isFalse();
  }
}
