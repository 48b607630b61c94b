package dev.mailserver.pop3;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxException;
import io.vertx.core.shareddata.AsyncMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The maildrop lease on its own, against the real local async map (wrapped to delay or fail gets). */
class MaildropLockTest {

  static final String BOX = "alice@example.test";

  static Vertx vertx;
  static Context ctx;
  ControlledMap map;

  @BeforeAll
  static void vertx() {
    vertx = Vertx.vertx();
    ctx = vertx.getOrCreateContext();
  }

  @AfterAll
  static void closeVertx() {
    vertx.close().await();
  }

  @BeforeEach
  void map() {
    map = new ControlledMap(MaildropLock.leases(vertx).await());
  }

  @AfterEach
  void clear() {
    map.delegate.clear().await();
  }

  @Test
  void acquireIsExclusiveAndReleaseRemovesOnlyOurOwnEntry() throws Exception {
    MaildropLock a = acquire(10_000);
    assertThat(a).isNotNull();
    assertThat(holder()).isEqualTo(a.token());
    assertThat(acquire(10_000)).isNull();
    await(onCtx(a::release));
    assertThat(holder()).isNull();
    assertThat(a.isReleased()).isTrue();
    MaildropLock c = acquire(10_000);
    assertThat(c).isNotNull();
    // A second release of the old lock must not free the maildrop for a third session.
    await(onCtx(a::release));
    assertThat(holder()).isEqualTo(c.token());
    await(onCtx(c::release));
  }

  @Test
  void tokensAreUniquePerSession() {
    assertThat(MaildropLock.newToken()).isNotEqualTo(MaildropLock.newToken());
  }

  @Test
  void renewalKeepsTheEntryPastItsTtlAndStopsOnRelease() throws Exception {
    MaildropLock a = acquire(300);
    Thread.sleep(1_000);           // more than three leases
    assertThat(holder()).isEqualTo(a.token());
    assertThat(a.isLost()).isFalse();
    await(onCtx(a::release));
    Thread.sleep(400);
    assertThat(holder()).isNull();
  }

  /** A renewal's put landing after the release's remove would lock the user out for a whole lease. */
  @Test
  void releaseDuringAnInFlightRenewalDoesNotResurrectTheEntry() throws Exception {
    MaildropLock a = acquire(600); // renewal at 200 ms, 400 ms, ...
    map.getDelayMs = 200;          // the first renewal's get answers at about 400 ms
    Thread.sleep(250);
    await(onCtx(a::release));
    Thread.sleep(250);             // past the point where a late put would have landed
    assertThat(holder()).isNull();
  }

  @Test
  void entryTakenByAnotherSessionIsLost() throws Exception {
    MaildropLock a = acquire(90);
    Promise<Void> lost = Promise.promise();
    ctx.runOnContext(v -> a.onLost(lost::tryComplete));
    map.delegate.put(BOX, "other-node#1", 5_000).await();
    await(lost.future());
    assertThat(a.isLost()).isTrue();
    await(onCtx(a::release));
    assertThat(holder()).isEqualTo("other-node#1");
  }

  @Test
  void vanishedEntryIsLost() throws Exception {
    MaildropLock a = acquire(90);
    Promise<Void> lost = Promise.promise();
    ctx.runOnContext(v -> a.onLost(lost::tryComplete));
    map.delegate.remove(BOX).await();
    await(lost.future());
    assertThat(a.isLost()).isTrue();
  }

  /** The map briefly unreachable: keep retrying while the lease may still be ours, then give it up. */
  @Test
  void renewalFailuresAreRetriedUntilTheLeaseWouldHaveEnded() throws Exception {
    MaildropLock a = acquire(600); // renewal every 200 ms
    Promise<Void> lost = Promise.promise();
    ctx.runOnContext(v -> a.onLost(lost::tryComplete));
    map.failGets = true;
    Thread.sleep(450);             // two failed renewals, lease not over yet
    assertThat(a.isLost()).isFalse();
    await(lost.future());          // at about 600-800 ms
    assertThat(a.isLost()).isTrue();
  }

  @Test
  void confirmChecksTheEntryAndFailsClosed() throws Exception {
    MaildropLock a = acquire(10_000);
    assertThat(await(onCtx(a::confirm))).isTrue();
    map.failGets = true;
    assertThat(await(onCtx(a::confirm))).isFalse(); // cannot know: do not delete
    map.failGets = false;
    assertThat(await(onCtx(a::confirm))).isTrue();
    map.delegate.put(BOX, "other-node#2", 5_000).await();
    assertThat(await(onCtx(a::confirm))).isFalse();
    assertThat(a.isLost()).isTrue();
    assertThat(holder()).isEqualTo("other-node#2");
  }

  /** confirm renews: an entry about to expire gets a whole lease again. */
  @Test
  void confirmRenewsTheLease() throws Exception {
    MaildropLock a = acquire(10_000);
    map.delegate.put(BOX, a.token(), 100).await();
    assertThat(await(onCtx(a::confirm))).isTrue();
    Thread.sleep(250);
    assertThat(holder()).isEqualTo(a.token());
    await(onCtx(a::release));
  }

  // --- helpers -------------------------------------------------------------------------------

  private MaildropLock acquire(long leaseMs) throws Exception {
    return await(onCtx(() -> MaildropLock.tryAcquire(vertx, map, BOX, leaseMs)));
  }

  private String holder() {
    return map.delegate.get(BOX).await();
  }

  private static <T> Future<T> onCtx(Supplier<Future<T>> action) {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(v -> action.get().onComplete(p));
    return p.future();
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** The real map, with gets whose answer can be delayed or that can be made to fail. */
  static final class ControlledMap implements AsyncMap<String, String> {
    final AsyncMap<String, String> delegate;
    volatile long getDelayMs;
    volatile boolean failGets;

    ControlledMap(AsyncMap<String, String> delegate) {
      this.delegate = delegate;
    }

    @Override
    public Future<String> get(String k) {
      if (failGets) {
        return Future.failedFuture(new VertxException("injected map failure", true));
      }
      long delay = getDelayMs;
      if (delay <= 0) {
        return delegate.get(k);
      }
      // Read now, answer later: the value may be stale by the time the caller sees it.
      Promise<String> p = Promise.promise();
      delegate.get(k).onComplete(ar -> vertx.setTimer(delay, id -> p.handle(ar)));
      return p.future();
    }

    @Override
    public Future<Void> put(String k, String v) {
      return delegate.put(k, v);
    }

    @Override
    public Future<Void> put(String k, String v, long ttl) {
      return delegate.put(k, v, ttl);
    }

    @Override
    public Future<String> putIfAbsent(String k, String v) {
      return delegate.putIfAbsent(k, v);
    }

    @Override
    public Future<String> putIfAbsent(String k, String v, long ttl) {
      return delegate.putIfAbsent(k, v, ttl);
    }

    @Override
    public Future<String> remove(String k) {
      return delegate.remove(k);
    }

    @Override
    public Future<Boolean> removeIfPresent(String k, String v) {
      return delegate.removeIfPresent(k, v);
    }

    @Override
    public Future<String> replace(String k, String v) {
      return delegate.replace(k, v);
    }

    @Override
    public Future<Boolean> replaceIfPresent(String k, String oldValue, String newValue) {
      return delegate.replaceIfPresent(k, oldValue, newValue);
    }

    @Override
    public Future<Void> clear() {
      return delegate.clear();
    }

    @Override
    public Future<Integer> size() {
      return delegate.size();
    }

    @Override
    public Future<Set<String>> keys() {
      return delegate.keys();
    }

    @Override
    public Future<List<String>> values() {
      return delegate.values();
    }

    @Override
    public Future<Map<String, String>> entries() {
      return delegate.entries();
    }
  }
}
