package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.Addresses;
import dev.mailserver.common.model.MailEvent;
import dev.mailserver.mailstore.journal.EventJournal;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /api/v1/events}: mailstore events as Server-Sent Events
 * ({@code text/event-stream}), each as
 * <pre>
 * id: 42
 * event: message.new            (or message.deleted)
 * data: {"eventId":"42","type":"message.new","mailbox":...}
 * </pre>
 * The admin sees every mailbox, an owner only their own ({@link Principal}, put into the context by
 * the authentication handler that runs before this one). {@code ?mailbox=} narrows the stream to one
 * mailbox (an owner asking for another one: 403).
 *
 * <h2>Resuming</h2>
 * With {@code Last-Event-ID} (the header a browser sends when it reconnects; {@code ?lastEventId=}
 * for clients that cannot set headers, the header wins), the stream first replays the journal after
 * that id and then continues live. Without it, the stream starts with events after the newest one
 * at connect time. When the id is older than what the journal still has (or unknown), an
 * {@code event: truncated} (without {@code id:}) comes first, then everything retained.
 *
 * <h2>No gap, no duplicate, in id order</h2>
 * The stream keeps a cursor: every id up to it has been sent or filtered out. It subscribes to the
 * bus before anything else (live events are buffered by id meanwhile), then reads the journal from
 * the cursor in pages on a worker, then sends buffered events in id order, dropping any id at or
 * below the cursor. Ids are consecutive, so a buffered event that is not the cursor's successor
 * reveals a gap: events are published by several threads and processes and can arrive out of
 * order, or not at all (a process that died between its journal append and the publish). A gap
 * not closed by the bus within {@code gapWaitMs} is filled from the journal. Each heartbeat also
 * compares the journal's newest id with the cursor, so an event that was never published still
 * arrives within a heartbeat.
 *
 * <h2>Slow clients</h2>
 * Nothing is written while the response's write queue is full. Live events wait in a buffer of at
 * most {@code maxPending}; beyond that the buffer is dropped and the stream catches up from the
 * journal at the client's pace (it loses nothing). A client that reads nothing for
 * {@code stallTimeoutMs} is disconnected; it reconnects with its Last-Event-ID.
 *
 * <p>Events whose journal append failed are published with an empty id; they are passed on at once
 * without an {@code id:} line, so they do not move the client's Last-Event-ID.
 */
public final class EventStreamHandler implements Handler<RoutingContext> {
  private static final Logger log = LoggerFactory.getLogger(EventStreamHandler.class);

  /**
   * @param heartbeatMs     comment line interval (proxies close idle connections); also the journal tail check
   * @param pageSize        events per journal read
   * @param maxPending      live events buffered per stream before it falls back to reading the journal
   * @param gapWaitMs       how long a gap in the ids may stay open before the journal is read
   * @param stallTimeoutMs  a client whose write queue stays full this long is disconnected
   * @param retryMs         the reconnection delay suggested to clients ({@code retry:})
   */
  public record Settings(long heartbeatMs, int pageSize, int maxPending, long gapWaitMs, long stallTimeoutMs, long retryMs) {
    public static final Settings DEFAULTS = new Settings(15_000, 500, 1000, 250, 60_000, 3_000);
  }

  private final Vertx vertx;
  private final EventJournal journal;
  private final WorkerExecutor pool;
  private final Settings settings;
  private final AtomicInteger open = new AtomicInteger();

  public EventStreamHandler(Vertx vertx, EventJournal journal, WorkerExecutor pool) {
    this(vertx, journal, pool, Settings.DEFAULTS);
  }

  /** @param pool for journal reads (blocking) */
  public EventStreamHandler(Vertx vertx, EventJournal journal, WorkerExecutor pool, Settings settings) {
    this.vertx = vertx;
    this.journal = journal;
    this.pool = pool;
    this.settings = settings;
  }

  /** Streams currently open (subscribed to the bus). */
  public int openStreams() {
    return open.get();
  }

  @Override
  public void handle(RoutingContext ctx) {
    Principal principal = ctx.get(Principal.CONTEXT_KEY);
    if (principal == null) {
      // The authentication handler runs first and always sets one: a wiring bug.
      ctx.fail(new IllegalStateException("no Principal in the routing context: is the auth handler mounted before the event stream?"));
      return;
    }
    String filter;
    String asked = ctx.request().getParam("mailbox");
    if (asked != null && !asked.isEmpty()) {
      if (!MailboxName.isValid(asked)) {
        ctx.fail(new HttpError(400, "INVALID_REQUEST", "mailbox is not a mailbox address"));
        return;
      }
      filter = MailboxName.of(asked).address();
      if (!principal.mayAccess(filter)) {
        ctx.fail(new HttpError(403, "FORBIDDEN", "an owner may only follow their own mailbox"));
        return;
      }
    } else {
      filter = principal.admin() ? null : principal.mailbox();
      if (!principal.admin() && filter == null) {
        ctx.fail(new HttpError(403, "FORBIDDEN", "no mailbox"));
        return;
      }
    }
    String lastEventId = ctx.request().getHeader("Last-Event-ID");
    if (lastEventId == null || lastEventId.isBlank()) {
      lastEventId = ctx.request().getParam("lastEventId");
    }
    long after;
    try {
      after = lastEventId == null || lastEventId.isBlank() ? -1 : EventJournal.parseId(lastEventId.strip());
    } catch (IllegalArgumentException e) {
      ctx.fail(new HttpError(400, "INVALID_REQUEST", "Last-Event-ID is not an event id"));
      return;
    }
    new Stream(ctx, filter, after).start();
  }

  /** One client's stream. Confined to the request's context (event loop): no locking. */
  private final class Stream {
    private final RoutingContext ctx;
    private final HttpServerResponse response;
    private final String filter;
    /** The Last-Event-ID asked for, or -1: live only. */
    private final long resumeAfter;
    /** Live events with ids above the cursor, by id; null values are events for other mailboxes. */
    private final TreeMap<Long, MailEvent> pending = new TreeMap<>();
    /** Live events without an id (journal failure): no place in the order, passed on as they come. */
    private final ArrayDeque<MailEvent> unjournaled = new ArrayDeque<>();
    private MessageConsumer<Object> newConsumer;
    private MessageConsumer<Object> deletedConsumer;
    /** Every id up to this has been sent or filtered out. Valid once started. */
    private long cursor;
    private boolean started;
    private boolean closed;
    private boolean needRead;
    private boolean reading;
    private boolean tailCheckRunning;
    private long gapTimer = -1;
    private long heartbeatTimer = -1;
    /** System.nanoTime() since when the write queue has been full, or -1. */
    private long stalledSince = -1;

    Stream(RoutingContext ctx, String filter, long resumeAfter) {
      this.ctx = ctx;
      this.response = ctx.response();
      this.filter = filter;
      this.resumeAfter = resumeAfter;
    }

    void start() {
      open.incrementAndGet();
      response.closeHandler(v -> close(false));
      response.exceptionHandler(t -> close(false));
      // Subscribe first: from now on no event can slip between the journal read and the live stream.
      newConsumer = vertx.eventBus().consumer(Addresses.EVENTS_NEW, m -> onLive(m.body()));
      deletedConsumer = vertx.eventBus().consumer(Addresses.EVENTS_DELETED, m -> onLive(m.body()));
      Future.all(newConsumer.completion(), deletedConsumer.completion())
          .compose(v -> resumeAfter >= 0
              ? Future.succeededFuture(resumeAfter)
              // Read after subscribing: anything appended later has a bigger id and arrives live.
              : pool.executeBlocking(() -> Math.max(0, EventJournal.parseId(journal.lastId())), false))
          .onComplete(ar -> {
            if (closed) {
              return;
            }
            if (ar.failed()) {
              log.warn("Cannot start an event stream: {}", ar.cause().toString());
              if (!response.headWritten()) {
                ctx.fail(new HttpError(503, "UNAVAILABLE", "event journal unavailable", Map.of("Retry-After", "5")));
              }
              close(true);
              return;
            }
            cursor = ar.result();
            needRead = resumeAfter >= 0;
            started = true;
            response.setStatusCode(200)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-store")
                .putHeader("X-Accel-Buffering", "no") // nginx: do not buffer the stream
                .setChunked(true)
                .setWriteQueueMaxSize(64 * 1024);
            // The headers go out with this, so the client knows it is subscribed.
            response.write("retry: " + settings.retryMs() + "\n: stream open\n\n");
            heartbeatTimer = vertx.setPeriodic(settings.heartbeatMs(), id -> heartbeat());
            pump();
          });
    }

    private void onLive(Object body) {
      if (closed || !(body instanceof JsonObject json)) {
        return;
      }
      MailEvent e;
      long seq;
      try {
        e = MailEvent.fromJson(json);
        if (e.eventId() == null || e.eventId().isEmpty()) {
          if (matches(e) && unjournaled.size() < settings.maxPending()) {
            unjournaled.add(e);
            pump();
          }
          return;
        }
        seq = EventJournal.parseId(e.eventId());
      } catch (RuntimeException bad) {
        return; // not a MailEvent: not ours to pass on
      }
      if (started && seq <= cursor) {
        return; // already sent (replayed), or from before the stream began
      }
      pending.put(seq, matches(e) ? e : null);
      if (pending.size() > settings.maxPending()) {
        // The client is not keeping up: forget the buffer, the journal has it all.
        pending.clear();
        needRead = true;
      }
      pump();
    }

    private boolean matches(MailEvent e) {
      return filter == null || filter.equals(e.mailbox());
    }

    /** Sends what can be sent in order; starts a journal read or a gap timer when needed. */
    private void pump() {
      if (closed || !started) {
        return;
      }
      while (!unjournaled.isEmpty() && !response.writeQueueFull()) {
        send(unjournaled.poll(), false);
      }
      pending.headMap(cursor, true).clear();
      while (!pending.isEmpty() && pending.firstKey() == cursor + 1 && !response.writeQueueFull()) {
        MailEvent e = pending.pollFirstEntry().getValue();
        cursor++;
        if (e != null) {
          send(e, true);
        }
      }
      if (response.writeQueueFull()) {
        if (stalledSince < 0) {
          stalledSince = System.nanoTime();
        }
        response.drainHandler(v -> {
          stalledSince = -1;
          pump();
        });
        return;
      }
      stalledSince = -1;
      if (needRead) {
        if (!reading) {
          read();
        }
        return;
      }
      if (!pending.isEmpty()) {
        // The successor of the cursor has not come (yet): give the bus a moment, then the journal.
        if (gapTimer < 0) {
          gapTimer = vertx.setTimer(settings.gapWaitMs(), id -> {
            gapTimer = -1;
            if (!closed && !pending.isEmpty() && pending.firstKey() > cursor + 1) {
              needRead = true;
            }
            pump();
          });
        }
      } else if (gapTimer >= 0) {
        vertx.cancelTimer(gapTimer);
        gapTimer = -1;
      }
    }

    /** One page of the journal after the cursor, on a worker; then back to {@link #pump()}. */
    private void read() {
      reading = true;
      long from = cursor;
      pool.executeBlocking(() -> journal.scan(from, filter, settings.pageSize()), false).onComplete(ar -> {
        reading = false;
        if (closed) {
          return;
        }
        if (ar.failed()) {
          // Close rather than skip: the client reconnects with its Last-Event-ID and loses nothing.
          log.warn("Event stream: cannot read the journal, closing the stream: {}", ar.cause().toString());
          close(true);
          return;
        }
        EventJournal.Scan s = ar.result();
        if (s.truncated()) {
          response.write("event: truncated\ndata: " + new JsonObject()
              .put("lastEventId", Long.toString(from))
              .put("oldestEventId", s.oldestId() == 0 ? "" : Long.toString(s.oldestId()))
              .put("message", "events after lastEventId are no longer in the journal; continuing with the oldest retained")
              .encode() + "\n\n");
          // Compacted: continue at the oldest retained. Reset (the id is newer than the journal): start over.
          cursor = from > s.lastId() ? Math.max(0, s.oldestId() - 1) : Math.max(cursor, s.oldestId() - 1);
        }
        for (MailEvent e : s.events()) {
          long seq = Long.parseLong(e.eventId());
          if (seq > cursor) {
            send(e, true);
            cursor = seq;
          }
        }
        cursor = Math.max(cursor, s.scannedThrough());
        needRead = s.events().size() >= settings.pageSize();
        pump();
      });
    }

    private void heartbeat() {
      if (closed) {
        return;
      }
      if (response.writeQueueFull()) {
        if (stalledSince >= 0
            && System.nanoTime() - stalledSince > TimeUnit.MILLISECONDS.toNanos(settings.stallTimeoutMs())) {
          log.info("Event stream: client has not read for {} ms, disconnecting it", settings.stallTimeoutMs());
          close(true);
        }
        return;
      }
      response.write(": keepalive\n\n");
      if (!tailCheckRunning && !reading && !needRead) {
        // Catches events that were journaled but never published (e.g. their process died).
        tailCheckRunning = true;
        pool.executeBlocking(() -> EventJournal.parseId(journal.lastId()), false).onComplete(ar -> {
          tailCheckRunning = false;
          if (!closed && ar.succeeded() && ar.result() > cursor && (pending.isEmpty() || pending.firstKey() > cursor + 1)) {
            needRead = true;
            pump();
          }
        });
      }
    }

    private void send(MailEvent e, boolean withId) {
      String type = MailEvent.TYPE_DELETED.equals(e.type()) ? MailEvent.TYPE_DELETED : MailEvent.TYPE_NEW;
      StringBuilder b = new StringBuilder(256);
      if (withId) {
        b.append("id: ").append(e.eventId()).append('\n');
      }
      b.append("event: ").append(type).append('\n')
          .append("data: ").append(e.toJson().encode()).append("\n\n");
      response.write(b.toString());
    }

    /** @param hangUp also drop the connection (the client must reconnect) */
    private void close(boolean hangUp) {
      if (closed) {
        return;
      }
      closed = true;
      open.decrementAndGet();
      newConsumer.unregister();
      deletedConsumer.unregister();
      if (heartbeatTimer >= 0) {
        vertx.cancelTimer(heartbeatTimer);
      }
      if (gapTimer >= 0) {
        vertx.cancelTimer(gapTimer);
      }
      pending.clear();
      unjournaled.clear();
      if (hangUp && !response.closed()) {
        if (response.headWritten() && !response.ended()) {
          ctx.request().connection().close();
        } else if (!response.ended()) {
          response.end();
        }
      }
    }

  }
}
