package dev.mailserver.smtp;

import java.security.SecureRandom;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Short unique transaction ids ("queue ids" in Postfix terms), e.g. {@code 1J3K9XQ2ABCD0007}:
 * time in seconds, a per-process random tag (several SMTP nodes share one mailstore) and a counter.
 * Only [0-9A-Z], so they are safe in headers, file names and logs.
 */
public final class QueueIds {
  private static final String PROCESS_TAG = randomTag();
  private static final AtomicLong COUNTER = new AtomicLong();

  private QueueIds() {}

  public static String next() {
    long n = COUNTER.getAndIncrement() & 0xFFFFFL;
    String count = Long.toString(n, 36).toUpperCase(Locale.ROOT);
    String seconds = Long.toString(System.currentTimeMillis() / 1000, 36).toUpperCase(Locale.ROOT);
    return seconds + PROCESS_TAG + "0".repeat(4 - count.length()) + count;
  }

  private static String randomTag() {
    SecureRandom r = new SecureRandom();
    StringBuilder sb = new StringBuilder(5);
    for (int i = 0; i < 5; i++) {
      sb.append(Character.toUpperCase(Character.forDigit(r.nextInt(36), 36)));
    }
    return sb.toString();
  }
}
