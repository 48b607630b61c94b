package dev.mailserver.deploy;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code java -jar mailserver.jar [--config FILE] [--roles smtp,pop3,mailstore] [--cluster]}.
 * Bad arguments or configuration print one line to stderr and exit with status 2.
 */
public final class Main {

  private Main() {}

  /** The parsed command line. */
  public record Args(Path configFile, List<Role> roles, boolean cluster, boolean help) {}

  /** Parses the command line; a ConfigException says what is wrong. */
  public static Args parseArgs(String[] args) throws ConfigException {
    Path configFile = null;
    List<Role> roles = List.of(Role.values());
    boolean cluster = false;
    boolean help = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--config", "-c" -> configFile = Path.of(value(args, ++i, "--config"));
        case "--roles" -> roles = Role.parseList(value(args, ++i, "--roles"));
        case "--cluster" -> cluster = true;
        case "--help", "-h" -> help = true;
        default -> throw new ConfigException("unknown argument '" + args[i] + "' (" + usage() + ")");
      }
    }
    return new Args(configFile, roles, cluster, help);
  }

  public static void main(String[] argv) {
    // Hazelcast reads this when it loads; it must be set before any cluster class is touched.
    System.setProperty("hazelcast.logging.type", "slf4j");
    try {
      Args args = parseArgs(argv);
      if (args.help()) {
        System.out.println(usage());
        return;
      }
      List<String> warnings = new ArrayList<>();
      JsonObject config = ConfigLoader.load(args.configFile(), System.getenv(), warnings);
      if (args.cluster()) {
        config.getJsonObject("cluster").put("enabled", true);
      }
      warnings.forEach(w -> System.err.println("mailserver: warning: " + w));
      MailServer server = MailServer.start(config, args.roles());
      Runtime.getRuntime().addShutdownHook(new Thread(server::close, "mailserver-shutdown"));
      System.out.println(server.describe());
    } catch (ConfigException e) {
      System.err.println("mailserver: " + e.getMessage());
      System.exit(2);
    } catch (StartupException e) {
      System.err.println("mailserver: cannot start: " + e.getMessage());
      System.exit(1);
    }
  }

  private static String value(String[] args, int i, String flag) throws ConfigException {
    if (i >= args.length) {
      throw new ConfigException(flag + " needs a value (" + usage() + ")");
    }
    return args[i];
  }

  static String usage() {
    return "usage: java -jar mailserver.jar [--config FILE] [--roles " + String.join(",", Role.names()) + "] [--cluster]";
  }

  /** The services a process can run. */
  public enum Role {
    MAILSTORE, SMTP, POP3;

    static List<String> names() {
      return java.util.Arrays.stream(values()).map(r -> r.name().toLowerCase(Locale.ROOT)).toList();
    }

    static List<Role> parseList(String s) throws ConfigException {
      List<Role> out = new ArrayList<>();
      for (String part : s.split(",")) {
        String p = part.trim().toUpperCase(Locale.ROOT);
        try {
          Role r = Role.valueOf(p);
          if (!out.contains(r)) {
            out.add(r);
          }
        } catch (IllegalArgumentException e) {
          throw new ConfigException("unknown role '" + part.trim() + "' (roles: " + String.join(", ", names()) + ")");
        }
      }
      if (out.isEmpty()) {
        throw new ConfigException("--roles needs at least one of " + String.join(", ", names()));
      }
      // The mailstore first: SMTP and POP3 need it to answer as soon as they listen.
      out.sort(java.util.Comparator.naturalOrder());
      return out;
    }
  }
}
