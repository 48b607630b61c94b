package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.mailstore.accounts.AccountSeed;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MailstoreOptionsTest {

  @Test
  void defaults() {
    MailstoreOptions o = MailstoreOptions.fromConfig(new JsonObject());
    assertThat(o.dataDir()).isEqualTo(Path.of("data"));
    assertThat(o.domains()).containsExactly("example.test");
    assertThat(o.httpHost()).isEqualTo("0.0.0.0");
    assertThat(o.httpPort()).isEqualTo(8025);
    assertThat(o.accounts()).isEmpty();
    assertThat(o.deliveryLog()).as("group commit through the delivery log by default").isTrue();
  }

  @Test
  void storeDurabilityIsLogOrFsync() {
    assertThat(MailstoreOptions.fromConfig(new JsonObject("{\"store\":{\"durability\":\"fsync\"}}")).deliveryLog()).isFalse();
    assertThat(MailstoreOptions.fromConfig(new JsonObject("{\"store\":{\"durability\":\"log\"}}")).deliveryLog()).isTrue();
    org.assertj.core.api.Assertions.assertThatThrownBy(
        () -> MailstoreOptions.fromConfig(new JsonObject("{\"store\":{\"durability\":\"none\"}}")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("store.durability");
  }

  @Test
  void readsTheWholeSystemConfigAndIgnoresOtherSections() {
    MailstoreOptions o = MailstoreOptions.fromConfig(new JsonObject("""
        {"hostname":"mail.example.test","domains":["Example.TEST","other.test"],"dataDir":"/var/mail",
         "http":{"host":"127.0.0.1","port":0},
         "accounts":[{"address":"Alice@example.test","password":"secret"}],
         "smtp":{"port":25},"pop3":{"port":110}}"""));
    assertThat(o.hostname()).isEqualTo("mail.example.test");
    assertThat(o.domains()).containsExactly("example.test", "other.test");
    assertThat(o.dataDir()).isEqualTo(Path.of("/var/mail"));
    assertThat(o.httpHost()).isEqualTo("127.0.0.1");
    assertThat(o.httpPort()).isZero();
    assertThat(o.accounts()).containsExactly(new AccountSeed("alice@example.test", "secret"));
    assertThat(o.toString()).doesNotContain("secret");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"accounts\":[{\"address\":\"alice@elsewhere.test\",\"password\":\"x\"}]}|not in a configured domain",
      "{\"accounts\":[{\"address\":\"alice@example.test\",\"password\":\"\"}]}|password must not be empty",
      "{\"accounts\":[{\"address\":\"alice@example.test\"}]}|password must not be empty",
      "{\"accounts\":[{\"address\":\"../x@example.test\",\"password\":\"x\"}]}|not a valid mailbox address",
      "{\"accounts\":[{\"address\":\"a@example.test\",\"password\":\"x\"},{\"address\":\"A@example.test\",\"password\":\"y\"}]}|listed twice",
      "{\"accounts\":[{\"address\":\"a@example.test\",\"password\":\"$2a$10$short\"}]}|malformed",
      "{\"accounts\":{}}|accounts must be an array",
      "{\"domains\":[]}|at least one domain",
      "{\"domains\":[\"bad domain\"]}|not a valid domain",
      "{\"domains\":\"example.test\"}|domains must be an array",
      "{\"http\":{\"port\":70000}}|http.port",
      "{\"http\":{\"port\":\"80\"}}|http.port",
      "{\"dataDir\":5}|dataDir must be a string",
  })
  void badValuesAreRejectedWithAClearMessage(String json, String message) {
    assertThatThrownBy(() -> MailstoreOptions.fromConfig(new JsonObject(json)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
  }

  @Test
  void accountsMustBeInOneOfTheConfiguredDomains() {
    MailstoreOptions o = MailstoreOptions.fromConfig(new JsonObject()
        .put("domains", new io.vertx.core.json.JsonArray(List.of("a.test", "b.test")))
        .put("accounts", new io.vertx.core.json.JsonArray().add(new JsonObject().put("address", "x@b.test").put("password", "p"))));
    assertThat(o.accounts()).extracting(AccountSeed::address).containsExactly("x@b.test");
  }
}
