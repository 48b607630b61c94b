package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {

  @TempDir
  Path dir;

  private Path write(String json) throws Exception {
    Path f = dir.resolve("config.json");
    Files.writeString(f, json);
    return f;
  }

  private JsonObject load(Path file, Map<String, String> env) throws ConfigException {
    return ConfigLoader.load(file, env, new ArrayList<>());
  }

  @Test
  void defaultsWithoutFile() throws Exception {
    JsonObject c = load(null, Map.of());
    assertThat(c.getString("dataDir")).isEqualTo("data");
    assertThat(c.getJsonArray("domains").getList()).containsExactly("example.test");
    assertThat(c.getJsonObject("smtp").getInteger("port")).isEqualTo(2525);
    assertThat(c.getJsonObject("pop3").getInteger("port")).isEqualTo(2110);
    assertThat(c.getJsonObject("http").getInteger("port")).isEqualTo(8025);
    assertThat(c.getJsonObject("smtp").getInteger("maxMessageSize")).isEqualTo(26_214_400);
  }

  @Test
  void fileIsMergedOverDefaults() throws Exception {
    JsonObject c = load(write("""
        { "hostname": "mx.acme.test", "domains": ["acme.test"], "smtp": { "port": 0 },
          "accounts": [ { "address": "alice@acme.test", "password": "secret" } ] }"""), Map.of());
    assertThat(c.getString("hostname")).isEqualTo("mx.acme.test");
    assertThat(c.getJsonObject("smtp").getInteger("port")).isZero();
    assertThat(c.getJsonObject("smtp").getInteger("maxRecipients")).isEqualTo(100);
    assertThat(c.getJsonArray("accounts").getJsonObject(0).getString("address")).isEqualTo("alice@acme.test");
  }

  @Test
  void environmentOverridesFileInBothSpellings() throws Exception {
    Path f = write("{ \"smtp\": { \"port\": 2600 } }");
    JsonObject c = load(f, Map.of(
        "MAIL_SMTP_PORT", "2700",
        "MAIL_DATA_DIR", "/var/mail",
        "MAIL_SMTP_MAXMESSAGESIZE", "1000",
        "MAIL_SMTP_MAX_RECIPIENTS", "5",
        "MAIL_DOMAINS", "a.test, b.test",
        "PATH", "/usr/bin"));
    assertThat(c.getJsonObject("smtp").getInteger("port")).isEqualTo(2700);
    assertThat(c.getString("dataDir")).isEqualTo("/var/mail");
    assertThat(c.getJsonObject("smtp").getInteger("maxMessageSize")).isEqualTo(1000);
    assertThat(c.getJsonObject("smtp").getInteger("maxRecipients")).isEqualTo(5);
    assertThat(c.getJsonArray("domains").getList()).containsExactly("a.test", "b.test");
  }

  @Test
  void accountsFromEnvironmentAsJson() throws Exception {
    JsonObject c = load(null, Map.of("MAIL_ACCOUNTS", "[{\"address\":\"bob@example.test\",\"password\":\"pw\"}]"));
    assertThat(c.getJsonArray("accounts").getJsonObject(0).getString("address")).isEqualTo("bob@example.test");
  }

  @Test
  void unknownEnvironmentVariableIsAWarningNotAnError() throws Exception {
    List<String> warnings = new ArrayList<>();
    ConfigLoader.load(null, Map.of("MAIL_SMTP_PROT", "1"), warnings);
    assertThat(warnings).singleElement().asString().contains("MAIL_SMTP_PROT");
  }

  @Test
  void everyLeafKeyHasAnEnvironmentName() {
    Map<String, List<String>> names = ConfigLoader.envNames(ConfigLoader.defaults());
    assertThat(names).containsKeys("MAIL_SMTP_PORT", "MAIL_DATA_DIR", "MAIL_DATADIR", "MAIL_HTTP_PORT",
        "MAIL_POP3_PORT", "MAIL_HOSTNAME", "MAIL_ACCOUNTS", "MAIL_SMTP_BARE_LINE_ENDINGS");
    assertThat(names.get("MAIL_SMTP_MAX_MESSAGE_SIZE")).containsExactly("smtp", "maxMessageSize");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"smtp\": {\"prot\": 25}}                 | unknown config key 'smtp.prot'",
      "{\"colour\": 1}                            | unknown config key 'colour'",
      "{\"smtp\": {\"port\": 70000}}              | 'smtp.port' must be a port between 0 and 65535",
      "{\"smtp\": {\"port\": -1}}                 | 'smtp.port' must be a port",
      "{\"pop3\": {\"port\": \"110\"}}            | 'pop3.port' must be a whole number",
      "{\"smtp\": 25}                             | 'smtp' must be an object",
      "{\"domains\": []}                          | 'domains' must name at least one domain",
      "{\"domains\": [\"bad domain\"]}            | invalid domain",
      "{\"smtp\": {\"bareLineEndings\": \"x\"}}   | 'smtp.bareLineEndings' must be",
      "{\"accounts\": [{\"address\": \"a@other.test\", \"password\": \"p\"}]} | not in a configured domain",
      "{\"accounts\": [{\"address\": \"a@example.test\"}]}                   | 'accounts[0].password' must be",
      "{\"accounts\": [{\"address\": \"a@example.test\", \"password\": \"p\", \"x\": 1}]} | unknown config key 'accounts[0].x'",
      "[1,2]                                      | is not a JSON object",
      "{ nope                                     | is not a JSON object",
  })
  void badConfigGivesOneClearLine(String json, String expected) throws Exception {
    Path f = write(json);
    assertThatThrownBy(() -> load(f, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(expected)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  @Test
  void missingFile() {
    assertThatThrownBy(() -> load(dir.resolve("nope.json"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("config file not found");
  }

  @Test
  void badEnvironmentValue() {
    assertThatThrownBy(() -> load(null, Map.of("MAIL_SMTP_PORT", "twenty-five")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("MAIL_SMTP_PORT must be a whole number");
  }

  @Test
  void rolesParse() throws Exception {
    assertThat(Main.Role.parseList("pop3, smtp")).containsExactly(Main.Role.SMTP, Main.Role.POP3);
    assertThat(Main.Role.parseList("smtp,mailstore")).containsExactly(Main.Role.MAILSTORE, Main.Role.SMTP);
    assertThatThrownBy(() -> Main.Role.parseList("imap")).hasMessageContaining("unknown role 'imap'");
  }
}
