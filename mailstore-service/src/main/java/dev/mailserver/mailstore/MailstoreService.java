package dev.mailserver.mailstore;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.DeliverRequest;
import dev.mailserver.common.model.DeliverResult;
import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.accounts.CredentialCache;
import dev.mailserver.mailstore.journal.EventJournal;
import dev.mailserver.mailstore.journal.InMemoryEventJournal;
import dev.mailserver.mailstore.store.DeleteResult;
import dev.mailserver.mailstore.store.MailStore;
import dev.mailserver.mailstore.store.MailboxName;
import dev.mailserver.mailstore.store.MessageText;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailstore's operations as Futures, shared by the bus and HTTP adapters: input validation,
 * account checks, moving blocking work off the event loop, and the events of every change: each
 * delivery and deletion is first committed in the store, then appended to the {@link EventJournal}
 * (durably), then published on the bus, so a consumer can always ask for an id it has seen.
 * Store I/O and password hashing run on separate worker pools so a burst of logins cannot starve
 * deliveries (and the other way round).
 */
public final class MailstoreService {
  private static final Logger log = LoggerFactory.getLogger(MailstoreService.class);

  /** The most events one {@link #eventsSince} answers; larger limits are capped to it. */
  public static final int MAX_EVENTS_LIMIT = 10_000;

  private final Vertx vertx;
  private final MailStore store;
  private final Accounts accounts;
  private final WorkerExecutor io;
  private final WorkerExecutor auth;
  private final EventJournal journal;
  /** Journal reads ({@link #eventsSince}); separate so that catching-up consumers cannot starve deliveries. */
  private final WorkerExecutor events;
  private final MailstoreMetrics metrics;
  /**
   * Writes the copies of deliveries (the blocking part; the flush is the store's committer's). No
   * thread waits for a flush here, so a few threads keep up with many concurrent deliveries.
   */
  private final ExecutorService writers = Executors.newFixedThreadPool(WRITER_THREADS, r -> {
    Thread t = new Thread(r, "mailstore-deliver");
    t.setDaemon(true);
    return t;
  });
  static final int WRITER_THREADS = 8;

  /** Journals the new-mail events of concurrent deliveries as groups, beside the store's flush. */
  private final BatchingAppender journalAppends = new BatchingAppender("mailstore-journal-append", this::journal);

  /** With a volatile in-memory journal (tests). */
  public MailstoreService(Vertx vertx, MailStore store, Accounts accounts, WorkerExecutor io, WorkerExecutor auth) {
    this(vertx, store, accounts, new InMemoryEventJournal(), io, auth, io);
  }

  /**
   * @param journal where every change is recorded before its event is published
   * @param events  the pool for journal reads
   */
  public MailstoreService(Vertx vertx, MailStore store, Accounts accounts, EventJournal journal, WorkerExecutor io,
                          WorkerExecutor auth, WorkerExecutor events) {
    this(vertx, store, accounts, journal, io, auth, events, MailstoreMetrics.detached());
  }

  /** @param metrics where deliveries, deletions, fetches, journal appends and password checks are counted */
  public MailstoreService(Vertx vertx, MailStore store, Accounts accounts, EventJournal journal, WorkerExecutor io,
                          WorkerExecutor auth, WorkerExecutor events, MailstoreMetrics metrics) {
    this.metrics = metrics;
    this.vertx = vertx;
    this.store = store;
    this.accounts = accounts;
    this.journal = journal;
    this.io = io;
    this.auth = auth;
    this.events = events;
  }

  public EventJournal journal() {
    return journal;
  }

  public MailStore store() {
    return store;
  }

  /**
   * Stores the message for every recipient; the future completes after every copy is durable.
   * Deliveries run unordered so concurrent ones proceed in parallel.
   */
  public Future<DeliverResult> deliver(DeliverRequest req) {
    return store(req).andThen(ar -> {
      if (ar.succeeded()) {
        long total = 0;
        for (DeliverResult.Stored s : ar.result().stored()) {
          total += s.size();
        }
        metrics.delivered(ar.result().stored().size(), total);
      } else {
        metrics.deliveryFailed();
      }
    });
  }

  private Future<DeliverResult> store(DeliverRequest req) {
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
      record Done(List<DeliverResult.Stored> stored, List<MailEvent> events) {}
      // Not bound to a context: it completes on the thread that made the copies durable (the
      // delivery log's committer, or the journal's), and the reply leaves from there, sparing a
      // hop through this verticle's event loop for every delivery.
      Promise<Done> done = Promise.promise();
      Runnable write = () -> {
        long start = System.nanoTime();
        String subject = MessageText.subject(req.content());
        // The events are journaled on another thread while the store waits for its flush, so
        // the 250 waits for one fsync's time instead of two in a row.
        AtomicReference<CompletableFuture<List<MailEvent>>> journaling = new AtomicReference<>();
        CompletableFuture<List<DeliverResult.Stored>> durable;
        try {
          durable = store.deliverAsync(req.sender(), recipients, req.content(),
              names -> journaling.set(journalAppends.submit(newEvents(req, names, subject))));
        } catch (RuntimeException e) {
          durable = CompletableFuture.failedFuture(e);
        }
        durable.whenComplete((stored, failed) -> {
          metrics.deliveryWritten(System.nanoTime() - start);
          CompletableFuture<List<MailEvent>> journaled = journaling.get();
          if (failed != null) {
            Throwable cause = mapped(failed instanceof CompletionException c ? c.getCause() : failed);
            if (journaled == null) {
              done.fail(cause);
              return;
            }
            // Answered only once the retraction is journaled: whoever hears of the failure and
            // then reads the journal finds the events already taken back.
            journaled.thenAccept(events -> {
              retract(events);
              done.fail(cause);
            });
            return;
          }
          if (journaled == null) {
            // A store that never named its copies: journal them now, after the fact.
            done.complete(new Done(stored, journal(newEvents(req, stored, subject))));
            return;
          }
          journaled.thenAccept(events -> done.complete(new Done(stored, events)));
        });
      };
      // A plain pool, not executeBlocking: nothing waits for the task itself (the promise above
      // carries the outcome), so its completion need not wake this verticle's event loop.
      try {
        writers.execute(() -> {
          try {
            write.run();
          } catch (RuntimeException | Error e) {
            done.tryFail(mapped(e));
          }
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        done.tryFail(new MailstoreException(MailstoreError.STORAGE_FAILURE, "mailstore is stopping"));
      }
      return done.future().map(d -> {
        publish(Addresses.EVENTS_NEW, d.events());
        return new DeliverResult(req.deliveryId(), d.stored());
      });
    });
  }

  /** One message.new event per stored copy, without ids yet. */
  private static List<MailEvent> newEvents(DeliverRequest req, List<DeliverResult.Stored> stored, String subject) {
    long now = System.currentTimeMillis();
    List<MailEvent> list = new ArrayList<>();
    for (DeliverResult.Stored s : stored) {
      list.add(new MailEvent("", MailEvent.TYPE_NEW, s.mailbox(), s.messageId(), req.sender(), subject, s.size(), now,
          req.deliveryId()));
    }
    return list;
  }

  /** Appends what is queued for the journal and stops its thread. */
  public void close() {
    writers.shutdown();
    try {
      writers.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    journalAppends.close();
  }

  /**
   * The delivery failed after its events were journaled (never published): a message.deleted for
   * each, so a consumer replaying the journal is not left asking for a message that never was.
   */
  private void retract(List<MailEvent> journaled) {
    long now = System.currentTimeMillis();
    List<MailEvent> deleted = new ArrayList<>();
    for (MailEvent ev : journaled) {
      if (!ev.eventId().isEmpty()) {
        deleted.add(new MailEvent("", MailEvent.TYPE_DELETED, ev.mailbox(), ev.messageId(), "", "", ev.size(), now, ""));
      }
    }
    journal(deleted);
  }

  /**
   * Appends the events of a change that is already durable in the store and returns them with
   * their ids. The change stands whatever happens here: if the journal cannot be written, the
   * failure is logged as an ERROR and the events are returned with an empty {@code eventId} -
   * published like that, live consumers still learn of the change, but nobody can ask for it
   * again and SSE sends it without an {@code id:} (so a client's Last-Event-ID is not disturbed).
   * Failing the operation instead would make SMTP retry a delivery that is already stored
   * (duplicate mail) or POP3 report a deletion that happened as failed.
   */
  private List<MailEvent> journal(List<MailEvent> list) {
    if (list.isEmpty()) {
      return list;
    }
    try {
      List<MailEvent> appended = journal.appendAll(list);
      metrics.journaled(appended.size());
      return appended;
    } catch (RuntimeException e) {
      log.error("EVENT JOURNAL APPEND FAILED after the change was stored; the change stands, its {} event(s) are published "
          + "without an id and cannot be replayed: {}", list.size(), list, e);
      return list;
    }
  }

  /** Publishes in id order; after the journal append, so any id seen can be asked for again. */
  private void publish(String address, List<MailEvent> list) {
    for (MailEvent ev : list) {
      vertx.eventBus().publish(address, ev.toJson());
    }
  }

  /**
   * Journaled events after {@code afterId} ("" for the oldest retained), oldest first. INVALID_REQUEST
   * for an id that is not a decimal number, a bad mailbox or a limit below 1; the limit is capped
   * at {@link #MAX_EVENTS_LIMIT}.
   */
  public Future<EventPage> eventsSince(String afterId, String mailbox, int limit) {
    long after;
    String canonical;
    try {
      try {
        after = EventJournal.parseId(afterId);
      } catch (IllegalArgumentException e) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, e.getMessage());
      }
      canonical = mailbox == null ? null : MailboxName.of(mailbox).address();
      if (limit < 1) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, "limit must be at least 1");
      }
    } catch (MailstoreException e) {
      return Future.failedFuture(e);
    }
    int capped = Math.min(limit, MAX_EVENTS_LIMIT);
    return blocking(events, () -> journal.scan(after, canonical, capped).page(), false);
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
        () -> bodyLines == null ? store.fetch(m, id) : store.fetchTop(m, id, bodyLines), false))
        .andThen(ar -> {
          if (ar.succeeded()) {
            metrics.fetched();
          }
        });
  }

  /**
   * The stored bytes {@code [offset, min(offset + length, size))} (empty at or past the end);
   * INVALID_REQUEST for negative values or a length above 8 MiB (see {@link MailStore#checkRange}).
   * A message read in ranges counts once in the fetch meter: at its range from offset 0.
   */
  public Future<Buffer> fetchRange(String mailbox, String id, long offset, int length) {
    try {
      MailStore.checkRange(offset, length);
    } catch (MailstoreException e) {
      return Future.failedFuture(e);
    }
    return mailbox(mailbox).compose(m -> blocking(io, () -> store.fetchRange(m, id, offset, length), false))
        .andThen(ar -> {
          if (ar.succeeded() && offset == 0) {
            metrics.fetched();
          }
        });
  }

  /** Removes messages, then journals and publishes one message.deleted event per message removed. */
  public Future<DeleteResult> delete(String mailbox, Collection<String> ids) {
    record Done(DeleteResult result, List<MailEvent> events) {}
    return mailbox(mailbox).compose(m -> this.<Done>blocking(io, () -> {
          DeleteResult r = store.delete(m, ids);
          metrics.deleted(r.deleted());
          return new Done(r, journalDeleted(m, ids, r));
        }, false))
        .map(done -> {
          publish(Addresses.EVENTS_DELETED, done.events());
          return done.result();
        });
  }

  /**
   * The removed ids are those asked for minus those reported missing. The size comes from the
   * Maildir name ({@code ,S=<size>}) when it has one, else 0; sender, subject and delivery id are
   * not known any more and are empty.
   */
  private List<MailEvent> journalDeleted(MailboxName m, Collection<String> ids, DeleteResult r) {
    long now = System.currentTimeMillis();
    Set<String> removed = new LinkedHashSet<>(ids);
    r.missing().forEach(removed::remove);
    List<MailEvent> list = new ArrayList<>();
    for (String id : removed) {
      list.add(new MailEvent("", MailEvent.TYPE_DELETED, m.address(), id, "", "", sizeFromId(id), now, ""));
    }
    return journal(list);
  }

  /** The {@code S=} size of a Maildir name ({@code ...,S=1234[,...][:2,flags]}), or 0. */
  static long sizeFromId(String id) {
    int i = id.indexOf(",S=");
    if (i < 0) {
      return 0;
    }
    long v = 0;
    int digits = 0;
    for (int j = i + 3; j < id.length() && Character.isDigit(id.charAt(j)) && digits < 18; j++, digits++) {
      v = v * 10 + (id.charAt(j) - '0');
    }
    return v;
  }

  /** Verified logins of the bus (POP3, SMTP AUTH) and of HTTP Basic alike; successes only. */
  private final CredentialCache credentials =
      new CredentialCache(CredentialCache.DEFAULT_TTL, CredentialCache.DEFAULT_MAX_ENTRIES);

  /**
   * The canonical address, or AUTH_FAILED for unknown accounts and wrong passwords alike. The
   * account table is brought up to date on the auth worker first (see {@link Accounts#authenticate}).
   * Credentials verified in the last minute are answered from {@link CredentialCache} without a
   * bcrypt, as long as the account still has the password hash they were verified against (so a
   * change by another instance counts once the table is refreshed, about a second). Failures are
   * never cached; throttling is the callers' (POP3, SMTP, HTTP) and happens before this.
   */
  public Future<String> authenticate(String address, String password) {
    if (address == null || password == null) {
      return authenticateSlowly(address, password);
    }
    return accountsFresh().compose(v -> {
      String cached = verifiedRecently(address, password);
      return cached != null ? Future.succeededFuture(cached) : authenticateSlowly(address, password);
    });
  }

  private Future<String> authenticateSlowly(String address, String password) {
    long epoch = credentials.epoch();
    record Checked(Optional<String> canonical, String hash) {}
    return blocking(auth, () -> {
          accounts.refreshIfDue();
          // The hash before and after the check: cache only what was verified against the hash
          // the account still has (a refresh in between may have brought a new one).
          String before = address == null || !MailboxName.isValid(address) ? null : passwordHash(MailboxName.of(address).address());
          Optional<String> r = accounts.authenticate(address, password);
          String after = r.map(this::passwordHash).orElse(null);
          return new Checked(r, before != null && before.equals(after) ? after : null);
        }, false)
        .andThen(ar -> {
          if (ar.succeeded()) {
            metrics.authenticated(ar.result().canonical().isPresent());
          }
        })
        .compose(c -> {
          if (c.canonical().isEmpty()) {
            return Future.failedFuture(new MailstoreException(MailstoreError.AUTH_FAILED, "invalid credentials"));
          }
          if (c.hash() != null && password != null) {
            credentials.put(address, password, c.canonical().get(), c.hash(), epoch);
          }
          return Future.succeededFuture(c.canonical().get());
        });
  }

  /**
   * The canonical address if these credentials were verified recently and the account still has
   * that password hash, else null; from memory, for the event loop. HTTP asks this before its
   * throttle, so a verified owner is not held up by failures of others from the same address.
   */
  public String verifiedRecently(String address, String password) {
    return address == null || password == null ? null : credentials.get(address, password, this::passwordHash);
  }

  private String passwordHash(String canonical) {
    return accounts.get(canonical).map(Accounts.Account::passwordHash).orElse(null);
  }

  /** The login cache (tests). */
  public CredentialCache credentials() {
    return credentials;
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

  // ---------------------------------------------------------------- account administration (HTTP admin API)

  /** Every account, in address order, from the table at most about a second behind {@code accounts.json}. */
  public Future<List<Accounts.Account>> accounts() {
    return accountsFresh().map(v -> accounts.addresses().stream().sorted()
        .map(accounts::get).flatMap(java.util.Optional::stream).toList());
  }

  /**
   * Creates an account and its mailbox through the accounts file's locked update, so SMTP and POP3
   * (here or in another instance sharing the data directory) see it at once. False if it exists.
   */
  public Future<Boolean> createAccount(String address, String password) {
    return mailbox(address).compose(m -> blocking(auth, () -> {
      try {
        accounts.create(m.address(), password);
        credentials.invalidate(m.address()); // entries of an account of that name deleted elsewhere
        return true;
      } catch (IllegalStateException exists) {
        return false;
      } catch (IllegalArgumentException e) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, e.getMessage());
      } catch (java.io.IOException e) {
        throw new MailstoreException(MailstoreError.STORAGE_FAILURE, "cannot update accounts: " + e.getMessage());
      }
    }, false));
  }

  /** Removes the account only (not its mail: see {@link #delete}). False if there was none. */
  public Future<Boolean> deleteAccount(String address) {
    return mailbox(address).compose(m -> blocking(io, () -> {
      try {
        boolean deleted = accounts.delete(m.address());
        credentials.invalidate(m.address()); // its password stops working here at once
        return deleted;
      } catch (java.io.IOException e) {
        throw new MailstoreException(MailstoreError.STORAGE_FAILURE, "cannot update accounts: " + e.getMessage());
      }
    }, false));
  }

  /** Sets a new password (hashed on the auth pool). False if there is no such account. */
  public Future<Boolean> changePassword(String address, String password) {
    return mailbox(address).compose(m -> blocking(auth, () -> {
      try {
        boolean changed = accounts.changePassword(m.address(), password);
        credentials.invalidate(m.address()); // the old password stops working here at once
        return changed;
      } catch (IllegalArgumentException e) {
        throw new MailstoreException(MailstoreError.INVALID_REQUEST, e.getMessage());
      } catch (java.io.IOException e) {
        throw new MailstoreException(MailstoreError.STORAGE_FAILURE, "cannot update accounts: " + e.getMessage());
      }
    }, false));
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

  /** A MailstoreException as it is; anything else is a bug on our side: logged, INTERNAL. */
  private static Throwable mapped(Throwable t) {
    if (t instanceof MailstoreException) {
      return t;
    }
    log.error("Unexpected failure in the mailstore", t);
    return new MailstoreException(MailstoreError.INTERNAL, String.valueOf(t));
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
