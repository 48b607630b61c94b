package dev.mailserver.mailstore.store;

import java.nio.file.Path;

class InMemoryStoreContractTest extends MailStoreContractTest {
  @Override
  MailStore newStore(Path dir) {
    return new InMemoryStore();
  }
}
