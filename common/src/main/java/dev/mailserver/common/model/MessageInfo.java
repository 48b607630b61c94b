package dev.mailserver.common.model;

import io.vertx.core.json.JsonObject;

/**
 * One stored message as listings show it.
 *
 * @param id         the store's message id (the Maildir base name); stable for the message's life
 * @param uid        a unique id for POP3 UIDL: 1-70 characters in 0x21-0x7E (RFC 1939 section 7),
 *                   never reused for another message of the same mailbox
 * @param size       the exact number of octets a fetch returns (lines end in CRLF)
 * @param receivedAt when the message was stored, epoch milliseconds
 */
public record MessageInfo(String id, String uid, long size, long receivedAt) {

  public JsonObject toJson() {
    return new JsonObject().put("id", id).put("uid", uid).put("size", size).put("receivedAt", receivedAt);
  }

  public static MessageInfo fromJson(JsonObject j) {
    return new MessageInfo(j.getString("id"), j.getString("uid"), j.getLong("size"), j.getLong("receivedAt", 0L));
  }
}
