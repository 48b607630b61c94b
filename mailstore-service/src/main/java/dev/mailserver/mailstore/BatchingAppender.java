package dev.mailserver.mailstore;

import dev.mailserver.common.model.MailEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread that appends the new-mail events of concurrent deliveries to the journal: it takes
 * whatever was submitted while its previous append was being flushed and appends it as one group
 * (one write, one fdatasync). A delivery submits its events as soon as its copies are named and
 * collects their ids after its own flush, so the journal's flush overlaps the store's instead of
 * following it, and no thread is woken per delivery beyond the one that waits for its result.
 */
final class BatchingAppender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BatchingAppender.class);

  private record Request(List<MailEvent> events, CompletableFuture<List<MailEvent>> done) {}

  private static final Request STOP = new Request(List.of(), new CompletableFuture<>());

  private final UnaryOperator<List<MailEvent>> appendAll;
  private final BlockingQueue<Request> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  /** Guarded by this: no request is queued after the STOP marker. */
  private boolean closed;

  /** @param appendAll appends a group and returns it with ids, in order; must not throw */
  BatchingAppender(String name, UnaryOperator<List<MailEvent>> appendAll) {
    this.appendAll = appendAll;
    this.thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  /** The events as appended (with their ids), once they are durable in the journal. */
  CompletableFuture<List<MailEvent>> submit(List<MailEvent> events) {
    CompletableFuture<List<MailEvent>> done = new CompletableFuture<>();
    synchronized (this) {
      if (!closed) {
        queue.add(new Request(events, done));
        return done;
      }
    }
    done.complete(appendAll.apply(events)); // after close: append in the caller's thread
    return done;
  }

  private void run() {
    List<Request> batch = new ArrayList<>();
    while (true) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException e) {
        return;
      }
      queue.drainTo(batch);
      boolean stop = batch.remove(STOP);
      if (!batch.isEmpty()) {
        appendGroup(batch);
      }
      batch.clear();
      if (stop) {
        return;
      }
    }
  }

  private void appendGroup(List<Request> batch) {
    List<MailEvent> all = new ArrayList<>();
    batch.forEach(r -> all.addAll(r.events));
    try {
      List<MailEvent> written = appendAll.apply(all);
      int i = 0;
      for (Request r : batch) {
        r.done.complete(written.subList(i, i + r.events.size()));
        i += r.events.size();
      }
    } catch (RuntimeException e) {
      log.error("Journal group append failed unexpectedly", e);
      batch.forEach(r -> r.done.complete(r.events)); // published without ids, as any failed append
    }
  }

  /** Appends what is queued, then stops the thread; later submissions append in the caller's thread. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      queue.add(STOP);
    }
    try {
      thread.join(60_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Anything the thread did not get to (it was interrupted or timed out) is appended here.
    List<Request> left = new ArrayList<>();
    queue.drainTo(left);
    left.remove(STOP);
    if (!left.isEmpty()) {
      appendGroup(left);
    }
  }
}
