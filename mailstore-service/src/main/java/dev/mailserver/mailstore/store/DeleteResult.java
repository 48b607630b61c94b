package dev.mailserver.mailstore.store;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/** Outcome of a delete: how many were removed, and which ids were already gone. */
public record DeleteResult(int deleted, List<String> missing) {

  public DeleteResult {
    missing = List.copyOf(missing);
  }

  public JsonObject toJson() {
    return new JsonObject().put("deleted", deleted).put("missing", new JsonArray(List.copyOf(missing)));
  }
}
