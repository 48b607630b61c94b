package dev.mailserver.deploy;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds the effective configuration: built-in defaults, then the JSON file, then environment
 * variables. The defaults double as the schema: a key that is not in them is an error, and a value
 * must have the type of its default.
 *
 * <p>Environment rule: {@code MAIL_} + the key path, levels joined by {@code _}, upper-case; a
 * camelCase key may be written with or without {@code _} between its words. So {@code smtp.port} is
 * {@code MAIL_SMTP_PORT}, {@code dataDir} is {@code MAIL_DATA_DIR} (or {@code MAIL_DATADIR}),
 * {@code smtp.maxMessageSize} is {@code MAIL_SMTP_MAX_MESSAGE_SIZE} (or {@code MAIL_SMTP_MAXMESSAGESIZE}).
 * Lists take JSON ({@code ["a","b"]}) or, for lists of strings, a comma-separated value.
 */
public final class ConfigLoader {

  public static final String ENV_PREFIX = "MAIL_";

  /** Keys whose value is free-form below them (validated by their owner, not by the schema). */
  private static final Set<String> OPAQUE = Set.of("accounts");
  private static final Set<String> ACCOUNT_KEYS = Set.of("address", "password");

  private ConfigLoader() {}

  /** The defaults, which are also the schema of every accepted key. */
  public static JsonObject defaults() {
    return new JsonObject()
        .put("hostname", "mail.example.test")
        .put("domains", new JsonArray().add("example.test"))
        .put("dataDir", "data")
        .put("smtp", new JsonObject()
            .put("host", "0.0.0.0")
            .put("port", 2525)
            .put("maxMessageSize", 26_214_400)
            .put("maxRecipients", 100)
            .put("bareLineEndings", "normalize")
            .put("storeTimeoutMs", 30_000)
            .put("idleTimeoutSeconds", 300)
            .put("shutdownGraceSeconds", 30)
            .put("submissionPort", 2587)
            .put("smtpsPort", 2465)
            .put("allowPlaintextAuth", false)
            .put("maxConnections", 1000)
            .put("maxConnectionsPerIp", 20)
            .put("maxErrors", 20))
        .put("pop3", new JsonObject()
            .put("host", "0.0.0.0")
            .put("port", 2110)
            .put("storeTimeoutMs", 30_000)
            .put("idleTimeoutSeconds", 600)
            .put("lockLeaseSeconds", 30)
            .put("pop3sPort", 2995)
            .put("allowPlaintextAuth", false)
            .put("maxConnections", 1000)
            .put("maxConnectionsPerIp", 20)
            .put("maxErrors", 20))
        .put("http", new JsonObject()
            .put("host", "0.0.0.0")
            .put("port", 8025)
            .put("adminToken", "")
            .put("authThrottle", new JsonObject()
                .put("baseDelayMs", 500)
                .put("maxDelayMs", 8_000)
                .put("lockoutAfter", 10)
                .put("lockoutSeconds", 300)))
        .put("store", new JsonObject()
            .put("durability", "log"))
        .put("events", new JsonObject()
            .put("maxAgeHours", 168)
            .put("maxCount", 100_000))
        .put("tls", new JsonObject()
            .put("enabled", true)
            .put("certPath", "")
            .put("keyPath", ""))
        .put("management", new JsonObject()
            .put("host", "0.0.0.0")
            .put("port", 8081))
        .put("cluster", new JsonObject()
            .put("enabled", false)
            .put("name", "mailserver")
            .put("host", "127.0.0.1")
            .put("port", 5701)
            .put("members", new JsonArray())
            .put("memberTimeoutSeconds", 15)
            .put("kubernetes", new JsonObject().put("serviceDns", ""))
            .put("eventBus", new JsonObject()
                .put("host", "")
                .put("port", 0)
                .put("publicHost", "")))
        .put("accounts", new JsonArray());
  }

  /**
   * Loads and validates the configuration.
   *
   * @param file the JSON file, or null for the defaults alone
   * @param env  the environment (System.getenv() in production)
   * @param warnings receives one line per ignored environment variable
   */
  public static JsonObject load(Path file, Map<String, String> env, List<String> warnings) throws ConfigException {
    JsonObject defaults = defaults();
    JsonObject config = defaults.copy();
    if (file != null) {
      JsonObject fromFile = readFile(file);
      checkKeys(defaults, fromFile, "");
      deepMerge(config, fromFile);
    }
    applyEnv(defaults, config, env, warnings);
    validate(config);
    return config;
  }

  private static JsonObject readFile(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException("config file not found: " + file);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    try {
      return new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      throw new ConfigException("config file " + file + " is not a JSON object: " + firstLine(e.getMessage()));
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** Every key must exist in the schema and have the type of its default. */
  private static void checkKeys(JsonObject schema, JsonObject given, String prefix) throws ConfigException {
    for (Map.Entry<String, Object> e : given) {
      String path = prefix + e.getKey();
      if (!schema.containsKey(e.getKey())) {
        throw new ConfigException("unknown config key '" + path + "' (known keys here: " + String.join(", ", schema.fieldNames()) + ")");
      }
      Object def = schema.getValue(e.getKey());
      Object val = e.getValue();
      checkType(path, def, val);
      if (def instanceof JsonObject d && !OPAQUE.contains(path)) {
        checkKeys(d, (JsonObject) val, path + ".");
      }
    }
  }

  private static void checkType(String path, Object def, Object val) throws ConfigException {
    boolean ok;
    if (def instanceof JsonObject) {
      ok = val instanceof JsonObject;
    } else if (def instanceof JsonArray) {
      ok = val instanceof JsonArray;
    } else if (def instanceof Boolean) {
      ok = val instanceof Boolean;
    } else if (def instanceof Number) {
      ok = val instanceof Number n && (n instanceof Integer || n instanceof Long || n.doubleValue() == Math.rint(n.doubleValue()));
    } else {
      ok = val instanceof String;
    }
    if (!ok) {
      throw new ConfigException("config key '" + path + "' must be " + typeName(def) + ", got " + (val == null ? "null" : val));
    }
  }

  private static String typeName(Object def) {
    if (def instanceof JsonObject) {
      return "an object";
    } else if (def instanceof JsonArray) {
      return "a list";
    } else if (def instanceof Boolean) {
      return "true or false";
    } else if (def instanceof Number) {
      return "a whole number";
    }
    return "a string";
  }

  private static void deepMerge(JsonObject target, JsonObject source) {
    for (Map.Entry<String, Object> e : source) {
      Object cur = target.getValue(e.getKey());
      if (cur instanceof JsonObject c && e.getValue() instanceof JsonObject s) {
        deepMerge(c, s);
      } else {
        target.put(e.getKey(), e.getValue());
      }
    }
  }

  /** Environment variable names for every leaf key of the schema, both spellings. */
  static Map<String, List<String>> envNames(JsonObject schema) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    collect(schema, new ArrayList<>(), out);
    return out;
  }

  private static void collect(JsonObject schema, List<String> path, Map<String, List<String>> out) {
    for (String key : schema.fieldNames()) {
      List<String> p = new ArrayList<>(path);
      p.add(key);
      Object v = schema.getValue(key);
      if (v instanceof JsonObject o && !OPAQUE.contains(String.join(".", p))) {
        collect(o, p, out);
      } else {
        String split = ENV_PREFIX + String.join("_", p.stream().map(ConfigLoader::camelToUpperSnake).toList());
        String joined = ENV_PREFIX + String.join("_", p.stream().map(s -> s.toUpperCase(Locale.ROOT)).toList());
        out.put(split, p);
        out.put(joined, p);
      }
    }
  }

  static String camelToUpperSnake(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isUpperCase(c) && i > 0) {
        b.append('_');
      }
      b.append(Character.toUpperCase(c));
    }
    return b.toString();
  }

  private static void applyEnv(JsonObject schema, JsonObject config, Map<String, String> env, List<String> warnings)
      throws ConfigException {
    Map<String, List<String>> names = envNames(schema);
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(ENV_PREFIX)) {
        continue;
      }
      List<String> path = names.get(name);
      if (path == null) {
        warnings.add("ignoring environment variable " + name + ": not a config key (rule: MAIL_<SECTION>_<KEY>, e.g. MAIL_SMTP_PORT)");
        continue;
      }
      JsonObject parent = config;
      JsonObject schemaParent = schema;
      for (int i = 0; i < path.size() - 1; i++) {
        parent = parent.getJsonObject(path.get(i));
        schemaParent = schemaParent.getJsonObject(path.get(i));
      }
      String key = path.get(path.size() - 1);
      parent.put(key, parseEnv(name, schemaParent.getValue(key), e.getValue()));
    }
  }

  private static Object parseEnv(String name, Object def, String raw) throws ConfigException {
    String v = raw.trim();
    try {
      if (def instanceof Number) {
        return Long.parseLong(v);
      } else if (def instanceof Boolean) {
        if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
          throw new ConfigException("environment variable " + name + " must be true or false, got '" + raw + "'");
        }
        return Boolean.parseBoolean(v.toLowerCase(Locale.ROOT));
      } else if (def instanceof JsonArray) {
        if (v.startsWith("[")) {
          return new JsonArray(v);
        }
        JsonArray a = new JsonArray();
        for (String part : v.split(",")) {
          if (!part.isBlank()) {
            a.add(part.trim());
          }
        }
        return a;
      } else if (def instanceof JsonObject) {
        return new JsonObject(v);
      }
      return raw;
    } catch (NumberFormatException e) {
      throw new ConfigException("environment variable " + name + " must be a whole number, got '" + raw + "'");
    } catch (DecodeException | ClassCastException e) {
      throw new ConfigException("environment variable " + name + " is not valid JSON: " + firstLine(e.getMessage()));
    }
  }

  /** Checks values whose type is right but whose content is not. */
  static void validate(JsonObject c) throws ConfigException {
    if (c.getString("hostname").isBlank()) {
      throw new ConfigException("config key 'hostname' must not be empty");
    }
    if (c.getJsonArray("domains").isEmpty()) {
      throw new ConfigException("config key 'domains' must name at least one domain");
    }
    for (Object d : c.getJsonArray("domains")) {
      if (!(d instanceof String s) || !s.matches("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")) {
        throw new ConfigException("config key 'domains' has an invalid domain: " + d);
      }
    }
    if (c.getString("dataDir").isBlank()) {
      throw new ConfigException("config key 'dataDir' must not be empty");
    }
    for (String section : List.of("smtp", "pop3", "http", "management")) {
      JsonObject s = c.getJsonObject(section);
      port(section + ".port", s.getValue("port"));
      if (s.getString("host").isBlank()) {
        throw new ConfigException("config key '" + section + ".host' must not be empty");
      }
    }
    JsonObject smtp = c.getJsonObject("smtp");
    positive("smtp.maxMessageSize", smtp.getLong("maxMessageSize"), Integer.MAX_VALUE - 65_536L);
    positive("smtp.maxRecipients", smtp.getLong("maxRecipients"), 100_000);
    positive("smtp.storeTimeoutMs", smtp.getLong("storeTimeoutMs"), 600_000);
    positive("smtp.idleTimeoutSeconds", smtp.getLong("idleTimeoutSeconds"), 86_400);
    positive("pop3.storeTimeoutMs", c.getJsonObject("pop3").getLong("storeTimeoutMs"), 600_000);
    // RFC 1939 section 3: the autologout timer must be at least 10 minutes.
    long pop3Idle = c.getJsonObject("pop3").getLong("idleTimeoutSeconds");
    if (pop3Idle < 600 || pop3Idle > 86_400) {
      throw new ConfigException("config key 'pop3.idleTimeoutSeconds' must be between 600 and 86400 (RFC 1939 section 3), got " + pop3Idle);
    }
    optionalPort("smtp.submissionPort", smtp.getValue("submissionPort"));
    optionalPort("smtp.smtpsPort", smtp.getValue("smtpsPort"));
    optionalPort("pop3.pop3sPort", c.getJsonObject("pop3").getValue("pop3sPort"));
    for (String section : List.of("smtp", "pop3")) {
      JsonObject s = c.getJsonObject(section);
      positive(section + ".maxConnections", s.getLong("maxConnections"), 1_000_000);
      positive(section + ".maxConnectionsPerIp", s.getLong("maxConnectionsPerIp"), 1_000_000);
      positive(section + ".maxErrors", s.getLong("maxErrors"), 10_000);
    }
    JsonObject tls = c.getJsonObject("tls");
    if (tls.getString("certPath").isBlank() != tls.getString("keyPath").isBlank()) {
      throw new ConfigException("config keys 'tls.certPath' and 'tls.keyPath' must be given together");
    }
    positive("events.maxAgeHours", c.getJsonObject("events").getLong("maxAgeHours"), 24L * 3_650);
    positive("events.maxCount", c.getJsonObject("events").getLong("maxCount"), 100_000_000);
    positive("smtp.shutdownGraceSeconds", smtp.getLong("shutdownGraceSeconds"), 3_600);
    positive("pop3.lockLeaseSeconds", c.getJsonObject("pop3").getLong("lockLeaseSeconds"), 3_600);
    JsonObject cluster = c.getJsonObject("cluster");
    port("cluster.port", cluster.getValue("port"));
    port("cluster.eventBus.port", cluster.getJsonObject("eventBus").getValue("port"));
    positive("cluster.memberTimeoutSeconds", cluster.getLong("memberTimeoutSeconds"), 600);
    if (cluster.getString("name").isBlank()) {
      throw new ConfigException("config key 'cluster.name' must not be empty");
    }
    if (cluster.getString("host").isBlank()) {
      throw new ConfigException("config key 'cluster.host' must not be empty (the address this member binds and announces)");
    }
    for (Object m : cluster.getJsonArray("members")) {
      if (!(m instanceof String member) || !member.matches("[^\\s:]+:\\d{1,5}|\\[[0-9a-fA-F:]+\\]:\\d{1,5}|[^\\s:]+")) {
        throw new ConfigException("config key 'cluster.members' has an invalid member '" + m + "' (use host or host:port)");
      }
    }
    String bare = smtp.getString("bareLineEndings");
    if (!bare.equals("normalize") && !bare.equals("reject")) {
      throw new ConfigException("config key 'smtp.bareLineEndings' must be \"normalize\" or \"reject\", got \"" + bare + "\"");
    }
    int i = 0;
    for (Object o : c.getJsonArray("accounts")) {
      String where = "accounts[" + i++ + "]";
      if (!(o instanceof JsonObject a)) {
        throw new ConfigException("config key '" + where + "' must be an object {\"address\", \"password\"}");
      }
      for (String k : a.fieldNames()) {
        if (!ACCOUNT_KEYS.contains(k)) {
          throw new ConfigException("unknown config key '" + where + "." + k + "' (known: address, password)");
        }
      }
      if (!(a.getValue("address") instanceof String addr) || !addr.contains("@")) {
        throw new ConfigException("config key '" + where + ".address' must be a mail address");
      }
      if (!(a.getValue("password") instanceof String pw) || pw.isEmpty()) {
        throw new ConfigException("config key '" + where + ".password' must be a non-empty string");
      }
      String domain = addr.substring(addr.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT);
      boolean local = c.getJsonArray("domains").stream().anyMatch(d -> d.toString().equalsIgnoreCase(domain));
      if (!local) {
        throw new ConfigException("config key '" + where + ".address' (" + addr + ") is not in a configured domain " + c.getJsonArray("domains").encode());
      }
    }
  }

  private static void port(String key, Object v) throws ConfigException {
    long p = ((Number) v).longValue();
    if (p < 0 || p > 65_535) {
      throw new ConfigException("config key '" + key + "' must be a port between 0 and 65535 (0 picks a free one), got " + v);
    }
  }

  /** A listener that may be switched off with -1. */
  private static void optionalPort(String key, Object v) throws ConfigException {
    long p = ((Number) v).longValue();
    if (p < -1 || p > 65_535) {
      throw new ConfigException("config key '" + key + "' must be a port between 0 and 65535 (0 picks a free one, -1 turns it off), got " + v);
    }
  }

  private static void positive(String key, long v, long max) throws ConfigException {
    if (v <= 0 || v > max) {
      throw new ConfigException("config key '" + key + "' must be between 1 and " + max + ", got " + v);
    }
  }
}
