package dev.mailserver.mailstore.store;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Unique Maildir file names (cr.yp.to/proto/maildir.html, in the Dovecot style):
 * {@code <seconds>.M<micros>P<pid>Q<counter>R<random>.<host>,S=<size>}.
 * Unique across threads (counter and a per-process monotonic clock), across processes on one host
 * (pid) and across hosts sharing the directory (host name, plus 32 random bits because containers
 * often all run as pid 1).
 */
public final class MaildirNames {
  private final String host;
  private final long pid;
  private final AtomicLong counter = new AtomicLong();
  /** Last timestamp handed out, in epoch microseconds; names of one process never go back in time. */
  private final AtomicLong lastMicros = new AtomicLong();

  public MaildirNames(String hostname) {
    this(hostname, ProcessHandle.current().pid());
  }

  MaildirNames(String hostname, long pid) {
    this.host = sanitizeHost(hostname);
    this.pid = pid;
  }

  /** A new unique name for a file of {@code size} octets. */
  public String next(long size) {
    long micros = nextMicros();
    // Built by hand: String.format and a SecureRandom draw per delivery showed in the ingest profile.
    // The random part only tells hosts apart that share a name and a pid; uniqueness within one
    // process comes from the counter, so a non-cryptographic draw is enough.
    String frac = Long.toString(micros % 1_000_000);
    String rnd = Integer.toHexString(ThreadLocalRandom.current().nextInt());
    StringBuilder b = new StringBuilder(64 + host.length());
    b.append(micros / 1_000_000).append(".M");
    b.append("000000", frac.length(), 6).append(frac);
    b.append('P').append(pid).append('Q').append(counter.incrementAndGet()).append('R');
    b.append("00000000", rnd.length(), 8).append(rnd);
    return b.append('.').append(host).append(",S=").append(size).toString();
  }

  /**
   * Wall clock in microseconds, but strictly increasing within this process so that sequential
   * deliveries list in delivery order even when the clock is coarse or steps back.
   */
  private long nextMicros() {
    Instant now = Instant.now();
    long wall = now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
    return lastMicros.updateAndGet(last -> Math.max(last + 1, wall));
  }

  public String host() {
    return host;
  }

  /**
   * Maildir escapes '/' as \057 and ':' as \072 in the host part; ',' (our size separator), '\',
   * non-ASCII and control characters and a second consecutive '.' are escaped the same way, so a
   * name never contains a path separator, a flag separator or "..".
   */
  static String sanitizeHost(String hostname) {
    String h = hostname == null || hostname.isBlank() ? "localhost" : hostname.strip();
    StringBuilder b = new StringBuilder();
    char prev = 0;
    for (byte x : h.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (x & 0xff);
      boolean plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
          || (c == '.' && prev != '.' && b.length() > 0);
      if (plain) {
        b.append(c);
      } else {
        b.append('\\').append(String.format("%03o", (int) c));
      }
      prev = c;
    }
    return b.toString();
  }

  /**
   * Receive time in epoch microseconds encoded in a Maildir name: the leading seconds, plus
   * {@code M<micros>} when the name has it (Dovecot/ours); -1 for names that carry no time.
   */
  public static long parseMicros(String name) {
    int dot = name.indexOf('.');
    if (dot <= 0 || dot > 12) {
      return -1;
    }
    long seconds;
    try {
      seconds = Long.parseLong(name.substring(0, dot));
    } catch (NumberFormatException e) {
      return -1;
    }
    int end = name.indexOf('.', dot + 1);
    String unique = end < 0 ? name.substring(dot + 1) : name.substring(dot + 1, end);
    long micros = 0;
    int m = unique.indexOf('M');
    if (m >= 0) {
      int i = m + 1;
      while (i < unique.length() && unique.charAt(i) >= '0' && unique.charAt(i) <= '9' && i - m <= 6) {
        i++;
      }
      if (i > m + 1) {
        micros = Long.parseLong(unique.substring(m + 1, i));
      }
    }
    return seconds * 1_000_000 + micros;
  }
}
