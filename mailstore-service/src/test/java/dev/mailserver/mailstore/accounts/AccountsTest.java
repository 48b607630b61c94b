package dev.mailserver.mailstore.accounts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.mailstore.store.InMemoryStore;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Uses bcrypt cost 4 to stay fast; the production cost is checked by the verticle test. */
class AccountsTest {

  @TempDir
  Path tmp;
  Path file;
  MailStore store;
  final Passwords passwords = new Passwords(4);

  @BeforeEach
  void setUp() {
    file = tmp.resolve("accounts.json");
    store = new InMemoryStore();
  }

  Accounts open() throws IOException {
    Accounts a = new Accounts(file, store, passwords);
    a.load();
    return a;
  }

  @Test
  void seedingCreatesAccountsWithMailboxesAndPersistsOnlyHashes() throws IOException {
    Accounts accounts = open();
    Accounts.SeedResult r = accounts.seed(List.of(new AccountSeed("alice@example.test", "s3cret-Alice")));

    assertThat(r.created()).containsExactly("alice@example.test");
    assertThat(store.exists(MailboxName.of("alice@example.test"))).isTrue();
    String json = Files.readString(file);
    assertThat(json).doesNotContain("s3cret-Alice").contains("alice@example.test").contains("$2a$04$");
    JsonObject entry = new JsonObject(json).getJsonArray("accounts").getJsonObject(0);
    assertThat(entry.fieldNames()).containsExactlyInAnyOrder("address", "passwordHash", "createdAt");
    assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(tmp.resolve("accounts.json.tmp")).doesNotExist();

    Accounts reloaded = open();
    assertThat(reloaded.exists("ALICE@example.test")).isTrue();
    assertThat(reloaded.authenticate("Alice@Example.Test", "s3cret-Alice")).contains("alice@example.test");
    assertThat(reloaded.authenticate("alice@example.test", "wrong")).isEmpty();
    assertThat(reloaded.authenticate("nobody@example.test", "s3cret-Alice")).isEmpty();
  }

  @Test
  void reseedingUpdatesOnlyChangedPasswordsAndKeepsCreationTime() throws IOException {
    Accounts accounts = open();
    accounts.seed(List.of(new AccountSeed("alice@example.test", "old"), new AccountSeed("bob@example.test", "bob")));
    var created = accounts.get("alice@example.test").orElseThrow().createdAt();
    String bobHash = accounts.get("bob@example.test").orElseThrow().passwordHash();

    Accounts.SeedResult r = open().seed(List.of(new AccountSeed("alice@example.test", "new"), new AccountSeed("bob@example.test", "bob")));

    assertThat(r.created()).isEmpty();
    assertThat(r.updated()).containsExactly("alice@example.test");
    Accounts after = open();
    assertThat(after.authenticate("alice@example.test", "new")).isPresent();
    assertThat(after.authenticate("alice@example.test", "old")).isEmpty();
    assertThat(after.get("alice@example.test").orElseThrow().createdAt()).isEqualTo(created);
    assertThat(after.get("bob@example.test").orElseThrow().passwordHash()).isEqualTo(bobHash);
  }

  @Test
  void bcryptHashesFromTheConfigurationAreStoredAsGiven() throws IOException {
    String hash = new Passwords(5).hash("hashed-pw").replace("$2a$", "$2y$");
    Accounts accounts = open();
    accounts.seed(List.of(new AccountSeed("carol@example.test", hash)));

    assertThat(accounts.get("carol@example.test").orElseThrow().passwordHash()).isEqualTo(hash);
    assertThat(accounts.authenticate("carol@example.test", "hashed-pw")).isPresent();
    assertThat(accounts.authenticate("carol@example.test", hash)).isEmpty();
    assertThat(open().seed(List.of(new AccountSeed("carol@example.test", hash))).updated()).isEmpty();
  }

  @Test
  void demoAccountOnlyWhenThereIsNoAccountAtAll() throws IOException {
    Accounts accounts = open();
    Optional<String> pw = accounts.createDemoIfEmpty("example.test");

    assertThat(pw).hasValueSatisfying(p -> assertThat(p).hasSizeGreaterThanOrEqualTo(16).matches("[A-Za-z0-9_-]+"));
    assertThat(accounts.addresses()).containsExactly("demo@example.test");
    assertThat(accounts.authenticate("demo@example.test", pw.get())).isPresent();
    assertThat(Files.readString(file)).doesNotContain(pw.get());

    assertThat(open().createDemoIfEmpty("example.test")).isEmpty();
    assertThat(open().addresses()).containsExactly("demo@example.test");
  }

  @Test
  void unparseableAccountsFileStopsTheLoadInsteadOfBeingOverwritten() throws IOException {
    Files.writeString(file, "{ not json");
    assertThatThrownBy(this::open).isInstanceOf(IOException.class).hasMessageContaining("accounts.json");
    assertThat(Files.readString(file)).isEqualTo("{ not json");

    Files.writeString(file, "{\"accounts\":[{\"address\":\"../x@example.test\",\"passwordHash\":\"x\"}]}");
    assertThatThrownBy(this::open).isInstanceOf(IOException.class);
  }

  @Test
  void accountsLoadedFromTheFileGetTheirMailboxes() throws IOException {
    open().seed(List.of(new AccountSeed("dave@example.test", "pw")));
    store = new InMemoryStore(); // e.g. the mail directory was lost or moved
    open();
    assertThat(store.exists(MailboxName.of("dave@example.test"))).isTrue();
  }
}
