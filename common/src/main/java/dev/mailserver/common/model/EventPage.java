package dev.mailserver.common.model;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * A page of journaled events after a given id.
 *
 * @param events      oldest first, at most the requested limit
 * @param lastEventId the id of the newest event in the journal when answered ("" if empty)
 * @param truncated   true when events after the requested id were already compacted away (the
 *                    consumer was away longer than the journal's bounds keep events)
 */
public record EventPage(List<MailEvent> events, String lastEventId, boolean truncated) {

  public EventPage {
    events = List.copyOf(events);
  }

  public JsonObject toJson() {
    JsonArray arr = new JsonArray();
    events.forEach(e -> arr.add(e.toJson()));
    return new JsonObject().put("events", arr).put("lastEventId", lastEventId).put("truncated", truncated);
  }

  public static EventPage fromJson(JsonObject j) {
    List<MailEvent> list = j.getJsonArray("events", new JsonArray()).stream()
        .map(o -> MailEvent.fromJson((JsonObject) o)).toList();
    return new EventPage(list, j.getString("lastEventId", ""), j.getBoolean("truncated", false));
  }
}
