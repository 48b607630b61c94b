package dev.mailserver.common.tls;

import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.core.net.ServerSSLOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server certificate shared by SMTP and POP3, from the top-level {@code tls} section:
 * {@code {"enabled": true, "certPath": "", "keyPath": ""}}. With no paths, a self-signed
 * certificate for {@code hostname} is generated once per process and its SHA-256 fingerprint
 * logged, so clients can pin it. TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1).
 */
public final class TlsSupport {

  private static final Logger LOG = LoggerFactory.getLogger(TlsSupport.class);
  public static final Set<String> PROTOCOLS = Set.of("TLSv1.2", "TLSv1.3");
  /** One generated certificate per host name and process: SMTP and POP3 present the same one. */
  private static final Map<String, Tls> GENERATED = new ConcurrentHashMap<>();

  private TlsSupport() {}

  /**
   * The TLS material of a process.
   *
   * @param enabled     false when {@code tls.enabled} is false: no STARTTLS/STLS, no implicit-TLS ports
   * @param keyCert     the certificate chain and key (null when disabled)
   * @param fingerprint SHA-256 of the leaf certificate, hex with colons (null when disabled)
   * @param selfSigned  whether it was generated here
   */
  public record Tls(boolean enabled, KeyCertOptions keyCert, String fingerprint, boolean selfSigned) {

    /** Options for {@code NetSocket.upgradeToSsl} (STARTTLS, STLS) and for implicit-TLS listeners. */
    public ServerSSLOptions serverOptions() {
      if (!enabled) {
        throw new IllegalStateException("TLS is disabled");
      }
      return new ServerSSLOptions().setKeyCertOptions(keyCert.copy()).setEnabledSecureTransportProtocols(PROTOCOLS);
    }

    public static Tls disabled() {
      return new Tls(false, null, null, false);
    }
  }

  /**
   * Reads the {@code tls} section of the whole system config. Blocking (file reads, and about a
   * second to generate a key pair): call it from a verticle's start on a worker, or accept that
   * start-up takes that long once.
   *
   * @throws IllegalArgumentException naming the key when the configuration is unusable
   */
  public static Tls fromConfig(JsonObject config) {
    JsonObject tls = config.getJsonObject("tls", new JsonObject());
    if (!tls.getBoolean("enabled", true)) {
      return Tls.disabled();
    }
    String certPath = tls.getString("certPath", "");
    String keyPath = tls.getString("keyPath", "");
    if (certPath.isBlank() != keyPath.isBlank()) {
      throw new IllegalArgumentException("tls.certPath and tls.keyPath must be given together");
    }
    if (!certPath.isBlank()) {
      for (String p : new String[] {certPath, keyPath}) {
        if (!Files.isReadable(Path.of(p))) {
          throw new IllegalArgumentException("tls: cannot read " + p);
        }
      }
      String fp = fingerprint(Path.of(certPath));
      LOG.info("TLS certificate {} (SHA-256 {})", certPath, fp);
      return new Tls(true, new PemKeyCertOptions().setCertPath(certPath).setKeyPath(keyPath), fp, false);
    }
    String hostname = config.getString("hostname", "localhost");
    return GENERATED.computeIfAbsent(hostname, h -> {
      SelfSignedCertificate cert = SelfSignedCertificate.create(h);
      String fp = fingerprint(Path.of(cert.certificatePath()));
      LOG.warn("No TLS certificate configured (tls.certPath/tls.keyPath): generated a self-signed one for {} "
          + "(SHA-256 {}); configure a real certificate for production", h, fp);
      return new Tls(true, cert.keyCertOptions(), fp, true);
    });
  }

  /** SHA-256 of the first certificate in a PEM file, as colon-separated upper-case hex. */
  public static String fingerprint(Path pem) {
    try (InputStream in = Files.newInputStream(pem)) {
      X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
    } catch (IOException | CertificateException | NoSuchAlgorithmException e) {
      throw new IllegalArgumentException("tls: cannot read the certificate " + pem + ": " + e.getMessage(), e);
    }
  }
}
