package dev.mailserver.mailstore.parse;

import java.util.Locale;
import java.util.Map;

/**
 * Just enough HTML-to-text for snippets and text search: drop comments and the content of head,
 * style, script and title, replace tags by spaces, resolve character references. Not a renderer.
 * A single linear scan (no regular expressions, whose backtracking can overflow the stack on
 * hostile input); never throws.
 */
public final class Html {
  private Html() {}

  private static final String[] INVISIBLE = {"head", "style", "script", "title"};
  private static final Map<String, String> NAMED = Map.of(
      "amp", "&", "lt", "<", "gt", ">", "quot", "\"", "apos", "'", "nbsp", " ",
      "euro", "\u20ac", "copy", "\u00a9", "mdash", "\u2014", "ndash", "\u2013");

  public static String toText(String html) {
    if (html == null || html.isEmpty()) {
      return "";
    }
    int n = html.length();
    StringBuilder out = new StringBuilder(Math.min(n, 1 << 20));
    int i = 0;
    while (i < n) {
      char c = html.charAt(i);
      if (c == '<') {
        i = skipMarkup(html, i);
        out.append(' ');
      } else if (c == '&') {
        int semi = html.indexOf(';', i + 1);
        String decoded = semi > i + 1 && semi - i <= 10 ? entity(html.substring(i + 1, semi)) : null;
        if (decoded != null) {
          out.append(decoded);
          i = semi + 1;
        } else {
          out.append(c);
          i++;
        }
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  /** Index after the comment or tag starting at {@code lt} (and after the element, for invisible ones). */
  private static int skipMarkup(String s, int lt) {
    int n = s.length();
    if (s.startsWith("<!--", lt)) {
      int end = s.indexOf("-->", lt + 4);
      return end < 0 ? n : end + 3;
    }
    int gt = s.indexOf('>', lt + 1);
    int afterTag = gt < 0 ? n : gt + 1;
    for (String name : INVISIBLE) {
      if (s.regionMatches(true, lt + 1, name, 0, name.length()) && lt + 1 + name.length() < n
          && !Character.isLetterOrDigit(s.charAt(lt + 1 + name.length()))) {
        int close = indexOfIgnoreCase(s, "</" + name, afterTag);
        if (close < 0) {
          return n;
        }
        int closeGt = s.indexOf('>', close);
        return closeGt < 0 ? n : closeGt + 1;
      }
    }
    return afterTag;
  }

  private static int indexOfIgnoreCase(String s, String needle, int from) {
    for (int k = from; k <= s.length() - needle.length(); k++) {
      if (s.charAt(k) == '<' && s.regionMatches(true, k, needle, 0, needle.length())) {
        return k;
      }
    }
    return -1;
  }

  /** The text of a reference between '&' and ';', or null when it is none. */
  private static String entity(String name) {
    try {
      if (name.startsWith("#x") || name.startsWith("#X")) {
        return codePoint(Integer.parseInt(name.substring(2), 16));
      }
      if (name.startsWith("#")) {
        return codePoint(Integer.parseInt(name.substring(1)));
      }
    } catch (NumberFormatException e) {
      return null;
    }
    return NAMED.get(name.toLowerCase(Locale.ROOT));
  }

  private static String codePoint(int cp) {
    return Character.isValidCodePoint(cp) && cp != 0 ? new String(Character.toChars(cp)) : null;
  }
}
