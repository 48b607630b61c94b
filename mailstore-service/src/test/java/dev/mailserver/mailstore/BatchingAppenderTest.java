package dev.mailserver.mailstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.MailEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class BatchingAppenderTest {

  static MailEvent event(String id) {
    return new MailEvent("", MailEvent.TYPE_NEW, "a@example.test", id, "", "", 1, 0, "");
  }

  /** Numbers the events like a journal; the first group blocks until released, so the rest queue up. */
  static final class Journal {
    final AtomicLong last = new AtomicLong();
    final List<Integer> groups = new ArrayList<>();
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    synchronized List<MailEvent> append(List<MailEvent> events) {
      if (groups.isEmpty()) {
        entered.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      groups.add(events.size());
      return events.stream().map(e -> new MailEvent(Long.toString(last.incrementAndGet()), e.type(), e.mailbox(),
          e.messageId(), e.from(), e.subject(), e.size(), e.time(), e.deliveryId())).toList();
    }
  }

  @Test
  void requestsQueuedDuringAnAppendGoIntoOneGroupAndEachGetsItsOwnEventsBack() throws Exception {
    Journal journal = new Journal();
    BatchingAppender appender = new BatchingAppender("test-appender", journal::append);
    CompletableFuture<List<MailEvent>> first = appender.submit(List.of(event("m0")));
    assertThat(journal.entered.await(10, TimeUnit.SECONDS)).isTrue(); // inside the first, blocked append
    List<CompletableFuture<List<MailEvent>>> rest = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      rest.add(appender.submit(List.of(event("m" + i), event("m" + i + "b"))));
    }
    journal.release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)).extracting(MailEvent::eventId).containsExactly("1");
    for (int i = 0; i < 10; i++) {
      List<MailEvent> got = rest.get(i).get(10, TimeUnit.SECONDS);
      assertThat(got).extracting(MailEvent::messageId).containsExactly("m" + (i + 1), "m" + (i + 1) + "b");
      assertThat(got).allSatisfy(e -> assertThat(e.eventId()).isNotEmpty());
    }
    assertThat(journal.groups).containsExactly(1, 20);
    appender.close();
    // After close the caller's thread appends.
    assertThat(appender.submit(List.of(event("late"))).get(1, TimeUnit.SECONDS)).extracting(MailEvent::eventId).containsExactly("22");
  }
}
