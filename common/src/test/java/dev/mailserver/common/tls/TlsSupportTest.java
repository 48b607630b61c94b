package dev.mailserver.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class TlsSupportTest {

  @Test
  void selfSignedOncePerProcessWithFingerprint() {
    JsonObject config = new JsonObject().put("hostname", "tls.example.test");
    TlsSupport.Tls a = TlsSupport.fromConfig(config);
    TlsSupport.Tls b = TlsSupport.fromConfig(config);
    assertThat(a.enabled()).isTrue();
    assertThat(a.selfSigned()).isTrue();
    assertThat(a.fingerprint()).matches("([0-9A-F]{2}:){31}[0-9A-F]{2}");
    assertThat(b).isSameAs(a);
    assertThat(a.serverOptions().getEnabledSecureTransportProtocols()).containsExactlyInAnyOrder("TLSv1.2", "TLSv1.3");
  }

  @Test
  void disabledAndHalfConfigured() {
    assertThat(TlsSupport.fromConfig(new JsonObject().put("tls", new JsonObject().put("enabled", false))).enabled()).isFalse();
    assertThatThrownBy(() -> TlsSupport.fromConfig(new JsonObject().put("tls", new JsonObject().put("certPath", "/x.pem"))))
        .hasMessageContaining("together");
    assertThatThrownBy(() -> TlsSupport.fromConfig(new JsonObject().put("tls",
        new JsonObject().put("certPath", "/nope.pem").put("keyPath", "/nope.key")))).hasMessageContaining("cannot read");
  }
}
