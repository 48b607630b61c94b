package dev.mailserver.smtp;

import java.util.HashMap;
import java.util.Map;

/**
 * Open-connection counters of one SMTP process, over all its listeners and verticle instances: a
 * total cap and a cap per client IP, so one address (or a flood) cannot take every slot. Shared by
 * the instances on every event loop, hence synchronized (a few ns per connect and close). In a
 * cluster each node counts its own.
 */
final class ConnectionLimits {

  /** Why a connection is refused. */
  enum Refusal { TOTAL, PER_IP }

  private final int maxTotal;
  private final int maxPerIp;
  private final Map<String, Integer> perIp = new HashMap<>();
  private int total;

  ConnectionLimits(int maxTotal, int maxPerIp) {
    this.maxTotal = maxTotal;
    this.maxPerIp = maxPerIp;
  }

  /** Takes a slot for {@code ip}; returns why not when a limit is reached (nothing is taken then). */
  synchronized Refusal tryAcquire(String ip) {
    if (total >= maxTotal) {
      return Refusal.TOTAL;
    }
    int n = perIp.getOrDefault(ip, 0);
    if (n >= maxPerIp) {
      return Refusal.PER_IP;
    }
    perIp.put(ip, n + 1);
    total++;
    return null;
  }

  /** Gives back a slot taken by {@link #tryAcquire}. */
  synchronized void release(String ip) {
    Integer n = perIp.get(ip);
    if (n == null) {
      return;
    }
    if (n <= 1) {
      perIp.remove(ip);
    } else {
      perIp.put(ip, n - 1);
    }
    total--;
  }

  synchronized int total() {
    return total;
  }

  synchronized int forIp(String ip) {
    return perIp.getOrDefault(ip, 0);
  }
}
