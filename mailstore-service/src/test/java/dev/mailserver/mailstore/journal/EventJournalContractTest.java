package dev.mailserver.mailstore.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mailserver.common.model.EventPage;
import dev.mailserver.common.model.MailEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link EventJournal} must do; run against the file and the in-memory journal. */
abstract class EventJournalContractTest {

  EventJournal journal;

  abstract EventJournal create();

  @BeforeEach
  void setUp() {
    journal = create();
  }

  @AfterEach
  void tearDown() {
    journal.close();
  }

  static MailEvent event(String mailbox, String messageId) {
    return event(mailbox, messageId, System.currentTimeMillis());
  }

  static MailEvent event(String mailbox, String messageId, long time) {
    return new MailEvent("ignored", MailEvent.TYPE_NEW, mailbox, messageId, "carol@example.org", "Hi", 42, time, "Q1");
  }

  static List<Long> ids(EventPage page) {
    return page.events().stream().map(e -> Long.parseLong(e.eventId())).toList();
  }

  static List<Long> range(long from, long toInclusive) {
    return LongStream.rangeClosed(from, toInclusive).boxed().toList();
  }

  @Test
  void anEmptyJournalHasNoEventsAndNoLastId() {
    assertThat(journal.lastId()).isEmpty();
    EventPage p = journal.since("", null, 10);
    assertThat(p.events()).isEmpty();
    assertThat(p.lastEventId()).isEmpty();
    assertThat(p.truncated()).isFalse();
  }

  @Test
  void appendAssignsConsecutiveDecimalIdsIgnoringTheGivenOne() {
    MailEvent a = journal.append(event("alice@example.test", "m1"));
    MailEvent b = journal.append(event("bob@example.test", "m2"));
    List<MailEvent> cd = journal.appendAll(List.of(event("alice@example.test", "m3"), event("bob@example.test", "m4")));

    assertThat(a.eventId()).isEqualTo("1");
    assertThat(b.eventId()).isEqualTo("2");
    assertThat(cd).extracting(MailEvent::eventId).containsExactly("3", "4");
    // everything but the id is kept as given
    assertThat(a).isEqualTo(EventJournal.withId(event("alice@example.test", "m1", a.time()), "1"));
    assertThat(journal.lastId()).isEqualTo("4");
  }

  @Test
  void sinceReturnsEventsAfterTheIdOldestFirstAndWhatWasAppended() {
    List<MailEvent> appended = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      appended.add(journal.append(event("alice@example.test", "m" + i)));
    }
    EventPage all = journal.since("", null, 100);
    assertThat(all.events()).containsExactlyElementsOf(appended);
    assertThat(all.lastEventId()).isEqualTo("5");
    assertThat(ids(journal.since("2", null, 100))).containsExactly(3L, 4L, 5L);
    assertThat(journal.since("5", null, 100).events()).isEmpty();
    assertThat(journal.since("5", null, 100).truncated()).isFalse();
  }

  @Test
  void pagesAreLimitedAndContinueWithTheLastIdReceived() {
    for (int i = 1; i <= 7; i++) {
      journal.append(event("alice@example.test", "m" + i));
    }
    List<Long> seen = new ArrayList<>();
    String after = "";
    for (int pages = 0; pages < 10; pages++) {
      EventPage p = journal.since(after, null, 3);
      assertThat(p.events().size()).isLessThanOrEqualTo(3);
      if (p.events().isEmpty()) {
        break;
      }
      seen.addAll(ids(p));
      after = p.events().get(p.events().size() - 1).eventId();
    }
    assertThat(seen).containsExactlyElementsOf(range(1, 7));
  }

  @Test
  void aMailboxFilterReturnsOnlyThatMailboxAndScanReportsHowFarItLooked() {
    journal.append(event("alice@example.test", "a1"));
    journal.append(event("bob@example.test", "b1"));
    journal.append(event("alice@example.test", "a2"));
    journal.append(event("bob@example.test", "b2"));
    journal.append(event("bob@example.test", "b3"));

    EventPage p = journal.since("", "alice@example.test", 10);
    assertThat(p.events()).extracting(MailEvent::messageId).containsExactly("a1", "a2");
    assertThat(p.lastEventId()).as("the newest id overall, not of the mailbox").isEqualTo("5");

    // Limited to one alice event: the scan stops at it, so the follower resumes right after it.
    EventJournal.Scan s = journal.scan(-1, "alice@example.test", 1);
    assertThat(s.events()).extracting(MailEvent::messageId).containsExactly("a1");
    assertThat(s.scannedThrough()).isEqualTo(1);
    // Not limited: it looked at everything, though bob's events were not returned.
    EventJournal.Scan rest = journal.scan(1, "alice@example.test", 10);
    assertThat(rest.events()).extracting(MailEvent::messageId).containsExactly("a2");
    assertThat(rest.scannedThrough()).isEqualTo(5);
  }

  @Test
  void anIdNewerThanTheNewestMeansTheJournalWasResetAndIsTruncated() {
    journal.append(event("alice@example.test", "m1"));
    journal.append(event("alice@example.test", "m2"));
    EventPage p = journal.since("99", null, 10);
    assertThat(p.truncated()).isTrue();
    assertThat(ids(p)).as("starts again at the oldest retained").containsExactly(1L, 2L);
  }

  @Test
  void malformedIdsAreRejected() {
    for (String bad : List.of("x", "-1", "1.5", " 1", "1234567890123456789", "１")) {
      assertThatThrownBy(() -> journal.since(bad, null, 10)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
    assertThat(EventJournal.parseId("")).isEqualTo(-1);
    assertThat(EventJournal.parseId(null)).isEqualTo(-1);
    assertThat(EventJournal.parseId("007")).isEqualTo(7);
  }
}
