package dev.mailserver.common.model;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Objects;

/**
 * One message for one or more local mailboxes. The content is the message exactly as it will be
 * stored (trace headers already prepended by the sender side, lines ending in CRLF); the mailstore
 * adds only {@code Return-Path:} per copy. Travels with {@link dev.mailserver.common.bus.DeliverRequestCodec}
 * so that the bytes never pass through JSON.
 *
 * @param deliveryId the sender-side id (SMTP queue id), for logs and the new-mail event
 * @param sender     the reverse path without angle brackets; empty for the null sender {@code <>}
 * @param recipients canonical mailbox addresses, at least one, no duplicates
 * @param content    the message bytes
 */
public record DeliverRequest(String deliveryId, String sender, List<String> recipients, Buffer content) {

  public static final String DELIVERY_ID = "deliveryId";
  public static final String SENDER = "sender";
  public static final String RECIPIENTS = "recipients";

  public DeliverRequest {
    Objects.requireNonNull(deliveryId, DELIVERY_ID);
    Objects.requireNonNull(sender, SENDER);
    recipients = List.copyOf(recipients);
    Objects.requireNonNull(content, "content");
  }

  /** The envelope part, as carried in the codec header. */
  public JsonObject envelopeJson() {
    return new JsonObject()
        .put(DELIVERY_ID, deliveryId)
        .put(SENDER, sender)
        .put(RECIPIENTS, new JsonArray(List.copyOf(recipients)));
  }

  public static DeliverRequest fromEnvelope(JsonObject env, Buffer content) {
    JsonArray rcpts = env.getJsonArray(RECIPIENTS, new JsonArray());
    List<String> list = rcpts.stream().map(String::valueOf).toList();
    return new DeliverRequest(env.getString(DELIVERY_ID, ""), env.getString(SENDER, ""), list, content);
  }
}
