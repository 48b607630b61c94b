package dev.mailserver.pop3;

import dev.mailserver.common.security.LoginThrottle;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.LocalMap;
import io.vertx.core.shareddata.Shareable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Abuse limits shared by every instance of one POP3 deployment (a deployment with N instances has
 * N verticles and N event loops but one set of limits): open connections in total and per client
 * address, and the {@link LoginThrottle}. Kept in a Vert.x local map under the deployment id, so
 * instances find the same object; it is per process, like {@link LoginThrottle} itself: in a
 * cluster every node limits on its own.
 * Thread-safe.
 */
final class ConnectionLimits implements Shareable {

  /** Why a connection was refused. */
  enum Refusal { TOTAL, PER_IP }

  private static final String MAP = "pop3.limits";

  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentHashMap<String, Integer> perIp = new ConcurrentHashMap<>();
  private final LoginThrottle throttle;

  ConnectionLimits(LoginThrottle throttle) {
    this.throttle = throttle;
  }

  /** The limits of this deployment, created by the first instance that asks. */
  static ConnectionLimits forDeployment(Vertx vertx, String deploymentId, LoginThrottle.Settings throttle) {
    LocalMap<String, ConnectionLimits> map = vertx.sharedData().getLocalMap(MAP);
    ConnectionLimits fresh = new ConnectionLimits(new LoginThrottle(throttle));
    ConnectionLimits existing = map.putIfAbsent(deploymentId, fresh);
    return existing == null ? fresh : existing;
  }

  /** Drops the deployment's entry (its last instance stops; others keep their reference). */
  static void forget(Vertx vertx, String deploymentId) {
    vertx.sharedData().<String, ConnectionLimits>getLocalMap(MAP).remove(deploymentId);
  }

  LoginThrottle throttle() {
    return throttle;
  }

  /** Counts the connection in, or says which limit refuses it (then nothing is counted). */
  Refusal tryOpen(String ip, int maxTotal, int maxPerIp) {
    if (open.incrementAndGet() > maxTotal) {
      open.decrementAndGet();
      return Refusal.TOTAL;
    }
    boolean[] refused = {false};
    perIp.compute(ip, (k, n) -> {
      int now = n == null ? 0 : n;
      if (now >= maxPerIp) {
        refused[0] = true;
        return n;
      }
      return now + 1;
    });
    if (refused[0]) {
      open.decrementAndGet();
      return Refusal.PER_IP;
    }
    return null;
  }

  /** A connection counted by {@link #tryOpen} is closed. */
  void closed(String ip) {
    open.decrementAndGet();
    perIp.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
  }

  int open() {
    return open.get();
  }
}
