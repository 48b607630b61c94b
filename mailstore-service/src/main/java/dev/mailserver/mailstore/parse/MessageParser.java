package dev.mailserver.mailstore.parse;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Group;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.DateTimeFieldLenientImpl;
import org.apache.james.mime4j.field.address.LenientAddressParser;
import org.apache.james.mime4j.stream.BodyDescriptor;
import org.apache.james.mime4j.stream.EntityState;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.stream.MimeTokenStream;
import org.apache.james.mime4j.stream.RawField;
import org.apache.james.mime4j.stream.RecursionMode;
import org.apache.james.mime4j.util.ByteSequence;

/**
 * Parses stored messages for the HTTP API with mime4j's streaming tokenizer: one pass, no DOM,
 * bodies decoded only where they are needed (a summary reads a few KiB of the first text part and
 * no attachment at all).
 *
 * <p>Robust by construction: mime4j runs in its lenient mode (no line or header limits, a line that
 * is not a header ends the header section, broken base64/quoted-printable decode as far as they go),
 * charsets are resolved by {@link Charsets}, and any exception ends the walk with what was
 * extracted so far and a {@code problem} note. Nothing here throws for any input bytes; the worst
 * case is an empty summary. Embedded {@code message/rfc822} parts are not descended into: they are
 * attachments, downloadable whole.
 *
 * <p>Pure and thread-safe (static, no shared state): call it on a worker thread, it is CPU work.
 */
public final class MessageParser {
  private MessageParser() {}

  /** Length of the listing snippet, in characters. */
  public static final int SNIPPET_CHARS = 200;
  /** A summary decodes at most this much of a text/plain part (the snippet needs far less). */
  static final int SNIPPET_SOURCE_BYTES = 8 * 1024;
  /** ... and of an HTML part, whose markup takes most of the bytes. */
  static final int SNIPPET_HTML_SOURCE_BYTES = 64 * 1024;
  /** Text and HTML bodies are cut here in the full parse (a detail view is no place for more). */
  static final int MAX_BODY_BYTES = 8 * 1024 * 1024;
  /** Walks stop after this many MIME entities: a message of thousands of parts is an attack or a bug. */
  static final int MAX_ENTITIES = 2000;
  /** Header fields kept per entity; further ones are parsed over but not kept. */
  static final int MAX_HEADERS = 1000;

  // ------------------------------------------------------------------------------------ public API

  /**
   * The listing fields. {@code complete} is false when {@code message} is only the beginning of a
   * larger message: then a multipart/mixed message is assumed to carry an attachment further on.
   */
  public static MessageSummary summarize(byte[] message, boolean complete) {
    try {
      return summarizeOrThrow(message, complete);
    } catch (RuntimeException | StackOverflowError e) {
      // Last line of defence: a listing must show every message, whatever its bytes.
      return new MessageSummary("", null, List.of(), List.of(), null, null, "", false, complete);
    }
  }

  private static MessageSummary summarizeOrThrow(byte[] message, boolean complete) {
    SummaryVisitor v = new SummaryVisitor();
    Walk w = walk(message, v);
    boolean attachments = v.attachments || !complete && "multipart/mixed".equals(w.rootType);
    String snippet = snippet(v.plain != null ? v.plain : v.html != null ? Html.toText(v.html) : "");
    return summary(w.headers, snippet, attachments, complete);
  }

  /** Everything the detail view shows. */
  public static ParsedMessage parse(byte[] message) {
    try {
      return parseOrThrow(message);
    } catch (RuntimeException | StackOverflowError e) {
      MessageSummary empty = new MessageSummary("", null, List.of(), List.of(), null, null, "", false, true);
      return new ParsedMessage(empty, List.of(), List.of(), List.of(), null, null, List.of(),
          "message cannot be parsed: " + e.getClass().getSimpleName());
    }
  }

  private static ParsedMessage parseOrThrow(byte[] message) {
    FullVisitor v = new FullVisitor();
    Walk w = walk(message, v);
    String problem = w.problem;
    String text = v.text;
    if (text == null && v.html == null && problem != null && w.bodyStart >= 0) {
      // A message too broken to find its parts: show its body as text rather than nothing.
      text = Charsets.decode(w.bytes, w.bodyStart, Math.min(w.bytes.length - w.bodyStart, MAX_BODY_BYTES), null);
    }
    boolean attachments = v.parts.stream().anyMatch(PartInfo::isAttachment);
    String snippet = snippet(text != null ? text : v.html != null ? Html.toText(v.html) : "");
    List<HeaderField> h = w.headers;
    return new ParsedMessage(summary(h, snippet, attachments, true), h,
        addresses(h, "reply-to"), addresses(h, "bcc"), text, v.html, v.parts, problem);
  }

  /** The text to match a {@code text=} search against: the text body, else the HTML body's text. */
  public static String searchableText(ParsedMessage m) {
    if (m.text() != null) {
      return m.text();
    }
    return m.html() != null ? Html.toText(m.html()) : "";
  }

  /** One leaf part with its transfer encoding removed; empty when there is no such part. */
  public static Optional<PartContent> part(byte[] message, String partId) {
    if (partId == null || !partId.matches("[1-9][0-9]{0,5}(\\.[1-9][0-9]{0,5}){0,50}")) {
      return Optional.empty();
    }
    try {
      PartVisitor v = new PartVisitor(partId);
      walk(message, v);
      return Optional.ofNullable(v.found);
    } catch (RuntimeException | StackOverflowError e) {
      return Optional.empty();
    }
  }

  // ------------------------------------------------------------------------------------ summary fields

  private static MessageSummary summary(List<HeaderField> h, String snippet, boolean attachments, boolean complete) {
    List<MailAddress> from = addresses(h, "from");
    String subject = first(h, "subject");
    return new MessageSummary(subject == null ? "" : MimeParams.decodeWords(unfoldSpace(subject)).strip(),
        from.isEmpty() ? null : from.get(0), addresses(h, "to"), addresses(h, "cc"),
        date(first(h, "date")), messageId(first(h, "message-id")), snippet, attachments, complete);
  }

  static String first(List<HeaderField> headers, String lowerName) {
    for (HeaderField f : headers) {
      if (f.name().equalsIgnoreCase(lowerName)) {
        return f.value();
      }
    }
    return null;
  }

  /** Every address of every header of that name, display names RFC 2047-decoded. */
  static List<MailAddress> addresses(List<HeaderField> headers, String lowerName) {
    List<MailAddress> out = new ArrayList<>();
    for (HeaderField f : headers) {
      if (!f.name().equalsIgnoreCase(lowerName) || f.value().isBlank()) {
        continue;
      }
      try {
        AddressList list = LenientAddressParser.DEFAULT.parseAddressList(f.value());
        for (Address a : list) {
          if (a instanceof Mailbox m) {
            out.add(mailbox(m));
          } else if (a instanceof Group g) {
            g.getMailboxes().forEach(m -> out.add(mailbox(m)));
          }
        }
      } catch (RuntimeException e) {
        // Unparseable: keep the decoded text so the reader still sees who it was.
        out.add(new MailAddress(MimeParams.decodeWords(f.value()).strip(), ""));
      }
    }
    return out;
  }

  private static MailAddress mailbox(Mailbox m) {
    String name = m.getName();
    name = name == null || name.isBlank() ? null : MimeParams.decodeWords(name).strip();
    return new MailAddress(name, m.getAddress());
  }

  /** RFC 5322 section 3.3 date; obsolete forms and comments tolerated; null when unparseable. */
  static Instant date(String value) {
    if (value == null || value.isBlank()) {
      return null;
    }
    String v = value.replaceAll("\\([^)]*\\)", " ").replaceAll("\\s+", " ").strip();
    try {
      return ZonedDateTime.parse(v, DateTimeFieldLenientImpl.RFC_5322).toInstant();
    } catch (RuntimeException e) {
      try {
        java.util.Date d = DateTimeFieldLenientImpl.PARSER.parse(new RawField("Date", value), DecodeMonitor.SILENT).getDate();
        return d == null ? null : d.toInstant();
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  static String messageId(String value) {
    if (value == null) {
      return null;
    }
    String v = value.strip();
    int lt = v.indexOf('<');
    int gt = v.indexOf('>', lt + 1);
    if (lt >= 0 && gt > lt) {
      v = v.substring(lt + 1, gt);
    }
    return v.isEmpty() ? null : v;
  }

  /** Whitespace runs become one space, control characters go, the result is cut to {@link #SNIPPET_CHARS}. */
  static String snippet(String text) {
    StringBuilder b = new StringBuilder(SNIPPET_CHARS + 2);
    boolean space = false;
    int cps = 0;
    for (int i = 0; i < text.length() && cps < SNIPPET_CHARS; ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (Character.isWhitespace(cp) || Character.isSpaceChar(cp) || Character.isISOControl(cp)) {
        space = b.length() > 0;
        continue;
      }
      if (cp == 0xFFFD || Character.getType(cp) == Character.FORMAT) {
        continue; // replacement characters and zero-width marks make snippets unreadable
      }
      if (space) {
        b.append(' ');
        cps++;
        space = false;
        if (cps >= SNIPPET_CHARS) {
          break;
        }
      }
      b.appendCodePoint(cp);
      cps++;
    }
    return b.toString();
  }

  private static String unfoldSpace(String v) {
    return v.replaceAll("[\\t ]+", " ");
  }

  // ------------------------------------------------------------------------------------ the walk

  /** What the walk found at top level. */
  private static final class Walk {
    final List<HeaderField> headers = new ArrayList<>();
    String rootType;
    String problem;
    /** Offset of the top-level body in {@link #bytes} when known (for the broken-message fallback), else -1. */
    int bodyStart = -1;
    /** What was parsed: the input, with a blank line inserted where its header section ends early. */
    byte[] bytes;
  }

  /** One leaf part as the visitors see it; {@code body} is the transfer-decoded stream. */
  record Leaf(String partId, String mimeType, String charset, String filename, String disposition, String contentId,
              boolean attachment, boolean bodyCandidate, InputStream body) {

    PartInfo info(long size) {
      return new PartInfo(partId, mimeType, charset, filename, disposition, contentId, size, attachment);
    }
  }

  private interface Visitor {
    /** @return false to stop the walk */
    boolean leaf(Leaf leaf) throws IOException;
  }

  /** An entity on the walk's stack: its part id prefix, its headers and how many children it has seen. */
  private static final class Entity {
    final String path;
    final String parentType;
    final List<HeaderField> headers;
    int children;

    Entity(String path, String parentType, List<HeaderField> headers) {
      this.path = path;
      this.parentType = parentType;
      this.headers = headers;
    }

    String childPath(int n) {
      return path.isEmpty() ? Integer.toString(n) : path + "." + n;
    }
  }

  private static final MimeConfig CONFIG = new MimeConfig.Builder()
      .setMaxLineLen(-1)
      .setMaxHeaderLen(-1)
      .setMaxHeaderCount(-1)
      .setMaxContentLen(-1)
      .setStrictParsing(false)
      // Top-level garbage is handled by endHeadersAtGarbage (mime4j's own option for this loses lines);
      // inside parts a malformed header line is skipped.
      .setMalformedHeaderStartsBody(false)
      .build();

  private static Walk walk(byte[] original, Visitor visitor) {
    Walk w = new Walk();
    byte[] message = endHeadersAtGarbage(original);
    w.bytes = message;
    MimeTokenStream stream = new MimeTokenStream(CONFIG, DecodeMonitor.SILENT, null);
    stream.setRecursionMode(RecursionMode.M_NO_RECURSE);
    Deque<Entity> stack = new ArrayDeque<>();
    Entity root = new Entity("", null, w.headers);
    int entities = 0;
    try {
      stream.parse(new ByteArrayInputStream(message));
      for (EntityState state = stream.getState(); state != EntityState.T_END_OF_STREAM; state = stream.next()) {
        switch (state) {
          case T_START_MESSAGE -> stack.push(root);
          case T_START_BODYPART -> {
            if (++entities > MAX_ENTITIES) {
              w.problem = "more than " + MAX_ENTITIES + " MIME parts; the rest is not shown";
              return w;
            }
            Entity parent = stack.peek();
            String parentType = parent == null ? null : MimeParams.parse(first(parent.headers, "content-type")).value();
            String path = parent == null ? Integer.toString(entities) : parent.childPath(++parent.children);
            stack.push(new Entity(path, parentType, new ArrayList<>()));
          }
          case T_FIELD -> {
            Entity e = stack.peek();
            if (e != null && e.headers.size() < MAX_HEADERS) {
              HeaderField f = header(stream.getField());
              if (f != null) {
                e.headers.add(f);
              }
            }
          }
          case T_END_HEADER -> {
            if (stack.peek() == root) {
              w.rootType = MimeParams.parse(first(root.headers, "content-type")).value();
            }
          }
          case T_BODY -> {
            Entity e = stack.peek();
            if (e == null) {
              break;
            }
            if (e == root) {
              w.bodyStart = headerLength(message);
            }
            if (!visitor.leaf(leaf(e, stream))) {
              return w;
            }
          }
          case T_END_BODYPART -> {
            if (stack.size() > 1) {
              stack.pop();
            }
          }
          default -> {
            // multipart start/end, preamble, epilogue, end of message: nothing to do
          }
        }
      }
    } catch (IOException | MimeException | RuntimeException e) {
      w.problem = "message is malformed: " + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage());
      if (w.bodyStart < 0) {
        w.bodyStart = headerLength(message);
      }
    } finally {
      stream.stop();
    }
    return w;
  }

  private static Leaf leaf(Entity e, MimeTokenStream stream) {
    BodyDescriptor d = stream.getBodyDescriptor();
    String mimeType = d.getMimeType() == null ? "application/octet-stream" : d.getMimeType().toLowerCase(Locale.ROOT);
    MimeParams type = MimeParams.parse(first(e.headers, "content-type"));
    MimeParams disp = MimeParams.parse(first(e.headers, "content-disposition"));
    String disposition = first(e.headers, "content-disposition") == null || disp.value().isEmpty() ? null : disp.value();
    String filename = disp.param("filename");
    if (filename == null || filename.isBlank()) {
      filename = type.param("name"); // RFC 1341 name parameter, still common
    }
    filename = cleanFilename(filename);
    String contentId = messageId(first(e.headers, "content-id"));
    String charset = type.param("charset");
    boolean text = mimeType.startsWith("text/");
    boolean related = "multipart/related".equals(e.parentType) && contentId != null;
    boolean attachment;
    if ("attachment".equals(disposition)) {
      attachment = true;
    } else if (related) {
      attachment = false; // referenced by cid: from the HTML body (RFC 2387)
    } else if ("inline".equals(disposition)) {
      attachment = filename != null; // a file the sender wants shown inline is still a file
    } else {
      attachment = filename != null || !text;
    }
    boolean candidate = !attachment && filename == null
        && ("text/plain".equals(mimeType) || "text/html".equals(mimeType));
    String partId = e.path.isEmpty() ? "1" : e.path;
    return new Leaf(partId, mimeType, charset, filename, disposition, contentId, attachment, candidate,
        stream.getDecodedInputStream());
  }

  /** A filename is shown and offered for download: no path, no control characters. */
  static String cleanFilename(String name) {
    if (name == null) {
      return null;
    }
    String n = name.replace('\\', '/');
    n = n.substring(n.lastIndexOf('/') + 1);
    StringBuilder b = new StringBuilder();
    n.codePoints().filter(cp -> !Character.isISOControl(cp)).forEach(b::appendCodePoint);
    String s = b.toString().strip();
    return s.isEmpty() ? null : s;
  }

  private static HeaderField header(Field field) {
    if (field == null) {
      return null;
    }
    ByteSequence raw = field.getRaw();
    String line;
    if (raw != null) {
      byte[] b = raw.toByteArray();
      line = Charsets.headerBytes(b, 0, b.length);
    } else {
      line = field.getName() + ":" + field.getBody();
    }
    int colon = line.indexOf(':');
    if (colon <= 0) {
      return null;
    }
    String name = line.substring(0, colon).strip();
    // Unfolding (RFC 5322 section 2.2.3): remove every CRLF that precedes whitespace; lone line ends too.
    String value = line.substring(colon + 1).replaceAll("\r?\n(?=[ \t])", "").replaceAll("[\r\n]+", "").strip();
    return new HeaderField(name, value);
  }

  /**
   * The message with an empty line inserted before the first line of its header section that is
   * neither a header field ({@code name:}, RFC 5322 section 2.2 / 3.6.8: printable ASCII except
   * colon, optionally followed by whitespace as in the obsolete syntax) nor a continuation. So a
   * message with no headers, or garbage in its headers, is all body from there on, as MUAs show it.
   * Returns the input itself when the header section is well formed.
   */
  static byte[] endHeadersAtGarbage(byte[] m) {
    int pos = 0;
    while (pos < m.length) {
      int eol = pos;
      while (eol < m.length && m[eol] != '\n') {
        eol++;
      }
      int end = eol > pos && m[eol - 1] == '\r' ? eol - 1 : eol;
      if (end == pos) {
        return m; // the empty line: a regular end of the header section
      }
      boolean continuation = (m[pos] == ' ' || m[pos] == '\t') && pos > 0;
      if (!continuation && !isFieldStart(m, pos, end)) {
        byte[] out = new byte[m.length + 2];
        System.arraycopy(m, 0, out, 0, pos);
        out[pos] = '\r';
        out[pos + 1] = '\n';
        System.arraycopy(m, pos, out, pos + 2, m.length - pos);
        return out;
      }
      pos = eol + 1;
    }
    return m;
  }

  private static boolean isFieldStart(byte[] m, int start, int end) {
    int i = start;
    while (i < end && m[i] >= 33 && m[i] <= 126 && m[i] != ':') {
      i++;
    }
    if (i == start) {
      return false;
    }
    while (i < end && (m[i] == ' ' || m[i] == '\t')) {
      i++;
    }
    return i < end && m[i] == ':';
  }

  /** Offset just after the first empty line, or 0 when there is none. */
  private static int headerLength(byte[] m) {
    for (int i = 0; i < m.length; i++) {
      if (m[i] == '\n' && (i + 1 < m.length && m[i + 1] == '\n'
          || i + 2 < m.length && m[i + 1] == '\r' && m[i + 2] == '\n')) {
        return m[i + 1] == '\n' ? i + 2 : i + 3;
      }
    }
    return 0;
  }

  /** Reads at most {@code max} bytes; the rest is skipped by the tokenizer on the next step. */
  static byte[] read(InputStream in, int max) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    int n;
    while (out.size() < max && (n = in.read(buf, 0, Math.min(buf.length, max - out.size()))) > 0) {
      out.write(buf, 0, n);
    }
    return out.toByteArray();
  }

  static long count(InputStream in) throws IOException {
    long total = 0;
    byte[] buf = new byte[8192];
    int n;
    while ((n = in.read(buf)) > 0) {
      total += n;
    }
    return total;
  }

  // ------------------------------------------------------------------------------------ visitors

  /** Reads the beginning of the first text and HTML bodies; notes attachments by their headers only. */
  private static final class SummaryVisitor implements Visitor {
    String plain;
    String html;
    boolean attachments;

    @Override
    public boolean leaf(Leaf l) throws IOException {
      if (l.bodyCandidate() && "text/plain".equals(l.mimeType()) && plain == null) {
        plain = Charsets.decode(read(l.body(), SNIPPET_SOURCE_BYTES), l.charset());
      } else if (l.bodyCandidate() && "text/html".equals(l.mimeType()) && html == null) {
        html = Charsets.decode(read(l.body(), SNIPPET_HTML_SOURCE_BYTES), l.charset());
      } else if (l.attachment()) {
        attachments = true;
      }
      return true;
    }
  }

  private static final class FullVisitor implements Visitor {
    String text;
    String html;
    final List<PartInfo> parts = new ArrayList<>();

    @Override
    public boolean leaf(Leaf l) throws IOException {
      if (l.bodyCandidate() && "text/plain".equals(l.mimeType()) && text == null) {
        text = Charsets.decode(read(l.body(), MAX_BODY_BYTES), l.charset());
      } else if (l.bodyCandidate() && "text/html".equals(l.mimeType()) && html == null) {
        html = Charsets.decode(read(l.body(), MAX_BODY_BYTES), l.charset());
      } else {
        parts.add(l.info(count(l.body())));
      }
      return true;
    }
  }

  private static final class PartVisitor implements Visitor {
    final String partId;
    PartContent found;

    PartVisitor(String partId) {
      this.partId = partId;
    }

    @Override
    public boolean leaf(Leaf l) throws IOException {
      if (!l.partId().equals(partId)) {
        return true;
      }
      found = new PartContent(l.partId(), l.mimeType(), l.charset(), l.filename(), l.disposition(),
          l.body().readAllBytes());
      return false;
    }
  }
}
