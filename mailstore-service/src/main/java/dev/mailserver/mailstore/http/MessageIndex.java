package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.parse.MessageParser;
import dev.mailserver.mailstore.parse.MessageSummary;
import dev.mailserver.mailstore.parse.ParsedMessage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Parsed message summaries for listings and searches, through {@link MailstoreService} only.
 *
 * <p>Parsing every message for every listing would cost a file read and a MIME walk per item, so
 * summaries are cached by mailbox and message id in a bounded LRU: ids are immutable (a stored
 * message never changes; a deleted id is never reused), so an entry never goes stale and needs no
 * invalidation beyond eviction. A miss reads the whole message only up to
 * {@link #FULL_READ_MAX_BYTES}; a larger one is summarised from its header and first
 * {@link #HEAD_BODY_LINES} body lines (enough for the snippet; see
 * {@link MessageParser#summarize}). Misses are loaded {@link #CONCURRENCY} at a time so one
 * listing cannot occupy every I/O worker, and parsing runs on worker threads.
 */
final class MessageIndex {

  static final long FULL_READ_MAX_BYTES = 256 * 1024;
  static final int HEAD_BODY_LINES = 2000;
  static final int CONCURRENCY = 8;

  /** A listed message with its summary. */
  record Item(MessageInfo info, MessageSummary summary) {}

  private final Vertx vertx;
  private final MailstoreService service;
  private final Map<String, MessageSummary> cache;

  MessageIndex(Vertx vertx, MailstoreService service, int maxEntries) {
    this.vertx = vertx;
    this.service = service;
    this.cache = new LinkedHashMap<>(1024, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, MessageSummary> eldest) {
        return size() > maxEntries;
      }
    };
  }

  private static String key(String mailbox, String id) {
    return mailbox + "\u0000" + id;
  }

  private MessageSummary cached(String mailbox, String id) {
    synchronized (cache) {
      return cache.get(key(mailbox, id));
    }
  }

  void evict(String mailbox, String id) {
    synchronized (cache) {
      cache.remove(key(mailbox, id));
    }
  }

  int size() {
    synchronized (cache) {
      return cache.size();
    }
  }

  /** One summary; fails with MESSAGE_NOT_FOUND when the message is gone. */
  Future<MessageSummary> summary(String mailbox, MessageInfo info) {
    MessageSummary s = cached(mailbox, info.id());
    if (s != null) {
      return Future.succeededFuture(s);
    }
    boolean whole = info.size() <= FULL_READ_MAX_BYTES;
    return service.fetch(mailbox, info.id(), whole ? null : HEAD_BODY_LINES)
        .compose(buf -> parse(buf, b -> MessageParser.summarize(b, whole || b.length >= info.size())))
        .onSuccess(sum -> {
          synchronized (cache) {
            cache.put(key(mailbox, info.id()), sum);
          }
        });
  }

  /**
   * The item when the message matches the filter, else null (the summary decides from/to/subject;
   * a {@code text} condition costs a full parse, not cached). Fails with MESSAGE_NOT_FOUND when gone.
   */
  Future<Item> match(String mailbox, MessageInfo info, SearchFilter filter) {
    return summary(mailbox, info).compose(s -> {
      if (!filter.matchesSummary(s)) {
        return Future.succeededFuture(null);
      }
      if (!filter.needsText()) {
        return Future.succeededFuture(new Item(info, s));
      }
      return parsed(mailbox, info.id())
          .map(p -> filter.matchesText(MessageParser.searchableText(p)) ? new Item(info, s) : null);
    });
  }

  /** The full parse of one message (not cached: detail views are rare and may be large). */
  Future<ParsedMessage> parsed(String mailbox, String id) {
    return service.fetch(mailbox, id, null).compose(buf -> parse(buf, MessageParser::parse));
  }

  /** Runs parser work on a worker thread: CPU-bound, and unbounded in the size of the input. */
  <T> Future<T> parse(Buffer buf, Function<byte[], T> parser) {
    return vertx.executeBlocking(() -> parser.apply(buf.getBytes()), false);
  }

  /**
   * Summaries of {@code infos}, in the same order; messages that vanished meanwhile (deleted by
   * another client) are left out, any other failure fails the whole.
   */
  Future<List<Item>> summaries(String mailbox, List<MessageInfo> infos) {
    return mapBounded(infos, info -> summary(mailbox, info).map(s -> new Item(info, s)));
  }

  /**
   * Applies {@code f} to every element, at most {@link #CONCURRENCY} at a time, keeping order and
   * dropping elements whose future fails with MESSAGE_NOT_FOUND. Elements whose future is already
   * complete (cache hits) are taken in a loop, not by recursion, so long lists cannot overflow the stack.
   */
  static <A, B> Future<List<B>> mapBounded(List<A> in, Function<A, Future<B>> f) {
    @SuppressWarnings("unchecked")
    B[] out = (B[]) new Object[in.size()];
    AtomicInteger next = new AtomicInteger();
    List<Future<Void>> lanes = new ArrayList<>();
    for (int i = 0; i < Math.min(CONCURRENCY, in.size()); i++) {
      lanes.add(lane(in, f, out, next));
    }
    return Future.all(lanes).map(v -> Arrays.stream(out).filter(Objects::nonNull).toList());
  }

  private static <A, B> Future<Void> lane(List<A> in, Function<A, Future<B>> f, B[] out, AtomicInteger next) {
    while (true) {
      int i = next.getAndIncrement();
      if (i >= in.size()) {
        return Future.succeededFuture();
      }
      Future<B> fb = f.apply(in.get(i));
      if (fb.isComplete()) {
        if (fb.succeeded()) {
          out[i] = fb.result();
        } else if (!gone(fb.cause())) {
          return Future.failedFuture(fb.cause());
        }
        continue;
      }
      return fb.transform(ar -> {
        if (ar.succeeded()) {
          out[i] = ar.result();
        } else if (!gone(ar.cause())) {
          return Future.failedFuture(ar.cause());
        }
        return lane(in, f, out, next);
      });
    }
  }

  static boolean gone(Throwable t) {
    return t instanceof MailstoreException me && me.error() == MailstoreError.MESSAGE_NOT_FOUND;
  }
}
