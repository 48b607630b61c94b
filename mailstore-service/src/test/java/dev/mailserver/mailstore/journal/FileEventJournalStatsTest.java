package dev.mailserver.mailstore.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.MailEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FileEventJournal#stats()}: kept from memory, yet equal to what the files say. */
class FileEventJournalStatsTest {

  static final long WEEK = 168 * 3_600_000L;

  @TempDir
  Path tmp;

  static MailEvent event(int i) {
    return new MailEvent("", MailEvent.TYPE_NEW, "alice@example.test", "id" + i, "s@example.org", "subject " + i, 100 + i,
        System.currentTimeMillis(), "Q" + i);
  }

  long bytesOnDisk(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      long total = 0;
      for (Path p : files.filter(p -> p.getFileName().toString().endsWith(FileEventJournal.SUFFIX)).toList()) {
        total += Files.size(p);
      }
      return total;
    }
  }

  @Test
  void appendsRollsCompactionAndOtherWritersAreReflected() throws IOException {
    Path dir = tmp.resolve("events");
    // Three events per segment, the newest four protected by the count bound.
    FileEventJournal journal = new FileEventJournal(dir, WEEK, 4, 3, Clock.systemUTC());
    assertThat(journal.stats()).isNull(); // nothing looked at yet
    assertThat(journal.refreshStats()).isEqualTo(new FileEventJournal.Stats(0, 0, 0, 0));
    assertThat(journal.stats().events()).isZero();

    for (int i = 1; i <= 10; i++) {
      journal.append(event(i));
      // Every append brings the statistics up to date, across segment rolls.
      assertThat(journal.stats().newestId()).isEqualTo(i);
      assertThat(journal.stats().events()).isEqualTo(i);
      assertThat(journal.stats().bytes()).isEqualTo(bytesOnDisk(dir));
    }
    assertThat(journal.stats()).isEqualTo(new FileEventJournal.Stats(1, 10, bytesOnDisk(dir), 4)); // 1, 4, 7, 10

    // Ids up to 6 are beyond the newest four: segments 1 and 4 go.
    assertThat(journal.compact().segmentsRemoved()).isEqualTo(2);
    assertThat(journal.stats()).isEqualTo(new FileEventJournal.Stats(7, 10, bytesOnDisk(dir), 2));
    assertThat(journal.stats().events()).isEqualTo(4);

    // Another writer (another process on the shared directory) appends: seen at the next refresh.
    FileEventJournal other = new FileEventJournal(dir, WEEK, 4, 3, Clock.systemUTC());
    other.append(event(11));
    other.append(event(12));
    assertThat(journal.stats().newestId()).isEqualTo(10);
    assertThat(journal.refreshStats()).isEqualTo(new FileEventJournal.Stats(7, 12, bytesOnDisk(dir), 2));
    // ... or at its own next append, which reads the newest id anyway.
    other.append(event(13));
    journal.append(event(14));
    assertThat(journal.stats()).isEqualTo(new FileEventJournal.Stats(7, 14, bytesOnDisk(dir), 3));
    other.close();
    journal.close();
  }
}
