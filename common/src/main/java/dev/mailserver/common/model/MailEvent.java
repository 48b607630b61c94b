package dev.mailserver.common.model;

import io.vertx.core.json.JsonObject;

/**
 * A journaled mailstore event, published on {@link dev.mailserver.common.bus.Addresses#EVENTS_NEW}
 * after a copy is durably stored and on {@link dev.mailserver.common.bus.Addresses#EVENTS_DELETED}
 * after a deletion.
 *
 * @param eventId   the journal sequence number in decimal ("1", "2", ...): strictly increasing per
 *                  data directory, so it orders events and serves as an SSE {@code Last-Event-ID}
 * @param type      {@link #TYPE_NEW} or {@link #TYPE_DELETED}
 * @param mailbox   the mailbox address the copy went to
 * @param messageId the store's message id (fetch it with that)
 * @param from      the envelope sender (empty for the null sender)
 * @param subject   the Subject header as sent (undecoded), or empty
 * @param size      octets stored
 * @param time      when it was stored, epoch milliseconds
 * @param deliveryId the SMTP queue id that brought it
 */
public record MailEvent(String eventId, String type, String mailbox, String messageId, String from,
                        String subject, long size, long time, String deliveryId) {

  public static final String TYPE_NEW = "message.new";
  public static final String TYPE_DELETED = "message.deleted";

  public JsonObject toJson() {
    return new JsonObject()
        .put("eventId", eventId)
        .put("type", type)
        .put("mailbox", mailbox)
        .put("messageId", messageId)
        .put("from", from)
        .put("subject", subject)
        .put("size", size)
        .put("time", time)
        .put("deliveryId", deliveryId);
  }

  public static MailEvent fromJson(JsonObject j) {
    return new MailEvent(j.getString("eventId"), j.getString("type"), j.getString("mailbox"),
        j.getString("messageId"), j.getString("from", ""), j.getString("subject", ""),
        j.getLong("size", 0L), j.getLong("time", 0L), j.getString("deliveryId", ""));
  }
}
