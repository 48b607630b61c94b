package dev.mailserver.mailstore.store;

import java.nio.file.Path;

/** The whole store contract again, with deliveries group-committed through the delivery log. */
class LoggedMaildirStoreContractTest extends MailStoreContractTest {
  @Override
  MailStore newStore(Path dir) {
    return new MaildirStore(dir.resolve("mail"), "test.host", Durability.Observer.NONE, dir.resolve("deliverylog"));
  }
}
