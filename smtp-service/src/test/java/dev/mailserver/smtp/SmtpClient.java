package dev.mailserver.smtp;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A blocking SMTP test client that can switch to TLS: {@link #startTls()} layers a
 * {@code javax.net.ssl} socket over the connected one after the 220 (RFC 3207), and
 * {@link #implicitTls} connects with TLS from the first byte (RFC 8314). The server's certificate
 * is self-signed: the tests trust anything. Reads are unbuffered, so no plaintext byte is read
 * ahead of the switch. Reads time out after 10 s.
 */
final class SmtpClient implements Closeable {
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  private SmtpClient(Socket socket) throws IOException {
    use(socket);
  }

  static SmtpClient plain(int port) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.setSoTimeout(10_000);
    s.setTcpNoDelay(true);
    return new SmtpClient(s);
  }

  static SmtpClient implicitTls(int port) throws IOException {
    SSLSocket s = (SSLSocket) trustAll().getSocketFactory().createSocket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.setSoTimeout(10_000);
    s.startHandshake();
    return new SmtpClient(s);
  }

  static SSLContext trustAll() {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      }}, new SecureRandom());
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private void use(Socket s) throws IOException {
    socket = s;
    in = s.getInputStream();
    out = s.getOutputStream();
  }

  /** Layers TLS over the current connection (call after the server's 220 to STARTTLS). */
  SmtpClient upgrade() throws IOException {
    SSLSocket s = (SSLSocket) trustAll().getSocketFactory().createSocket(socket, "127.0.0.1", socket.getPort(), true);
    s.setUseClientMode(true);
    s.setSoTimeout(10_000);
    s.startHandshake();
    use(s);
    return this;
  }

  /** STARTTLS, expects the 220, switches. */
  SmtpClient startTls() throws IOException {
    String r = cmd("STARTTLS");
    if (!r.equals("220 2.0.0 Ready to start TLS")) {
      throw new AssertionError("STARTTLS answered " + r);
    }
    return upgrade();
  }

  boolean isTls() {
    return socket instanceof SSLSocket;
  }

  String tlsProtocol() {
    return ((SSLSocket) socket).getSession().getProtocol();
  }

  SmtpClient sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  SmtpClient sendRaw(String s) throws IOException {
    return sendRaw(s.getBytes(StandardCharsets.UTF_8));
  }

  SmtpClient send(String line) throws IOException {
    return sendRaw(line + "\r\n");
  }

  /** Sends one command, returns the last line of its reply. */
  String cmd(String line) throws IOException {
    return send(line).smtp();
  }

  /** Sends one command, returns every line of its reply. */
  List<String> cmdAll(String line) throws IOException {
    return send(line).readSmtpReply();
  }

  String readLine() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        byte[] raw = b.toByteArray();
        int len = raw.length > 0 && raw[raw.length - 1] == '\r' ? raw.length - 1 : raw.length;
        return new String(raw, 0, len, StandardCharsets.UTF_8);
      }
      b.write(c);
    }
    return null;
  }

  List<String> readSmtpReply() throws IOException {
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

  String smtp() throws IOException {
    List<String> r = readSmtpReply();
    return r.get(r.size() - 1);
  }

  /** AUTH PLAIN with an initial response; returns the final reply line. */
  String authPlain(String user, String password) throws IOException {
    return cmd("AUTH PLAIN " + b64("\0" + user + "\0" + password));
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /** True when the server has closed the connection (end of stream, or reset). */
  boolean isClosedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (SocketException e) {
      return true;
    } catch (javax.net.ssl.SSLException e) {
      return true;
    }
  }

  Socket socket() {
    return socket;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
