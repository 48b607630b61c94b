package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.testing.LineClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable jar as an operator starts it: {@code java -jar mailserver.jar} in an empty
 * directory, with ports moved to ephemeral ones through environment variables.
 */
class LauncherIT {

  static final Path JAR = Path.of(System.getProperty("mailserver.jar", "target/mailserver.jar")).toAbsolutePath();
  static final Pattern LISTEN = Pattern.compile("^\\s*(SMTP|POP3|HTTP)\\s+\\S+:(\\d+)\\s*$");
  static final Pattern DEMO_PASSWORD = Pattern.compile("(?i)password\\W+(\\S+)\\s*$");

  @TempDir
  Path workDir;
  final List<Process> processes = new ArrayList<>();

  @AfterEach
  void kill() throws Exception {
    for (Process p : processes) {
      p.destroyForcibly();
      p.waitFor(20, TimeUnit.SECONDS);
    }
  }

  record Run(Process process, List<String> out) {
    String text() {
      return String.join("\n", out);
    }

    int port(String service) {
      for (String l : out) {
        Matcher m = LISTEN.matcher(l);
        if (m.matches() && m.group(1).equals(service)) {
          return Integer.parseInt(m.group(2));
        }
      }
      throw new AssertionError("no " + service + " port in output:\n" + text());
    }
  }

  private ProcessBuilder builder(Map<String, String> env, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-jar", JAR.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("MAIL_"));
    pb.environment().putAll(env);
    return pb;
  }

  private static Map<String, String> ephemeral() {
    return Map.of("MAIL_SMTP_HOST", "127.0.0.1", "MAIL_SMTP_PORT", "0",
        "MAIL_POP3_HOST", "127.0.0.1", "MAIL_POP3_PORT", "0",
        "MAIL_HTTP_HOST", "127.0.0.1", "MAIL_HTTP_PORT", "0");
  }

  /** Starts the jar and waits until it printed its POP3 line (the last service to start). */
  private Run start(Map<String, String> env) throws Exception {
    Process p = builder(env).redirectErrorStream(true).start();
    processes.add(p);
    List<String> out = new CopyOnWriteArrayList<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String l;
        while ((l = r.readLine()) != null) {
          out.add(l);
        }
      } catch (IOException ignored) {
        // process ended
      }
    });
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (out.stream().noneMatch(l -> LISTEN.matcher(l).matches() && l.contains("POP3"))) {
      assertThat(p.isAlive()).as("server exited early:\n" + String.join("\n", out)).isTrue();
      assertThat(System.nanoTime()).as("server did not start in time:\n" + String.join("\n", out)).isLessThan(deadline);
      Thread.sleep(50);
    }
    return new Run(p, out);
  }

  private static String demoPassword(Run run) {
    for (String l : run.out()) {
      Matcher m = DEMO_PASSWORD.matcher(l);
      if (m.find() && !l.contains("demo@")) {
        return m.group(1);
      }
    }
    throw new AssertionError("no demo password in output:\n" + run.text());
  }

  @Test
  void startsOnDefaultsCreatesDemoAccountOnceAndServesMail() throws Exception {
    Run first = start(ephemeral());
    assertThat(first.text()).contains("demo@example.test");
    String password = demoPassword(first);
    assertThat(Files.isDirectory(workDir.resolve("data"))).isTrue();
    assertThat(Files.readString(workDir.resolve("data/accounts.json"))).doesNotContain(password);

    try (LineClient c = new LineClient("127.0.0.1", first.port("SMTP"))) {
      assertThat(c.smtp()).startsWith("220 mail.example.test");
      c.send("EHLO it.test");
      c.readSmtpReply();
      c.send("MAIL FROM:<it@elsewhere.test>");
      c.smtp();
      c.send("RCPT TO:<demo@example.test>");
      assertThat(c.smtp()).startsWith("250");
      c.send("DATA");
      c.smtp();
      c.send("Subject: launcher\r\n\r\nhello from the jar\r\n.");
      assertThat(c.smtp()).startsWith("250 2.0.0");
      c.send("QUIT");
    }

    // A clean stop (SIGTERM runs the shutdown hook), then a second start in the same directory:
    // the account exists, so no new password is printed, and the mail is still there.
    first.process().destroy();
    assertThat(first.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
    Run second = start(ephemeral());
    assertThat(second.text()).doesNotContainIgnoringCase("password");
    try (LineClient p = new LineClient("127.0.0.1", second.port("POP3"))) {
      assertThat(p.readLine()).startsWith("+OK");
      p.send("USER demo@example.test");
      p.readLine();
      p.send("PASS " + password);
      assertThat(p.readLine()).startsWith("+OK");
      p.send("STAT");
      assertThat(p.readLine()).startsWith("+OK 1 ");
      p.send("QUIT");
    }
  }

  private record Result(int exit, String stdout, String stderr) {}

  private Result runToEnd(Map<String, String> env, String... args) throws Exception {
    Process p = builder(env, args).start();
    processes.add(p);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @Test
  void missingConfigFileIsOneClearLine() throws Exception {
    Result r = runToEnd(ephemeral(), "--config", "nope.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).isEqualTo("mailserver: config file not found: nope.json");
  }

  @Test
  void unknownKeyAndBadPortAreOneClearLine() throws Exception {
    Files.writeString(workDir.resolve("c.json"), "{\"smtp\": {\"port\": 99999}}");
    // No MAIL_* overrides here: the environment would win over the file's bad port.
    Result r = runToEnd(Map.of(), "--config", "c.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).startsWith("mailserver: config key 'smtp.port' must be a port").doesNotContain("\n");

    Files.writeString(workDir.resolve("d.json"), "{\"smtpp\": {}}");
    r = runToEnd(Map.of(), "--config", "d.json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.stderr().strip()).startsWith("mailserver: unknown config key 'smtpp'").doesNotContain("\n");
  }

  @Test
  void portInUseStopsStartupWithOneLine() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Map<String, String> env = new java.util.HashMap<>(ephemeral());
      env.put("MAIL_SMTP_PORT", String.valueOf(busy.getLocalPort()));
      Result r = runToEnd(env);
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.stderr().strip()).startsWith("mailserver: cannot start: smtp: cannot listen").doesNotContain("\n");
    }
  }
}
