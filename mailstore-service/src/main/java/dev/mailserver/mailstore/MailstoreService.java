package dev.mailserver.mailstore;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.store.DeleteResult;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import dev.mailserver.mailstore.store.MessageText;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailstore's operations as Futures, shared by the bus and HTTP adapters: input validation,
 * account checks, moving blocking work off the event loop, and the new-mail event after a commit.
 * Store I/O and password hashing run on separate worker pools so a burst of logins cannot starve
 * deliveries (and the other way round).
 */
public final class MailstoreService {
  private static final Logger log = LoggerFactory.getLogger(MailstoreService.class);

  private final Vertx vertx;
  private final MailStore store;
  private final Accounts accounts;
  private final WorkerExecutor io;
  private final WorkerExecutor auth;

  public MailstoreService(Vertx vertx, MailStore store, Accounts accounts, WorkerExecutor io, WorkerExecutor auth) {
    this.vertx = vertx;
    this.store = store;
    this.accounts = accounts;
    this.io = io;
    this.auth = auth;
  }

  public MailStore store() {
    return store;
  }

  /**
   * Stores the message for every recipient; the future completes after every copy is durable.
   * Deliveries run unordered so concurrent ones proceed in parallel.
   */
  public Future<DeliverResult> deliver(DeliverRequest req) {
    List<MailboxName> recipients;
    try {
      if (req.recipients().isEmpty()) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, "no recipients");
      }
      recipients = new ArrayList<>();
      for (String r : req.recipients()) {
        recipients.add(MailboxName.of(r));
      }
      MessageText.returnPath(req.sender()); // reject a bad sender before going to a worker
    } catch (MailstoreException e) {
      return Future.failedFuture(e);
    }
    return accountsFresh().compose(v -> {
      for (MailboxName m : recipients) {
        if (!accounts.exists(m.address())) {
          return Future.<DeliverResult>failedFuture(new MailstoreException(MailstoreError.MAILBOX_NOT_FOUND, m.address()));
        }
      }
      record Done(List<DeliverResult.Stored> stored, String subject) {}
      return this.<Done>blocking(io, () -> new Done(store.deliver(req.sender(), recipients, req.content()),
              MessageText.subject(req.content())), false)
          .map(done -> {
            publishNew(req, done.stored(), done.subject());
            return new DeliverResult(req.deliveryId(), done.stored());
          });
    });
  }

  /** One event per stored copy, published only after the copies are on disk. */
  private void publishNew(DeliverRequest req, List<DeliverResult.Stored> stored, String subject) {
    long now = System.currentTimeMillis();
    for (DeliverResult.Stored s : stored) {
      MailEvent ev = new MailEvent(UUID.randomUUID().toString(), MailEvent.TYPE_NEW, s.mailbox(), s.messageId(),
          req.sender(), subject, s.size(), now, req.deliveryId());
      vertx.eventBus().publish(Addresses.EVENTS_NEW, ev.toJson());
    }
  }

  public Future<List<MessageInfo>> list(String mailbox) {
    return mailbox(mailbox).compose(m -> blocking(io, () -> store.list(m), false));
  }

  /** The stored bytes, or with {@code bodyLines} the header section plus that many body lines. */
  public Future<Buffer> fetch(String mailbox, String id, Integer bodyLines) {
    if (bodyLines != null && bodyLines < 0) {
      return Future.failedFuture(new MailstoreException(MailstoreError.INVALID_REQUEST, "bodyLines must be >= 0"));
    }
    return mailbox(mailbox).compose(m -> blocking(io,
        () -> bodyLines == null ? store.fetch(m, id) : store.fetchTop(m, id, bodyLines), false));
  }

  public Future<DeleteResult> delete(String mailbox, Collection<String> ids) {
    return mailbox(mailbox).compose(m -> blocking(io, () -> store.delete(m, ids), false));
  }

  /**
   * The canonical address, or AUTH_FAILED for unknown accounts and wrong passwords alike. The
   * account table is brought up to date on the auth worker first (see {@link Accounts#authenticate}).
   */
  public Future<String> authenticate(String address, String password) {
    return blocking(auth, () -> accounts.authenticate(address, password), false)
        .compose(r -> r.map(Future::succeededFuture)
            .orElseGet(() -> Future.failedFuture(new MailstoreException(MailstoreError.AUTH_FAILED, "invalid credentials"))));
  }

  /**
   * Whether the account exists, from the in-memory table once it is no more than about a second
   * behind {@code accounts.json} (another instance may have created the account). INVALID_REQUEST
   * if it is not a mailbox address.
   */
  public Future<Boolean> exists(String address) {
    String canonical;
    try {
      canonical = MailboxName.of(address).address();
    } catch (MailstoreException e) {
      return Future.failedFuture(e);
    }
    return accountsFresh().compose(v -> {
      if (accounts.exists(canonical)) {
        return Future.succeededFuture(true);
      }
      // A miss is answered with a permanent 550 by SMTP: before saying no, look at the file once
      // more (one stat) so an account another instance created a moment ago is not refused.
      return io.executeBlocking(() -> {
        accounts.refresh();
        return accounts.exists(canonical);
      }, false);
    });
  }

  /**
   * Completes when the account table reflects changes to {@code accounts.json} made by other
   * instances up to about a check interval ago. In between checks this is immediate; when a check
   * is due it is one stat (and a read if the file changed) on a worker, never on the event loop.
   * A failed check is logged by {@link Accounts#refresh()} and the loaded table is used.
   */
  private Future<Void> accountsFresh() {
    if (!accounts.checkDue()) {
      return Future.succeededFuture();
    }
    return io.<Void>executeBlocking(() -> {
      accounts.refreshIfDue();
      return null;
    }, false).otherwiseEmpty();
  }

  private static Future<MailboxName> mailbox(String address) {
    try {
      return Future.succeededFuture(MailboxName.of(address));
    } catch (MailstoreException e) {
      return Future.failedFuture(e);
    }
  }

  /** Runs blocking work; anything that is not a MailstoreException becomes INTERNAL. */
  private <T> Future<T> blocking(WorkerExecutor pool, Callable<T> work, boolean ordered) {
    return pool.<T>executeBlocking(work, ordered).recover(t -> {
      if (t instanceof MailstoreException) {
        return Future.failedFuture(t);
      }
      log.error("Unexpected failure in the mailstore", t);
      return Future.failedFuture(new MailstoreException(MailstoreError.INTERNAL, String.valueOf(t)));
    });
  }
}
