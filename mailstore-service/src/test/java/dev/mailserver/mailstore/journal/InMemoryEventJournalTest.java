package dev.mailserver.mailstore.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.EventPage;
import org.junit.jupiter.api.Test;

class InMemoryEventJournalTest extends EventJournalContractTest {

  @Override
  EventJournal create() {
    return new InMemoryEventJournal();
  }

  @Test
  void keepsTheNewestMaxCountAndReportsTruncationBeyondThem() {
    EventJournal small = new InMemoryEventJournal(3);
    for (int i = 1; i <= 5; i++) {
      small.append(event("alice@example.test", "m" + i));
    }
    assertThat(ids(small.since("", null, 10))).containsExactly(3L, 4L, 5L);
    EventPage fromOne = small.since("1", null, 10);
    assertThat(fromOne.truncated()).as("event 2 is gone").isTrue();
    assertThat(ids(fromOne)).containsExactly(3L, 4L, 5L);
    assertThat(small.since("2", null, 10).truncated()).as("3 is the next wanted and is there").isFalse();
  }
}
