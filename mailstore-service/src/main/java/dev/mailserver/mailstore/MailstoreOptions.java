package dev.mailserver.mailstore;

import dev.mailserver.common.model.MailboxAddress;
import dev.mailserver.mailstore.accounts.AccountSeed;
import dev.mailserver.mailstore.accounts.Passwords;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The mailstore's view of the system configuration. Keys read: {@code hostname}, {@code domains},
 * {@code dataDir}, {@code http.host}, {@code http.port}, {@code accounts[].address},
 * {@code accounts[].password}; other sections belong to other services and are ignored.
 */
public record MailstoreOptions(String hostname, List<String> domains, Path dataDir, String httpHost, int httpPort,
                               List<AccountSeed> accounts, String httpAdminToken, long eventsMaxAgeHours,
                               long eventsMaxCount, boolean deliveryLog) {

  public static final String DEFAULT_DATA_DIR = "data";
  public static final String DEFAULT_DOMAIN = "example.test";
  public static final String DEFAULT_HTTP_HOST = "0.0.0.0";
  public static final int DEFAULT_HTTP_PORT = 8025;
  /** Journal bounds: events older than this, or beyond this many, may be compacted away. */
  public static final long DEFAULT_EVENTS_MAX_AGE_HOURS = 168;
  public static final long DEFAULT_EVENTS_MAX_COUNT = 100_000;
  public static final String DEFAULT_DURABILITY = "log";

  public MailstoreOptions {
    domains = List.copyOf(domains);
    accounts = List.copyOf(accounts);
  }

  /** Parses and validates; IllegalArgumentException naming the offending key otherwise. */
  public static MailstoreOptions fromConfig(JsonObject config) {
    JsonObject c = config == null ? new JsonObject() : config;
    String hostname = string(c, "hostname", "localhost");
    if (hostname.isBlank()) {
      throw new IllegalArgumentException("hostname must not be empty");
    }

    List<String> domains = new ArrayList<>();
    Object d = c.getValue("domains");
    if (d == null) {
      domains.add(DEFAULT_DOMAIN);
    } else if (d instanceof JsonArray arr) {
      for (Object o : arr) {
        if (!(o instanceof String s) || MailboxAddress.parse("x@" + s).isEmpty()) {
          throw new IllegalArgumentException("domains: not a valid domain: " + o);
        }
        String domain = s.toLowerCase(Locale.ROOT);
        if (!domains.contains(domain)) {
          domains.add(domain);
        }
      }
      if (domains.isEmpty()) {
        throw new IllegalArgumentException("domains must list at least one domain");
      }
    } else {
      throw new IllegalArgumentException("domains must be an array of domain names");
    }

    String dataDir = string(c, "dataDir", DEFAULT_DATA_DIR);
    if (dataDir.isBlank() || dataDir.indexOf(0) >= 0) {
      throw new IllegalArgumentException("dataDir must be a path");
    }

    JsonObject http = object(c, "http");
    String httpHost = string(http, "host", DEFAULT_HTTP_HOST);
    Object p = http.getValue("port", DEFAULT_HTTP_PORT);
    if (!(p instanceof Integer || p instanceof Long) || ((Number) p).longValue() < 0 || ((Number) p).longValue() > 65535) {
      throw new IllegalArgumentException("http.port must be an integer 0-65535 (0 = any free port): " + p);
    }
    int port = ((Number) p).intValue();
    // Empty means admin routes are disabled (403), never open.
    String adminToken = string(http, "adminToken", "");

    JsonObject events = object(c, "events");
    long maxAge = positiveLong(events, "maxAgeHours", DEFAULT_EVENTS_MAX_AGE_HOURS, "events.maxAgeHours");
    long maxCount = positiveLong(events, "maxCount", DEFAULT_EVENTS_MAX_COUNT, "events.maxCount");

    // "log": group commit through the delivery log; "fsync": every copy and directory fsync'd alone.
    String durability = string(object(c, "store"), "durability", DEFAULT_DURABILITY);
    if (!durability.equals("log") && !durability.equals("fsync")) {
      throw new IllegalArgumentException("store.durability must be \"log\" or \"fsync\": " + durability);
    }

    List<AccountSeed> accounts = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    Object a = c.getValue("accounts");
    if (a != null && !(a instanceof JsonArray)) {
      throw new IllegalArgumentException("accounts must be an array of {\"address\",\"password\"}");
    }
    if (a instanceof JsonArray arr) {
      for (int i = 0; i < arr.size(); i++) {
        if (!(arr.getValue(i) instanceof JsonObject acc)) {
          throw new IllegalArgumentException("accounts[" + i + "] must be an object");
        }
        String address = acc.getValue("address") instanceof String s ? s : null;
        MailboxAddress mbox = MailboxAddress.parse(address).orElse(null);
        if (mbox == null) {
          throw new IllegalArgumentException("accounts[" + i + "].address is not a valid mailbox address: " + address);
        }
        if (!domains.contains(mbox.domain())) {
          throw new IllegalArgumentException("accounts[" + i + "].address " + mbox + " is not in a configured domain " + domains);
        }
        if (!seen.add(mbox.toString())) {
          throw new IllegalArgumentException("accounts[" + i + "].address " + mbox + " is listed twice");
        }
        String password = acc.getValue("password") instanceof String s ? s : null;
        if (password == null || password.isEmpty()) {
          throw new IllegalArgumentException("accounts[" + i + "].password must not be empty (" + mbox + ")");
        }
        if (Passwords.isBcryptHash(password) && !Passwords.isWellFormedHash(password)) {
          throw new IllegalArgumentException("accounts[" + i + "].password looks like a bcrypt hash but is malformed (" + mbox + ")");
        }
        accounts.add(new AccountSeed(mbox.toString(), password));
      }
    }
    return new MailstoreOptions(hostname, domains, Path.of(dataDir), httpHost, port, accounts, adminToken, maxAge, maxCount,
        durability.equals("log"));
  }

  private static long positiveLong(JsonObject c, String key, long def, String name) {
    Object v = c.getValue(key, def);
    if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() <= 0) {
      throw new IllegalArgumentException(name + " must be a positive whole number: " + v);
    }
    return ((Number) v).longValue();
  }

  private static String string(JsonObject c, String key, String def) {
    Object v = c.getValue(key, def);
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException(key + " must be a string: " + v);
    }
    return s;
  }

  private static JsonObject object(JsonObject c, String key) {
    Object v = c.getValue(key);
    if (v == null) {
      return new JsonObject();
    }
    if (!(v instanceof JsonObject o)) {
      throw new IllegalArgumentException(key + " must be an object");
    }
    return o;
  }

  @Override
  public String toString() {
    return "MailstoreOptions[hostname=" + hostname + ", domains=" + domains + ", dataDir=" + dataDir
        + ", http=" + httpHost + ":" + httpPort + ", adminToken=" + (httpAdminToken.isEmpty() ? "none" : "set")
        + ", events=" + eventsMaxAgeHours + "h/" + eventsMaxCount + ", durability=" + (deliveryLog ? "log" : "fsync") + ", accounts=" + accounts.size() + "]";
  }
}
