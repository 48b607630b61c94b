package dev.mailserver.pop3;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A blocking POP3 test client that can switch to TLS: plain, STLS (an {@link SSLSocket} layered over
 * the plain socket, as RFC 2595 section 4 describes) or implicit TLS (RFC 8314). Trusts any
 * certificate: the server's is self-signed. Lines are read byte by byte, so nothing beyond the
 * STLS reply is consumed before the handshake. Reads time out after 10 s.
 */
final class Pop3TestClient implements Closeable {

  private Socket socket;
  private InputStream in;
  private OutputStream out;

  private Pop3TestClient(Socket socket) throws IOException {
    use(socket);
  }

  private void use(Socket s) throws IOException {
    socket = s;
    socket.setSoTimeout(10_000);
    socket.setTcpNoDelay(true);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** Plain connection from the default local address. */
  static Pop3TestClient plain(int port) throws IOException {
    return plainFrom(null, port);
  }

  /** Plain connection from a given loopback address (127.0.0.2 looks like another client). */
  static Pop3TestClient plainFrom(String localAddress, int port) throws IOException {
    Socket s = new Socket();
    if (localAddress != null) {
      s.bind(new InetSocketAddress(localAddress, 0));
    }
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    return new Pop3TestClient(s);
  }

  /** POP3S: TLS from the first byte. */
  static Pop3TestClient implicitTls(int port) throws IOException {
    SSLSocket s = (SSLSocket) trustAll().getSocketFactory().createSocket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.startHandshake();
    return new Pop3TestClient(s);
  }

  /** After the server's +OK to STLS: TLS over the same TCP connection. */
  void startTls() throws IOException {
    SSLSocket s = (SSLSocket) trustAll().getSocketFactory().createSocket(socket, "127.0.0.1", socket.getPort(), true);
    s.setUseClientMode(true);
    s.startHandshake();
    use(s);
  }

  /** STLS, expects +OK, handshakes. */
  void stls() throws IOException {
    send("STLS");
    String r = readLine();
    if (r == null || !r.startsWith("+OK")) {
      throw new IOException("STLS refused: " + r);
    }
    startTls();
  }

  boolean isTls() {
    return socket instanceof SSLSocket;
  }

  Socket socket() {
    return socket;
  }

  void sendRaw(String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  void send(String line) throws IOException {
    sendRaw(line + "\r\n");
  }

  /** One line without CRLF; null at end of stream. */
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
    return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
  }

  /** Sends a command and returns the status line of its reply. */
  String command(String line) throws IOException {
    send(line);
    return readLine();
  }

  /** The lines of a multi-line reply up to the "." line, unstuffed. */
  List<String> readMultiLine() throws IOException {
    List<String> lines = new ArrayList<>();
    while (true) {
      String l = readLine();
      if (l == null) {
        throw new IOException("closed inside multi-line response");
      }
      if (l.equals(".")) {
        return lines;
      }
      lines.add(l.startsWith(".") ? l.substring(1) : l);
    }
  }

  /** CAPA and its list. */
  List<String> capa() throws IOException {
    String status = command("CAPA");
    if (!status.startsWith("+OK")) {
      throw new IOException("CAPA: " + status);
    }
    return readMultiLine();
  }

  /** True when the server has closed the connection (end of stream or reset within the timeout). */
  boolean isClosedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (SocketException e) {
      return true;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** A client context that accepts any certificate (tests only: the server's is self-signed). */
  static SSLContext trustAll() {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {TRUST_ALL}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  static final X509TrustManager TRUST_ALL = new X509TrustManager() {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  };
}
