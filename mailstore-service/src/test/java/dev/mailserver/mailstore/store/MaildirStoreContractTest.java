package dev.mailserver.mailstore.store;

import java.nio.file.Path;

class MaildirStoreContractTest extends MailStoreContractTest {
  @Override
  MailStore newStore(Path dir) {
    return new MaildirStore(dir.resolve("mail"), "test.host");
  }
}
