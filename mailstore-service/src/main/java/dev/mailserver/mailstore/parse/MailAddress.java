package dev.mailserver.mailstore.parse;

import io.vertx.core.json.JsonObject;
import java.util.Locale;

/**
 * One address of a From/To/Cc/Reply-To header: the display name decoded (RFC 2047), or null, and
 * the addr-spec as written (may be empty for a malformed entry whose text is kept in {@code name}).
 */
public record MailAddress(String name, String address) {

  public JsonObject toJson() {
    return new JsonObject().put("name", name).put("address", address);
  }

  /** Case-insensitive substring match on the name or the address. */
  public boolean matches(String needleLowerCase) {
    return (name != null && name.toLowerCase(Locale.ROOT).contains(needleLowerCase))
        || (address != null && address.toLowerCase(Locale.ROOT).contains(needleLowerCase));
  }
}
