package dev.mailserver.mailstore.store;

import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MessageInfo;
import io.vertx.core.buffer.Buffer;
import java.util.Collection;
import java.util.List;

/**
 * A store that forwards every abstract operation to another, for tests that change one of them
 * (a failing flush, a disk that goes down). The default methods are not forwarded, so a delivery
 * through {@code deliverAsync} still passes through this store's {@link #deliver(String, List, Buffer)}.
 */
public class ForwardingStore implements MailStore {
  protected final MailStore delegate;

  public ForwardingStore(MailStore delegate) {
    this.delegate = delegate;
  }

  @Override
  public void createMailbox(MailboxName mailbox) {
    delegate.createMailbox(mailbox);
  }

  @Override
  public boolean exists(MailboxName mailbox) {
    return delegate.exists(mailbox);
  }

  @Override
  public List<DeliverResult.Stored> deliver(String sender, List<MailboxName> recipients, Buffer content) {
    return delegate.deliver(sender, recipients, content);
  }

  @Override
  public List<MessageInfo> list(MailboxName mailbox) {
    return delegate.list(mailbox);
  }

  @Override
  public Buffer fetch(MailboxName mailbox, String id) {
    return delegate.fetch(mailbox, id);
  }

  @Override
  public Buffer fetchTop(MailboxName mailbox, String id, int bodyLines) {
    return delegate.fetchTop(mailbox, id, bodyLines);
  }

  @Override
  public DeleteResult delete(MailboxName mailbox, Collection<String> ids) {
    return delegate.delete(mailbox, ids);
  }
}
