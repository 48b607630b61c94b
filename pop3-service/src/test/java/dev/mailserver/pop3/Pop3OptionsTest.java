package dev.mailserver.pop3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Pop3OptionsTest {

  @Test
  void defaults() {
    Pop3Options o = Pop3Options.fromConfig(new JsonObject());
    assertThat(o.hostname()).isEqualTo("localhost");
    assertThat(o.host()).isEqualTo("0.0.0.0");
    assertThat(o.port()).isEqualTo(2110);
    assertThat(o.storeTimeoutMs()).isEqualTo(30_000);
    assertThat(o.idleTimeoutSeconds()).isEqualTo(600);
    assertThat(o.lockLeaseSeconds()).isEqualTo(30);
    assertThat(o.lockLeaseMs()).isEqualTo(30_000);
    assertThat(o.pop3sPort()).isEqualTo(2995);
    assertThat(o.allowPlaintextAuth()).isFalse();
    assertThat(o.maxConnections()).isEqualTo(1000);
    assertThat(o.maxConnectionsPerIp()).isEqualTo(20);
    assertThat(o.maxErrors()).isEqualTo(20);
    assertThat(o.tlsEnabled()).isTrue();
    assertThat(o.pop3sEnabled()).isTrue();
    assertThat(Pop3Options.fromConfig(null)).isEqualTo(o);
  }

  @Test
  void readsWholeSystemConfigIgnoringOtherSections() {
    JsonObject cfg = new JsonObject("""
        {"hostname":"mail.example.test","domains":["example.test"],
         "pop3":{"host":"127.0.0.1","port":0,"storeTimeoutMs":500,"idleTimeoutSeconds":700,"lockLeaseSeconds":5,
                 "pop3sPort":-1,"allowPlaintextAuth":true,"maxConnections":7,"maxConnectionsPerIp":3,"maxErrors":4},
         "tls":{"enabled":false,"certPath":"","keyPath":""},
         "smtp":{"port":"whatever"}}""");
    Pop3Options o = Pop3Options.fromConfig(cfg);
    assertThat(o).isEqualTo(new Pop3Options("mail.example.test", "127.0.0.1", 0, -1, 500, 700, 5, true, 7, 3, 4, false));
    assertThat(o.pop3sEnabled()).isFalse();
    assertThat(o.plaintextAuthAllowed(false)).isTrue();
    assertThat(o.lockLeaseMs()).isEqualTo(5_000);
  }

  /** Same bounds as the launcher validates (1..3600). */
  @Test
  void lockLeaseBounds() {
    assertThat(Pop3Options.fromConfig(new JsonObject("{\"pop3\":{\"lockLeaseSeconds\":1}}")).lockLeaseMs()).isEqualTo(1_000);
    assertThat(Pop3Options.fromConfig(new JsonObject("{\"pop3\":{\"lockLeaseSeconds\":3600}}")).lockLeaseMs())
        .isEqualTo(3_600_000);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', value = {
      "{\"pop3\":{\"port\":-1}}                 | pop3.port",
      "{\"pop3\":{\"port\":65536}}              | pop3.port",
      "{\"pop3\":{\"port\":\"110\"}}            | pop3.port",
      "{\"pop3\":{\"port\":1.5}}                | pop3.port",
      "{\"pop3\":{\"port\":9999999999}}         | pop3.port",
      "{\"pop3\":{\"storeTimeoutMs\":0}}        | pop3.storeTimeoutMs",
      "{\"pop3\":{\"idleTimeoutSeconds\":0}}    | pop3.idleTimeoutSeconds",
      "{\"pop3\":{\"idleTimeoutSeconds\":true}} | pop3.idleTimeoutSeconds",
      "{\"pop3\":{\"lockLeaseSeconds\":0}}     | pop3.lockLeaseSeconds",
      "{\"pop3\":{\"lockLeaseSeconds\":3601}}  | pop3.lockLeaseSeconds",
      "{\"pop3\":{\"lockLeaseSeconds\":\"30\"}}| pop3.lockLeaseSeconds",
      "{\"pop3\":{\"lockLeaseSeconds\":1.5}}   | pop3.lockLeaseSeconds",
      "{\"pop3\":{\"host\":\"\"}}               | pop3.host",
      "{\"pop3\":{\"host\":5}}                  | pop3.host",
      "{\"pop3\":42}                            | pop3",
      "{\"pop3\":{\"pop3sPort\":-2}}           | pop3.pop3sPort",
      "{\"pop3\":{\"pop3sPort\":65536}}        | pop3.pop3sPort",
      "{\"pop3\":{\"allowPlaintextAuth\":\"yes\"}} | pop3.allowPlaintextAuth",
      "{\"pop3\":{\"maxConnections\":0}}       | pop3.maxConnections",
      "{\"pop3\":{\"maxConnectionsPerIp\":0}}  | pop3.maxConnectionsPerIp",
      "{\"pop3\":{\"maxErrors\":0}}            | pop3.maxErrors",
      "{\"pop3\":{\"maxErrors\":10001}}        | pop3.maxErrors",
      "{\"tls\":{\"enabled\":\"no\"}}           | tls.enabled",
      "{\"tls\":true}                           | tls",
      "{\"hostname\":\"two words\"}             | hostname",
  })
  void rejectsBadValuesWithClearMessage(String json, String mentions) {
    assertThatThrownBy(() -> Pop3Options.fromConfig(new JsonObject(json)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(mentions);
  }
}
