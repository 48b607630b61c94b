package dev.mailserver.mailstore.parse;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;

/**
 * A structured MIME header value such as {@code Content-Type} or {@code Content-Disposition}
 * (RFC 2045 section 5.1, RFC 2183): a lower-cased value and its parameters, with names
 * lower-cased and values fully decoded:
 * <ul>
 *   <li>RFC 2231 extended values ({@code filename*=utf-8''%E2%82%AC.txt}) and continuations
 *   ({@code filename*0*=...; filename*1=...}), which take precedence over a plain parameter of the
 *   same name (senders include both for old readers);</li>
 *   <li>RFC 2047 encoded words inside a quoted value ({@code name="=?UTF-8?B?...?="}). RFC 2047
 *   section 5 forbids them there, but widespread mailers produce them, so readers decode them.</li>
 * </ul>
 * Never throws: whatever cannot be understood is kept literally.
 */
public record MimeParams(String value, Map<String, String> params) {

  public MimeParams {
    params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
  }

  public String param(String name) {
    return params.get(name.toLowerCase(Locale.ROOT));
  }

  public static MimeParams parse(String header) {
    if (header == null) {
      return new MimeParams("", Map.of());
    }
    List<String> pieces = splitOutsideQuotes(header);
    String value = pieces.isEmpty() ? "" : stripComment(pieces.get(0)).strip().toLowerCase(Locale.ROOT);
    // name -> raw value, in order; remembers whether the value was quoted.
    Map<String, String> plain = new LinkedHashMap<>();
    Map<String, String> extended = new LinkedHashMap<>();
    Map<String, TreeMap<Integer, String[]>> sections = new LinkedHashMap<>(); // section -> {value, extended?}
    for (int i = 1; i < pieces.size(); i++) {
      String p = pieces.get(i);
      int eq = p.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String name = p.substring(0, eq).strip().toLowerCase(Locale.ROOT);
      String raw = unquote(p.substring(eq + 1).strip());
      int star = name.indexOf('*');
      if (star < 0) {
        plain.putIfAbsent(name, raw);
        continue;
      }
      String base = name.substring(0, star);
      String rest = name.substring(star + 1);
      if (rest.isEmpty()) {
        extended.putIfAbsent(base, raw);
        continue;
      }
      boolean ext = rest.endsWith("*");
      String num = ext ? rest.substring(0, rest.length() - 1) : rest;
      try {
        int n = Integer.parseInt(num);
        if (n >= 0 && n < 1000) {
          sections.computeIfAbsent(base, k -> new TreeMap<>()).putIfAbsent(n, new String[] {raw, ext ? "*" : ""});
        }
      } catch (NumberFormatException ignored) {
        // not a continuation: ignore the parameter
      }
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : plain.entrySet()) {
      out.put(e.getKey(), decodeWords(e.getValue()));
    }
    for (Map.Entry<String, String> e : extended.entrySet()) {
      out.put(e.getKey(), decodeExtended(List.<String[]>of(new String[] {e.getValue(), "*"})));
    }
    for (Map.Entry<String, TreeMap<Integer, String[]>> e : sections.entrySet()) {
      List<String[]> parts = new ArrayList<>();
      int expect = 0;
      for (Map.Entry<Integer, String[]> s : e.getValue().entrySet()) {
        if (s.getKey() != expect) {
          break; // RFC 2231 section 3: sections must be numbered consecutively from 0
        }
        parts.add(s.getValue());
        expect++;
      }
      if (!parts.isEmpty()) {
        out.put(e.getKey(), decodeExtended(parts));
      }
    }
    return new MimeParams(value, out);
  }

  /** RFC 2231 sections in order: the first extended one carries {@code charset'language'}. */
  private static String decodeExtended(List<String[]> parts) {
    Charset cs = null;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int i = 0; i < parts.size(); i++) {
      String v = parts.get(i)[0];
      boolean ext = !parts.get(i)[1].isEmpty();
      if (ext && i == 0) {
        int q1 = v.indexOf('\'');
        int q2 = q1 < 0 ? -1 : v.indexOf('\'', q1 + 1);
        if (q2 > 0) {
          cs = Charsets.forLabel(v.substring(0, q1));
          v = v.substring(q2 + 1);
        }
      }
      if (ext) {
        percentDecode(v, bytes);
      } else {
        byte[] b = v.getBytes(cs == null ? StandardCharsets.UTF_8 : cs);
        bytes.write(b, 0, b.length);
      }
    }
    byte[] b = bytes.toByteArray();
    return Charsets.decode(b, cs == null ? null : cs.name());
  }

  private static void percentDecode(String v, ByteArrayOutputStream out) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '%' && i + 2 < v.length()) {
        int hi = Character.digit(v.charAt(i + 1), 16);
        int lo = Character.digit(v.charAt(i + 2), 16);
        if (hi >= 0 && lo >= 0) {
          out.write(hi * 16 + lo);
          i += 2;
          continue;
        }
      }
      byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
      out.write(b, 0, b.length);
    }
  }

  /** RFC 2047 encoded words, when a value contains them; otherwise the value itself. */
  static String decodeWords(String v) {
    if (!v.contains("=?")) {
      return v;
    }
    try {
      return DecoderUtil.decodeEncodedWords(v, DecodeMonitor.SILENT);
    } catch (RuntimeException e) {
      return v;
    }
  }

  /** Splits at ';' outside double quotes (a quoted filename may contain ';'). */
  private static List<String> splitOutsideQuotes(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quoted && c == '\\' && i + 1 < s.length()) {
        cur.append(c).append(s.charAt(++i));
        continue;
      }
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ';' && !quoted) {
        out.add(cur.toString());
        cur.setLength(0);
        continue;
      }
      cur.append(c);
    }
    out.add(cur.toString());
    return out;
  }

  /** A quoted-string with its quoted-pairs resolved (RFC 5322 section 3.2.4); a token as is. */
  private static String unquote(String v) {
    if (v.length() >= 1 && v.charAt(0) == '"') {
      StringBuilder b = new StringBuilder();
      for (int i = 1; i < v.length(); i++) {
        char c = v.charAt(i);
        if (c == '\\' && i + 1 < v.length()) {
          b.append(v.charAt(++i));
        } else if (c == '"') {
          break;
        } else {
          b.append(c);
        }
      }
      return b.toString();
    }
    return stripComment(v).strip();
  }

  private static String stripComment(String v) {
    int p = v.indexOf('(');
    return p >= 0 ? v.substring(0, p) : v;
  }
}
