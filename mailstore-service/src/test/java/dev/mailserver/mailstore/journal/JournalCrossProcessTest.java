package dev.mailserver.mailstore.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.MailEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two child JVMs and this one appending to one journal directory at the same moment, as three
 * pods on a shared volume. Between processes only the {@code FileChannel} lock on
 * {@code journal.lock} (and re-reading the tail inside it) keeps ids unique and consecutive.
 */
class JournalCrossProcessTest {

  @TempDir
  Path tmp;
  final List<Process> processes = new ArrayList<>();

  @AfterEach
  void tearDown() {
    processes.forEach(Process::destroyForcibly);
  }

  Child start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    String logback = System.getProperty("logback.configurationFile");
    if (logback != null) {
      cmd.add("-Dlogback.configurationFile=" + logback);
    }
    cmd.add(JournalChildProcess.class.getName());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.add(p);
    return new Child(p);
  }

  /** A child JVM and its "RESULT ..." lines (as in AccountsCrossProcessTest). */
  static final class Child {
    final Process process;
    final BlockingQueue<String> results = new LinkedBlockingQueue<>();
    final StringBuffer output = new StringBuffer();

    Child(Process process) {
      this.process = process;
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            output.append(line).append('\n');
            if (line.startsWith("RESULT ")) {
              results.add(line.substring("RESULT ".length()));
            }
          }
        } catch (IOException ignored) {
          // process gone
        }
      }, "journal-child-output");
      t.setDaemon(true);
      t.start();
    }

    String next() throws InterruptedException {
      String r = results.poll(60, TimeUnit.SECONDS);
      if (r == null) {
        throw new AssertionError("no result from the child; its output:\n" + output);
      }
      return r;
    }

    void awaitExit() throws InterruptedException {
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("child exited; output:%n%s", output).isTrue();
      assertThat(process.exitValue()).as("child exit code; output:%n%s", output).isZero();
    }
  }

  @Test
  void threeProcessesAppendingAtOnceGetDistinctConsecutiveIds() throws Exception {
    Path dir = tmp.resolve("events");
    Files.createDirectories(dir);
    int perProcess = 150;
    Child a = start("append", dir.toString(), "a", "" + perProcess);
    Child b = start("append", dir.toString(), "b", "" + perProcess);
    assertThat(a.next()).isEqualTo("ready");
    assertThat(b.next()).isEqualTo("ready");
    FileEventJournal ours = new FileEventJournal(dir, 3_600_000L * 168, 1_000_000, 50, Clock.systemUTC());

    Files.createFile(tmp.resolve("go"));
    List<String> mine = new ArrayList<>();
    for (int i = 0; i < perProcess; i++) {
      mine.add(ours.append(new MailEvent("", MailEvent.TYPE_NEW, "x@example.test", "c-" + i, "", "", 1, 0, "")).eventId());
    }
    Map<String, List<String>> byTag = new HashMap<>();
    byTag.put("a", idsFrom(a.next()));
    byTag.put("b", idsFrom(b.next()));
    byTag.put("c", mine);
    a.awaitExit();
    b.awaitExit();

    List<Long> allIds = new ArrayList<>();
    for (List<String> ids : byTag.values()) {
      List<Long> longs = ids.stream().map(Long::parseLong).toList();
      assertThat(longs).as("each process's ids grow").isSorted().doesNotHaveDuplicates();
      allIds.addAll(longs);
    }
    int total = 3 * perProcess;
    assertThat(allIds).containsExactlyInAnyOrderElementsOf(LongStream.rangeClosed(1, total).boxed().toList());

    // and the journal says the same: every id once, in order, on the event its appender was told
    List<MailEvent> onDisk = FileEventJournalTest.all(ours);
    assertThat(FileEventJournalTest.idsOf(onDisk)).containsExactlyElementsOf(LongStream.rangeClosed(1, total).boxed().toList());
    for (MailEvent e : onDisk) {
      String[] tagAndIndex = e.messageId().split("-");
      assertThat(byTag.get(tagAndIndex[0]).get(Integer.parseInt(tagAndIndex[1]))).isEqualTo(e.eventId());
    }
    // Interleaved, or the test proved nothing about contention.
    int switches = 0;
    for (int i = 1; i < onDisk.size(); i++) {
      if (onDisk.get(i).messageId().charAt(0) != onDisk.get(i - 1).messageId().charAt(0)) {
        switches++;
      }
    }
    assertThat(switches).as("appenders alternated").isGreaterThan(10);
  }

  private static List<String> idsFrom(String result) {
    assertThat(result).startsWith("ids ");
    return Arrays.asList(result.substring(4).split(","));
  }
}
