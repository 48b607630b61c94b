package dev.mailserver.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.smtp.protocol.BareLineEndings;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SmtpOptionsTest {

  @Test
  void defaultsForMissingKeys() {
    SmtpOptions o = SmtpOptions.fromConfig(new JsonObject());
    assertThat(o.hostname()).isEqualTo("localhost");
    assertThat(o.domains()).isEmpty();
    assertThat(o.host()).isEqualTo("0.0.0.0");
    assertThat(o.port()).isEqualTo(2525);
    assertThat(o.maxMessageSize()).isEqualTo(26_214_400L);
    assertThat(o.maxRecipients()).isEqualTo(100);
    assertThat(o.bareLineEndings()).isEqualTo(BareLineEndings.NORMALIZE);
    assertThat(o.storeTimeoutMs()).isEqualTo(30_000L);
    assertThat(o.idleTimeoutSeconds()).isEqualTo(300);
    assertThat(o.shutdownGraceSeconds()).isEqualTo(30);
    assertThat(o.submissionPort()).isEqualTo(2587);
    assertThat(o.smtpsPort()).isEqualTo(2465);
    assertThat(o.allowPlaintextAuth()).isFalse();
    assertThat(o.maxConnections()).isEqualTo(1000);
    assertThat(o.maxConnectionsPerIp()).isEqualTo(20);
    assertThat(o.maxErrors()).isEqualTo(20);
    assertThat(o).isEqualTo(SmtpOptions.defaults("localhost", List.of()));
  }

  @Test
  void readsTheWholeSystemConfig() {
    JsonObject cfg = new JsonObject("""
        {"hostname":"mail.example.test","domains":["Example.TEST","b.test"],
         "smtp":{"host":"127.0.0.1","port":0,"maxMessageSize":1000,"maxRecipients":5,
                 "bareLineEndings":"reject","storeTimeoutMs":700,"idleTimeoutSeconds":9,
                 "shutdownGraceSeconds":3600,"submissionPort":-1,"smtpsPort":0,"allowPlaintextAuth":true,
                 "maxConnections":50,"maxConnectionsPerIp":3,"maxErrors":7},
         "pop3":{"port":1100}}""");
    SmtpOptions o = SmtpOptions.fromConfig(cfg);
    assertThat(o).isEqualTo(new SmtpOptions("mail.example.test", List.of("example.test", "b.test"), "127.0.0.1", 0,
        1000, 5, BareLineEndings.REJECT, 700, 9, 3600, -1, 0, true, 50, 3, 7));
    assertThat(o.isLocalDomain("EXAMPLE.test")).isTrue();
    assertThat(o.isLocalDomain("c.test")).isFalse();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      {"smtp":{"port":70000}}                 | smtp.port
      {"smtp":{"port":"25"}}                  | smtp.port
      {"smtp":{"port":1.5}}                   | smtp.port
      {"smtp":{"maxMessageSize":0}}           | smtp.maxMessageSize
      {"smtp":{"maxMessageSize":9999999999}}  | smtp.maxMessageSize
      {"smtp":{"maxRecipients":0}}            | smtp.maxRecipients
      {"smtp":{"bareLineEndings":"allow"}}    | smtp.bareLineEndings
      {"smtp":{"storeTimeoutMs":-1}}          | smtp.storeTimeoutMs
      {"smtp":{"idleTimeoutSeconds":0}}       | smtp.idleTimeoutSeconds
      {"smtp":{"shutdownGraceSeconds":0}}     | smtp.shutdownGraceSeconds
      {"smtp":{"shutdownGraceSeconds":3601}}  | smtp.shutdownGraceSeconds
      {"smtp":{"shutdownGraceSeconds":"30"}}  | smtp.shutdownGraceSeconds
      {"smtp":{"submissionPort":-2}}          | smtp.submissionPort
      {"smtp":{"submissionPort":65536}}       | smtp.submissionPort
      {"smtp":{"smtpsPort":-5}}               | smtp.smtpsPort
      {"smtp":{"smtpsPort":"465"}}            | smtp.smtpsPort
      {"smtp":{"port":2525,"smtpsPort":2525}} | smtp.smtpsPort
      {"smtp":{"submissionPort":2465,"smtpsPort":2465}} | smtp.submissionPort
      {"smtp":{"allowPlaintextAuth":"yes"}}   | smtp.allowPlaintextAuth
      {"smtp":{"maxConnections":0}}           | smtp.maxConnections
      {"smtp":{"maxConnectionsPerIp":0}}      | smtp.maxConnectionsPerIp
      {"smtp":{"maxErrors":0}}                | smtp.maxErrors
      {"smtp":5}                              | smtp
      {"domains":"example.test"}              | domains
      {"domains":["a b"]}                     | domains
      {"hostname":""}                         | hostname
      """)
  void badValuesAreNamed(String json, String key) {
    assertThatThrownBy(() -> SmtpOptions.fromConfig(new JsonObject(json)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(key);
  }
}
