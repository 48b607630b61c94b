package dev.mailserver.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The runnable jar as a child process, for integration tests: output captured, ports parsed. */
final class JarProcess implements AutoCloseable {

  static final Path JAR = Path.of(System.getProperty("mailserver.jar", "target/mailserver.jar")).toAbsolutePath();
  static final Pattern LISTEN = Pattern.compile("^\\s*(SMTP|SMTPS|submission|POP3|POP3S|HTTP|management)\\s+\\S+:(\\d+).*$");
  static final Pattern MEMBER = Pattern.compile("^\\s*cluster\\s+\\S+ member (\\S+:\\d+)\\s*$");
  static final Pattern STARTED = Pattern.compile("^\\s*management\\s+\\S+:\\d+.*$");

  final String name;
  final Process process;
  final List<String> out = new CopyOnWriteArrayList<>();

  private JarProcess(String name, Process process) {
    this.name = name;
    this.process = process;
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String l;
        while ((l = r.readLine()) != null) {
          out.add(l);
          if (Boolean.getBoolean("mailserver.it.echo")) {
            System.out.println("[" + name + "] " + l);
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "output-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  static ProcessBuilder builder(Path workDir, Map<String, String> env, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", JAR.toString()));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("MAIL_"));
    pb.environment().putAll(env);
    return pb;
  }

  /** Starts the jar and waits until it printed its start-up summary (the management line is last). */
  static JarProcess start(String name, Path workDir, Map<String, String> env, String... args) throws Exception {
    JarProcess p = new JarProcess(name, builder(workDir, env, List.of(args)).redirectErrorStream(true).start());
    p.awaitLine(STARTED.asMatchPredicate(), 120);
    return p;
  }

  /** Loopback-only, ephemeral ports for every listener. */
  static Map<String, String> ephemeralEnv() {
    Map<String, String> env = new java.util.HashMap<>();
    for (String service : List.of("SMTP", "POP3", "HTTP", "MANAGEMENT")) {
      env.put("MAIL_" + service + "_HOST", "127.0.0.1");
      env.put("MAIL_" + service + "_PORT", "0");
    }
    env.put("MAIL_SMTP_SUBMISSION_PORT", "0");
    env.put("MAIL_SMTP_SMTPS_PORT", "0");
    env.put("MAIL_POP3_POP3S_PORT", "0");
    // Loopback tests log in without TLS first.
    env.put("MAIL_SMTP_ALLOW_PLAINTEXT_AUTH", "true");
    env.put("MAIL_POP3_ALLOW_PLAINTEXT_AUTH", "true");
    return Map.copyOf(env);
  }

  void awaitLine(Predicate<String> match, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (out.stream().noneMatch(match)) {
      assertThat(process.isAlive()).as(name + " exited early:\n" + text()).isTrue();
      assertThat(System.nanoTime()).as(name + " did not print the expected line in time:\n" + text()).isLessThan(deadline);
      Thread.sleep(50);
    }
  }

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
    throw new AssertionError("no " + service + " port in output of " + name + ":\n" + text());
  }

  String member() {
    for (String l : out) {
      Matcher m = MEMBER.matcher(l);
      if (m.matches()) {
        return m.group(1);
      }
    }
    throw new AssertionError("no cluster member line in output of " + name + ":\n" + text());
  }

  /** SIGKILL: no shutdown hook runs, as in a crash or an OOM kill. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  /** SIGTERM: the shutdown hook drains and leaves the cluster. */
  void terminate() {
    process.destroy();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
