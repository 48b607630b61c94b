package dev.mailserver.mailstore.journal;

import dev.mailserver.common.model.MailEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Another mailstore process appending to a shared journal, started by {@link JournalCrossProcessTest}:
 * only a separate JVM contends for the {@code FileChannel} lock the way another pod would.
 *
 * <p>{@code append <eventsDir> <tag> <count>}: opens the journal, prints {@code RESULT ready}, waits
 * for {@code <eventsDir>/../go}, appends {@code count} events one at a time (messageId
 * {@code <tag>-<i>}) and prints {@code RESULT ids <id,id,...>} in the order it got them.
 */
public final class JournalChildProcess {

  public static void main(String[] args) throws Exception {
    if (!args[0].equals("append")) {
      throw new IllegalArgumentException(args[0]);
    }
    Path dir = Path.of(args[1]);
    String tag = args[2];
    int count = Integer.parseInt(args[3]);
    FileEventJournal journal = new FileEventJournal(dir, 3_600_000L * 168, 1_000_000, 50, Clock.systemUTC());
    System.out.println("RESULT ready");
    System.out.flush();
    Path go = dir.resolveSibling("go");
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (!Files.exists(go)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no go signal");
      }
      Thread.sleep(1);
    }
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ids.add(journal.append(new MailEvent("", MailEvent.TYPE_NEW, "x@example.test", tag + "-" + i, "", "", 1,
          System.currentTimeMillis(), "")).eventId());
    }
    System.out.println("RESULT ids " + String.join(",", ids));
    System.out.flush();
    System.exit(0);
  }
}
