package dev.mailserver.pop3;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The exclusive lock on one maildrop (RFC 1939 section 8: after authentication the server acquires
 * an exclusive-access lock on the maildrop; RFC 2449 section 8.1.2: a second session gets
 * {@code [IN-USE]}), held as a <em>lease</em>: an entry {@code mailbox -> token} with a TTL in the
 * async map {@value #MAP_NAME}. That map is cluster-wide under Hazelcast and local in embedded mode,
 * and both honour TTLs, so two nodes never serve the same maildrop at once, and a lock whose holder
 * died (crashed JVM, partitioned node) frees itself after at most one lease period instead of
 * staying held until the cluster evicts the member.
 *
 * <p>Life cycle, all on the event loop of the session that acquired it:
 * <ul>
 *   <li>{@link #tryAcquire}: {@code putIfAbsent(mailbox, token, leaseMs)}, once, no waiting.</li>
 *   <li>Renewal every {@code leaseMs / 3}: {@code get(mailbox)}; if it is still our token,
 *       {@code put(mailbox, token, leaseMs)}. (vertx-hazelcast does not implement the atomic
 *       {@code replaceIfPresent(k, old, new, ttl)}, hence get-then-put.) If the entry is gone or
 *       holds another token, the lease is <em>lost</em>: the lost handler closes the session without
 *       UPDATE, because another session may own the maildrop by now.</li>
 *   <li>{@link #release()}: {@code removeIfPresent(mailbox, token)}, exactly once however many of
 *       QUIT, disconnect, idle timeout, lease loss and server stop race to call it. Removing only our
 *       own token means a late release can never free a lease someone else holds.</li>
 * </ul>
 *
 * <p>The race get-then-put leaves open: if our entry expires between the {@code get} and the
 * {@code put} and another session takes the maildrop in that gap, our {@code put} overwrites its
 * entry. Renewing at a third of the lease means the entry still has two thirds of its lease (20 s
 * with the default 30 s) when we read it, so this needs a get-to-put delay of that order. Even then
 * it heals: the other session's next renewal sees our token and closes that session without UPDATE.
 * Before UPDATE deletes anything, {@link #confirm()} re-checks and renews (RFC 1939 section 6: only
 * the holder of the lock may apply deletions), which also gives the deletion a full lease of margin.
 */
public final class MaildropLock {

  private static final Logger log = LoggerFactory.getLogger(MaildropLock.class);

  /** The async map holding the leases: mailbox -> token of the holding session. */
  public static final String MAP_NAME = "pop3.maildrop.locks";

  /** Identifies this JVM among the cluster's nodes, so tokens never collide across nodes. */
  private static final String NODE = UUID.randomUUID().toString();
  private static final AtomicLong COUNTER = new AtomicLong();

  private final Vertx vertx;
  private final AsyncMap<String, String> map;
  private final String mailbox;
  private final String token;
  private final long leaseMs;
  private final AtomicBoolean released = new AtomicBoolean();
  private final Promise<Void> releaseDone = Promise.promise();
  private volatile boolean lost;
  private long timerId = -1;
  /** The last map operation on our entry (renewal or confirmation); release waits for it. */
  private Future<?> pending = Future.succeededFuture();
  private boolean renewing;
  /** Conservative end of the lease: the issue time of the last successful put plus the lease. */
  private long validUntilNanos;
  private Runnable lostHandler = () -> { };

  private MaildropLock(Vertx vertx, AsyncMap<String, String> map, String mailbox, String token, long leaseMs,
                       long issuedNanos) {
    this.vertx = vertx;
    this.map = map;
    this.mailbox = mailbox;
    this.token = token;
    this.leaseMs = leaseMs;
    this.validUntilNanos = issuedNanos + TimeUnit.MILLISECONDS.toNanos(leaseMs);
  }

  /** A token unique per session across the cluster: this node's random id and a counter. */
  static String newToken() {
    return NODE + "#" + COUNTER.incrementAndGet();
  }

  /** The lease map of this Vert.x instance (cluster-wide when clustered). */
  static Future<AsyncMap<String, String>> leases(Vertx vertx) {
    return vertx.sharedData().getAsyncMap(MAP_NAME);
  }

  /**
   * Tries once to take the lease on {@code mailbox} and starts renewing it. Succeeds with null when
   * another session holds it ([IN-USE]: a lease held by a live session will not come free soon, so
   * there is no point waiting); fails when the map itself is unavailable. Call it on the session's
   * event loop: the renewal timer runs there.
   */
  public static Future<MaildropLock> tryAcquire(Vertx vertx, String mailbox, long leaseMs) {
    return leases(vertx).compose(map -> tryAcquire(vertx, map, mailbox, leaseMs));
  }

  /** With a given lease map: tests wrap the real one to delay or fail its operations. */
  static Future<MaildropLock> tryAcquire(Vertx vertx, AsyncMap<String, String> map, String mailbox, long leaseMs) {
    if (leaseMs < 3) {
      throw new IllegalArgumentException("leaseMs must be at least 3, got " + leaseMs);
    }
    String token = newToken();
    long issued = System.nanoTime();
    return map.putIfAbsent(mailbox, token, leaseMs).map(existing -> {
      if (existing != null) {
        log.debug("POP3 maildrop {} is leased by {}", mailbox, existing);
        return null;
      }
      MaildropLock lock = new MaildropLock(vertx, map, mailbox, token, leaseMs, issued);
      lock.startRenewing();
      return lock;
    });
  }

  public String mailbox() {
    return mailbox;
  }

  String token() {
    return token;
  }

  /** Called once, on the session's event loop, when renewal finds the lease gone or taken. */
  public void onLost(Runnable handler) {
    this.lostHandler = handler == null ? () -> { } : handler;
  }

  private void startRenewing() {
    timerId = vertx.setPeriodic(Math.max(1, leaseMs / 3), id -> renew());
  }

  private void renew() {
    if (released.get() || lost || renewing) {
      // A renewal still in flight (slow cluster): do not pile up requests.
      return;
    }
    renewing = true;
    pending = check().onComplete(ar -> {
      renewing = false;
      if (ar.failed()) {
        // The map could not be asked (cluster trouble). The entry may still be ours: retry at the
        // next tick until the lease would have run out by itself, then give up on it.
        if (System.nanoTime() - validUntilNanos >= 0) {
          markLost("renewal failed past the lease end: " + ar.cause());
        } else {
          log.warn("POP3 maildrop {} lease renewal failed, retrying: {}", mailbox, ar.cause().toString());
        }
      } else if (!ar.result()) {
        markLost("the lease entry is gone or belongs to another session");
      }
    });
  }

  /**
   * get, and if the entry is still our token, put it again with a fresh TTL. Succeeds with false
   * when the lease is lost (or released meanwhile), fails when the map cannot be asked.
   */
  private Future<Boolean> check() {
    long issued = System.nanoTime();
    return map.get(mailbox).compose(current -> {
      if (released.get()) {
        // Released while the get was in flight: a put now would resurrect the entry.
        return Future.succeededFuture(false);
      }
      if (!token.equals(current)) {
        return Future.succeededFuture(false);
      }
      return map.put(mailbox, token, leaseMs).map(v -> {
        validUntilNanos = issued + TimeUnit.MILLISECONDS.toNanos(leaseMs);
        return true;
      });
    });
  }

  /**
   * Before UPDATE applies deletions: true only if the map still holds our token, in which case the
   * lease is also renewed, so the deletion has a whole lease of margin. A map failure counts as not
   * held: deleting without knowing we own the maildrop could delete under another session's feet.
   */
  public Future<Boolean> confirm() {
    if (released.get() || lost) {
      return Future.succeededFuture(false);
    }
    Future<Boolean> confirmed = pending.transform(ignored -> check())
        .map(held -> {
          if (!held && !released.get()) {
            lost = true;
            cancelTimer();
            log.warn("POP3 maildrop {} lease lost before UPDATE: no messages deleted", mailbox);
          }
          return held;
        })
        .otherwise(t -> {
          log.warn("POP3 maildrop {} lease could not be confirmed before UPDATE: {}", mailbox, t.toString());
          return false;
        });
    pending = confirmed;
    return confirmed;
  }

  private void markLost(String why) {
    if (lost || released.get()) {
      return;
    }
    lost = true;
    cancelTimer();
    log.warn("POP3 maildrop {} lease lost ({}): closing the session without UPDATE", mailbox, why);
    lostHandler.run();
  }

  /**
   * Stops renewing and removes our entry the first time; later calls return the same future. The
   * future completes (never fails) once the entry is removed, or once removing it failed, in which
   * case the TTL frees it within one lease.
   */
  public Future<Void> release() {
    if (released.compareAndSet(false, true)) {
      cancelTimer();
      // Wait for an in-flight renewal: its put must not land after our remove.
      pending.transform(ignored -> map.removeIfPresent(mailbox, token))
          .onComplete(ar -> {
            if (ar.failed()) {
              log.warn("POP3 maildrop {} lease release failed, it expires within {} ms: {}", mailbox, leaseMs,
                  ar.cause().toString());
            }
            releaseDone.tryComplete();
          });
    }
    return releaseDone.future();
  }

  /** Completes when {@link #release()} has finished (it never completes if release is never called). */
  public Future<Void> whenReleased() {
    return releaseDone.future();
  }

  public boolean isReleased() {
    return released.get();
  }

  /** True once renewal or confirmation found the entry gone or owned by another session. */
  public boolean isLost() {
    return lost;
  }

  private void cancelTimer() {
    if (timerId >= 0) {
      vertx.cancelTimer(timerId);
      timerId = -1;
    }
  }
}
