package dev.mailserver.pop3;

import static dev.mailserver.pop3.TestServer.ALICE;
import static dev.mailserver.pop3.TestServer.ALICE_PASSWORD;

import dev.mailserver.pop3.protocol.Pop3Command;
import dev.mailserver.pop3.protocol.Pop3Verb;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Command lines for fuzzing: a corpus of valid and nearly valid POP3 lines (including the right
 * credentials, so sessions do reach TRANSACTION), mutations of them, random text and random
 * octets. Never contains LF (one generated line is one line on the wire). QUIT is left out on
 * request, so "nothing is deleted without QUIT" can be checked.
 */
final class FuzzLines {

  private FuzzLines() {}

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static final List<String> CORPUS = List.of(
      "USER " + ALICE, "USER bob@example.test", "USER nobody@example.test", "USER alice", "USER",
      "PASS " + ALICE_PASSWORD, "PASS wrong", "PASS", "PASS two words",
      "STAT", "LIST", "LIST 1", "LIST 3", "LIST 0", "LIST 99999999999", "RETR 1", "RETR 2", "RETR 9", "RETR",
      "DELE 1", "DELE 2", "DELE 3", "DELE 4", "NOOP", "RSET", "TOP 1 0", "TOP 2 5", "TOP 3 x", "TOP 1",
      "UIDL", "UIDL 1", "UIDL 7", "CAPA", "STLS", "AUTH", "AUTH PLAIN", "AUTH plain", "AUTH LOGIN", "AUTH PLAIN =",
      "AUTH PLAIN " + b64("\0" + ALICE + "\0" + ALICE_PASSWORD),
      "AUTH PLAIN " + b64(ALICE + "\0" + ALICE + "\0" + ALICE_PASSWORD),
      "AUTH PLAIN " + b64("bob@example.test\0" + ALICE + "\0" + ALICE_PASSWORD),
      "AUTH PLAIN " + b64("\0" + ALICE + "\0wrong"),
      b64("\0" + ALICE + "\0" + ALICE_PASSWORD), b64("\0\0"), "*", "=", "====", "APOP alice 0123456789abcdef",
      "", " ", "  STAT", "STAT ", "quit-not", "XTND XMIT", "\u00e9\u00e8", "\0", "LIST\t1");

  /** One line as octets (what the client sends, without CRLF). */
  static byte[] line(Random r, boolean allowQuit) {
    byte[] line = switch (r.nextInt(10)) {
      case 0, 1, 2, 3 -> caseVariant(r, pick(r)).getBytes(StandardCharsets.UTF_8);
      case 4, 5, 6 -> mutate(r, pick(r).getBytes(StandardCharsets.UTF_8));
      case 7 -> randomText(r, r.nextInt(r.nextInt(10) == 0 ? 320 : 40));
      case 8 -> randomOctets(r, r.nextInt(r.nextInt(10) == 0 ? 400 : 30));
      default -> (pick(r) + " " + new String(randomText(r, r.nextInt(20)), StandardCharsets.US_ASCII))
          .getBytes(StandardCharsets.UTF_8);
    };
    if (!allowQuit && isQuit(line)) {
      return "NOOP".getBytes(StandardCharsets.US_ASCII);
    }
    return line;
  }

  /** The line as the connection hands it to the handler (UTF-8, like Pop3Connection). */
  static String text(byte[] line) {
    return new String(line, StandardCharsets.UTF_8);
  }

  static boolean isQuit(byte[] line) {
    return Pop3Command.parse(text(line)).verb().filter(v -> v == Pop3Verb.QUIT).isPresent();
  }

  private static String pick(Random r) {
    return CORPUS.get(r.nextInt(CORPUS.size()));
  }

  private static String caseVariant(Random r, String s) {
    return switch (r.nextInt(3)) {
      case 0 -> s.toLowerCase(Locale.ROOT);
      default -> s;
    };
  }

  /** 1-4 edits: insert, delete, replace, duplicate, truncate; octets anywhere except LF. */
  static byte[] mutate(Random r, byte[] in) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(in);
    byte[] b = out.toByteArray();
    int edits = 1 + r.nextInt(4);
    for (int e = 0; e < edits; e++) {
      int pos = b.length == 0 ? 0 : r.nextInt(b.length + 1);
      ByteArrayOutputStream next = new ByteArrayOutputStream();
      switch (r.nextInt(6)) {
        case 0 -> { // insert
          next.write(b, 0, pos);
          next.write(octet(r));
          next.write(b, pos, b.length - pos);
        }
        case 1 -> { // delete
          if (pos < b.length) {
            next.write(b, 0, pos);
            next.write(b, pos + 1, b.length - pos - 1);
          } else {
            next.writeBytes(b);
          }
        }
        case 2 -> { // replace
          next.writeBytes(b);
          byte[] c = next.toByteArray();
          if (pos < c.length) {
            c[pos] = (byte) octet(r);
          }
          next.reset();
          next.writeBytes(c);
        }
        case 3 -> { // duplicate the tail
          next.writeBytes(b);
          next.write(b, pos, b.length - pos);
        }
        case 4 -> next.write(b, 0, pos); // truncate
        default -> { // extra spaces
          next.write(b, 0, pos);
          next.write(' ');
          next.write(b, pos, b.length - pos);
        }
      }
      b = next.toByteArray();
    }
    return b;
  }

  private static int octet(Random r) {
    int kind = r.nextInt(8);
    int c = switch (kind) {
      case 0 -> 0;
      case 1 -> '\r';
      case 2 -> ' ';
      case 3 -> 128 + r.nextInt(128);
      case 4 -> '.';
      default -> 33 + r.nextInt(94);
    };
    return c == '\n' ? ' ' : c;
  }

  static byte[] randomText(Random r, int len) {
    byte[] b = new byte[len];
    for (int i = 0; i < len; i++) {
      b[i] = (byte) (32 + r.nextInt(95));
    }
    return b;
  }

  static byte[] randomOctets(Random r, int len) {
    byte[] b = new byte[len];
    for (int i = 0; i < len; i++) {
      int c = r.nextInt(256);
      b[i] = (byte) (c == '\n' ? 0 : c);
    }
    return b;
  }
}
