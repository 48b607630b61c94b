package dev.mailserver.common.testing;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A blocking line-oriented socket client for dialogue tests (SMTP and POP3). Call it from the test
 * thread, never from an event loop. Reads time out after 10 s so a silent server fails the test.
 */
public final class LineClient implements Closeable {
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  public LineClient(String host, int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress(host, port), 5000);
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** Sends the bytes as they are (no CRLF added). */
  public LineClient sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  public LineClient sendRaw(String s) throws IOException {
    return sendRaw(s.getBytes(StandardCharsets.UTF_8));
  }

  /** Sends one line terminated by CRLF. */
  public LineClient send(String line) throws IOException {
    return sendRaw(line + "\r\n");
  }

  /** Reads one line without its CRLF; null at end of stream. */
  public String readLine() throws IOException {
    byte[] raw = readRawLine();
    if (raw == null) {
      return null;
    }
    int len = raw.length;
    if (len >= 2 && raw[len - 2] == '\r' && raw[len - 1] == '\n') {
      len -= 2;
    } else if (len >= 1 && raw[len - 1] == '\n') {
      len -= 1;
    }
    return new String(raw, 0, len, StandardCharsets.UTF_8);
  }

  /** Reads one line with its line ending, byte-exact; null at end of stream. */
  public byte[] readRawLine() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      b.write(c);
      if (c == '\n') {
        return b.toByteArray();
      }
    }
    return b.size() == 0 ? null : b.toByteArray();
  }

  /** Reads one SMTP reply (all its continuation lines) and returns the lines. */
  public List<String> readSmtpReply() throws IOException {
    List<String> lines = new ArrayList<>();
    String l;
    do {
      l = readLine();
      if (l == null) {
        throw new IOException("connection closed after " + lines);
      }
      lines.add(l);
    } while (l.length() > 3 && l.charAt(3) == '-');
    return lines;
  }

  /** The last line of the next SMTP reply. */
  public String smtp() throws IOException {
    List<String> r = readSmtpReply();
    return r.get(r.size() - 1);
  }

  /**
   * Reads POP3 multi-line data up to the terminating ".CRLF" line and returns the bytes before it,
   * byte-exact and still dot-stuffed (RFC 1939 section 3).
   */
  public byte[] readPop3MultiLineRaw() throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    while (true) {
      byte[] l = readRawLine();
      if (l == null) {
        throw new IOException("connection closed inside multi-line response");
      }
      if (l.length == 3 && l[0] == '.' && l[1] == '\r' && l[2] == '\n') {
        return all.toByteArray();
      }
      all.writeBytes(l);
    }
  }

  /** Undoes POP3 byte-stuffing: a line starting with '.' loses that first '.'. */
  public static byte[] unstuff(byte[] stuffed) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(stuffed.length);
    boolean lineStart = true;
    for (byte b : stuffed) {
      if (lineStart && b == '.') {
        lineStart = false;
        continue;
      }
      out.write(b);
      lineStart = b == '\n';
    }
    return out.toByteArray();
  }

  /** True when the server has closed the connection (reads end of stream within the timeout). */
  public boolean isClosedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (java.net.SocketException e) {
      return true;
    }
  }

  public Socket socket() {
    return socket;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
