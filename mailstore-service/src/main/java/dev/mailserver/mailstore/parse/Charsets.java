package dev.mailserver.mailstore.parse;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * Turns bytes in whatever charset a message declares (or fails to declare) into a Java string.
 * Mail in the wild is often mislabelled, so the rules are those browsers converged on (WHATWG
 * Encoding Standard) rather than the letter of RFC 2046:
 * <ul>
 *   <li>ISO-8859-1 / US-ASCII labels decode as windows-1252 (a superset in every printable
 *   position; senders routinely put "smart quotes" and the euro sign into "iso-8859-1" mail);</li>
 *   <li>Shift_JIS decodes as windows-31j and GB2312 as GBK (the supersets actually used);</li>
 *   <li>a missing, unknown or unsupported label: UTF-8 when the bytes are valid UTF-8, else
 *   windows-1252 (every byte sequence decodes, nothing is lost silently);</li>
 *   <li>malformed sequences become U+FFFD instead of failing.</li>
 * </ul>
 */
public final class Charsets {
  private Charsets() {}

  static final Charset WINDOWS_1252 = Charset.forName("windows-1252");

  private static final Map<String, String> ALIASES = Map.ofEntries(
      Map.entry("iso-8859-1", "windows-1252"),
      Map.entry("iso8859-1", "windows-1252"),
      Map.entry("iso_8859-1", "windows-1252"),
      Map.entry("latin1", "windows-1252"),
      Map.entry("l1", "windows-1252"),
      Map.entry("us-ascii", "windows-1252"),
      Map.entry("ascii", "windows-1252"),
      Map.entry("utf8", "UTF-8"),
      Map.entry("shift_jis", "windows-31j"),
      Map.entry("shift-jis", "windows-31j"),
      Map.entry("sjis", "windows-31j"),
      Map.entry("x-sjis", "windows-31j"),
      Map.entry("gb2312", "GBK"),
      Map.entry("ks_c_5601-1987", "x-windows-949"),
      Map.entry("euc-kr", "x-windows-949"));

  /**
   * The charset to decode a declared label with, or null when the label is missing, unknown or
   * says nothing ("unknown-8bit", "x-unknown").
   */
  public static Charset forLabel(String label) {
    if (label == null) {
      return null;
    }
    String l = label.strip().toLowerCase(Locale.ROOT);
    if (l.length() >= 2 && l.startsWith("\"") && l.endsWith("\"")) {
      l = l.substring(1, l.length() - 1).strip();
    }
    if (l.isEmpty()) {
      return null;
    }
    String name = ALIASES.getOrDefault(l, l);
    try {
      return Charset.isSupported(name) ? Charset.forName(name) : null;
    } catch (RuntimeException illegalName) {
      return null;
    }
  }

  /** Decodes text bytes declared as {@code label} (may be null), never failing. */
  public static String decode(byte[] bytes, String label) {
    return decode(bytes, 0, bytes.length, label);
  }

  public static String decode(byte[] bytes, int off, int len, String label) {
    Charset cs = forLabel(label);
    boolean guess = cs == null
        // "us-ascii" (the RFC 2045 default) on 8-bit text means the sender did not say.
        || cs.equals(WINDOWS_1252) && !explicitlyLatin(label) && !isAscii(bytes, off, len);
    if (guess) {
      // Unlabelled 8-bit text: RFC 6532 and practice both say try UTF-8 first.
      cs = isUtf8(bytes, off, len) ? StandardCharsets.UTF_8 : WINDOWS_1252;
    }
    if (cs.equals(StandardCharsets.UTF_8) && len >= 3 && (bytes[off] & 0xFF) == 0xEF
        && (bytes[off + 1] & 0xFF) == 0xBB && (bytes[off + 2] & 0xFF) == 0xBF) {
      off += 3; // byte order mark
      len -= 3;
    }
    CharsetDecoder d = cs.newDecoder()
        .onMalformedInput(CodingErrorAction.REPLACE)
        .onUnmappableCharacter(CodingErrorAction.REPLACE);
    try {
      return d.decode(ByteBuffer.wrap(bytes, off, len)).toString();
    } catch (CharacterCodingException cannotHappenWithReplace) {
      return new String(bytes, off, len, WINDOWS_1252);
    }
  }

  /** A header line as bytes: UTF-8 when valid (RFC 6532), else windows-1252. */
  public static String headerBytes(byte[] bytes, int off, int len) {
    return new String(bytes, off, len, isUtf8(bytes, off, len) ? StandardCharsets.UTF_8 : WINDOWS_1252);
  }

  private static boolean explicitlyLatin(String label) {
    if (label == null) {
      return false;
    }
    String l = label.strip().toLowerCase(Locale.ROOT);
    return l.contains("8859") || l.contains("latin") || l.contains("1252");
  }

  static boolean isAscii(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] < 0) {
        return false;
      }
    }
    return true;
  }

  static boolean isUtf8(byte[] b, int off, int len) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      d.decode(ByteBuffer.wrap(b, off, len));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}
