package dev.mailserver.smtp;

import java.util.HashMap;
import java.util.Map;

/**
 * Open-connection counters of one SMTP verticle instance, over all its listeners: a total cap and
 * a cap per client IP, so one address (or a flood) cannot take every slot. Not thread-safe: used
 * from the verticle's event loop only (all its servers' connect and close handlers run there).
 * The launcher deploys one instance per process, so the limits are per process; in a cluster each
 * node counts its own.
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
  Refusal tryAcquire(String ip) {
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
  void release(String ip) {
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

  int total() {
    return total;
  }

  int forIp(String ip) {
    return perIp.getOrDefault(ip, 0);
  }
}
