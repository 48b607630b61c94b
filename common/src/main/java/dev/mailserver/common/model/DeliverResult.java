package dev.mailserver.common.model;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Reply to a delivery: every copy is on disk (fsync'd) when this is sent. A delivery is all or
 * nothing: if one mailbox cannot be written, the copies already written are removed and the request
 * fails, so a client retry never duplicates mail.
 */
public record DeliverResult(String deliveryId, List<Stored> stored) {

  /** One stored copy: which mailbox, under which message id. */
  public record Stored(String mailbox, String messageId, long size) {
    public JsonObject toJson() {
      return new JsonObject().put("mailbox", mailbox).put("id", messageId).put("size", size);
    }

    public static Stored fromJson(JsonObject j) {
      return new Stored(j.getString("mailbox"), j.getString("id"), j.getLong("size", 0L));
    }
  }

  public DeliverResult {
    stored = List.copyOf(stored);
  }

  public JsonObject toJson() {
    JsonArray arr = new JsonArray();
    stored.forEach(s -> arr.add(s.toJson()));
    return new JsonObject().put("deliveryId", deliveryId).put("stored", arr);
  }

  public static DeliverResult fromJson(JsonObject j) {
    List<Stored> list = j.getJsonArray("stored", new JsonArray()).stream()
        .map(o -> Stored.fromJson((JsonObject) o)).toList();
    return new DeliverResult(j.getString("deliveryId", ""), list);
  }
}
