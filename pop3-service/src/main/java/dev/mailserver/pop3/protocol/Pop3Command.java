package dev.mailserver.pop3.protocol;

import java.util.List;
import java.util.Optional;

/**
 * One parsed command line (without its line terminator). Unknown keywords parse too (verb empty):
 * the handler answers them with -ERR and the session goes on.
 *
 * @param keyword the first word as sent
 * @param verb    the known command, if any
 * @param args    the arguments; for PASS the rest of the line as one argument
 */
public record Pop3Command(String keyword, Optional<Pop3Verb> verb, List<String> args) {

  public Pop3Command {
    args = List.copyOf(args);
  }

  /**
   * RFC 1939 section 3: a keyword, then arguments separated by a single space. Runs of spaces
   * and trailing spaces are tolerated because some clients send them; PASS keeps its argument
   * intact (section 7) except for the one separating space.
   */
  public static Pop3Command parse(String line) {
    String s = line == null ? "" : line;
    int sp = s.indexOf(' ');
    String keyword = sp < 0 ? s : s.substring(0, sp);
    String rest = sp < 0 ? "" : s.substring(sp + 1);
    Optional<Pop3Verb> verb = Pop3Verb.lookup(keyword);
    List<String> args;
    if (verb.isPresent() && verb.get().takesRestOfLine()) {
      args = rest.isEmpty() ? List.of() : List.of(rest);
    } else {
      String trimmed = rest.strip();
      args = trimmed.isEmpty() ? List.of() : List.of(trimmed.split(" +"));
    }
    return new Pop3Command(keyword, verb, args);
  }

  public String arg(int i) {
    return args.get(i);
  }

  /** Safe for logs: never shows a password (PASS, or the initial response of AUTH, RFC 5034). */
  @Override
  public String toString() {
    return verb.map(v -> {
      if (v == Pop3Verb.PASS) {
        return "PASS ****";
      }
      if (v == Pop3Verb.AUTH && args.size() > 1) {
        return "AUTH " + args.get(0) + " ****";
      }
      return v + (args.isEmpty() ? "" : " " + String.join(" ", args));
    }).orElse("unknown command");
  }
}
