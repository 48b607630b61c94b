package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.MailstoreService;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code GET /api/v1/mailboxes/{address}/messages/next}: long-polls until a new message matching
 * {@code subject}/{@code from}/{@code to}/{@code text} (as in search) arrives, then answers 200 with
 * its listing item; 204 when {@code timeout} seconds (default 30, at most 120, decimals allowed)
 * pass first.
 *
 * <p>"New" means received at or after the request started: a match already in the mailbox does
 * not count, unless {@code since} (ISO-8601, as in search) is given, in which case messages
 * received since then count too and the oldest such match is answered at once. No thread is held:
 * a waiter is a timer plus an entry in a map fed by one shared {@link Addresses#EVENTS_NEW}
 * consumer (registered on first use; a per-request consumer would cost a cluster-wide
 * registration each time). After the consumer is registered the mailbox is listed once, so a
 * message that arrived while registering is not missed.
 */
final class WaitApi {

  static final double DEFAULT_TIMEOUT_S = 30;
  static final double MAX_TIMEOUT_S = 120;

  private final Vertx vertx;
  private final MailstoreService service;
  private final MessageIndex index;
  private final Map<String, Set<Waiter>> waiters = new ConcurrentHashMap<>();
  private Future<Void> registration;

  WaitApi(Vertx vertx, MailstoreService service, MessageIndex index) {
    this.vertx = vertx;
    this.service = service;
    this.index = index;
  }

  int waiting() {
    return waiters.values().stream().mapToInt(Set::size).sum();
  }

  private synchronized Future<Void> consumer() {
    if (registration == null) {
      MessageConsumer<JsonObject> c = vertx.eventBus().consumer(Addresses.EVENTS_NEW, this::onEvent);
      Future<Void> f = c.completion();
      registration = f;
      f.onFailure(t -> {
        synchronized (this) {
          registration = null; // try again with the next waiter
        }
      });
    }
    return registration;
  }

  private void onEvent(Message<JsonObject> m) {
    MailEvent ev;
    try {
      ev = MailEvent.fromJson(m.body());
    } catch (RuntimeException e) {
      return;
    }
    Set<Waiter> set = ev.mailbox() == null ? null : waiters.get(ev.mailbox());
    if (set == null || ev.messageId() == null) {
      return;
    }
    MessageInfo info = new MessageInfo(ev.messageId(), ev.messageId(), ev.size(), ev.time());
    for (Waiter w : set) {
      w.consider(info);
    }
  }

  void handle(RoutingContext ctx) {
    String mb = MessagesApi.mailbox(ctx);
    SearchFilter f = SearchFilter.fromQuery(ctx.queryParams());
    Instant since = f.since() != null ? f.since() : Instant.now();
    SearchFilter filter = new SearchFilter(f.from(), f.to(), f.subject(), f.text(), since, null);
    long timeoutMs = timeoutMillis(ctx.request().getParam("timeout"));
    Waiter w = new Waiter(ctx, mb, filter);
    w.timer = vertx.setTimer(Math.max(1, timeoutMs), id -> w.finish(null, null));
    ctx.response().closeHandler(v -> w.finish(null, null));
    waiters.compute(mb, (k, set) -> {
      Set<Waiter> s = set == null ? ConcurrentHashMap.newKeySet() : set;
      s.add(w);
      return s;
    });
    consumer()
        .compose(v -> service.list(mb))
        .onSuccess(infos -> {
          List<MessageInfo> candidates = infos.stream().filter(filter::inRange)
              .sorted(Comparator.comparingLong(MessageInfo::receivedAt).thenComparing(MessageInfo::id)).toList();
          MessageIndex.mapBounded(candidates, i -> index.match(mb, i, filter)).onSuccess(found -> {
            if (!found.isEmpty()) {
              w.finish(found.get(0), null); // the oldest match
            }
          }).onFailure(t -> w.finish(null, t));
        })
        .onFailure(t -> w.finish(null, t));
  }

  static long timeoutMillis(String v) {
    if (v == null || v.isBlank()) {
      return (long) (DEFAULT_TIMEOUT_S * 1000);
    }
    double s;
    try {
      s = Double.parseDouble(v.strip());
    } catch (NumberFormatException e) {
      s = -1;
    }
    if (!(s >= 0)) {
      throw HttpError.badRequest("INVALID_PARAMETER", "timeout must be a number of seconds >= 0 (at most " + (int) MAX_TIMEOUT_S + ")");
    }
    return (long) (Math.min(s, MAX_TIMEOUT_S) * 1000);
  }

  /** One pending request. Completes exactly once: match, timeout, failure or client gone. */
  private final class Waiter {
    final RoutingContext ctx;
    final String mailbox;
    final SearchFilter filter;
    long timer = -1;
    private boolean done;

    Waiter(RoutingContext ctx, String mailbox, SearchFilter filter) {
      this.ctx = ctx;
      this.mailbox = mailbox;
      this.filter = filter;
    }

    void consider(MessageInfo info) {
      synchronized (this) {
        if (done) {
          return;
        }
      }
      // A message that vanished before it could be read, or cannot be read, is simply not a match.
      index.match(mailbox, info, filter).onSuccess(item -> {
        if (item != null) {
          finish(item, null);
        }
      });
    }

    void finish(MessageIndex.Item item, Throwable failure) {
      synchronized (this) {
        if (done) {
          return;
        }
        done = true;
      }
      vertx.cancelTimer(timer);
      waiters.computeIfPresent(mailbox, (k, set) -> {
        set.remove(this);
        return set.isEmpty() ? null : set;
      });
      if (ctx.response().closed() || ctx.response().ended()) {
        return;
      }
      if (failure != null) {
        ctx.fail(failure);
      } else if (item != null) {
        Responses.json(ctx, 200, MessageJson.item(item.info(), item.summary()));
      } else {
        ctx.response().setStatusCode(204).end();
      }
    }
  }
}
