package dev.mailserver.common.net;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Listen ports for a listener that several verticle instances share (one per event loop). Vert.x
 * shares a bound socket between servers of one Vertx that listen on the same host and port, but
 * not for port 0: each such server binds a random port of its own. A negative port {@code -k}
 * means "random, shared with every other server listening on {@code -k}": the first binds an
 * ephemeral port and later ones are handed the same socket. So an ephemeral (0) listener gets one
 * key here, and every instance of it listens on that key.
 */
public final class ListenPorts {

  private static final AtomicInteger NEXT = new AtomicInteger();

  private ListenPorts() {}

  /** A key no other listener in this JVM has. */
  public static int newSharedKey() {
    return -NEXT.incrementAndGet();
  }

  /** What to pass to {@code NetServerOptions.setPort}: the configured port, or the shared key for 0. */
  public static int forListen(int configured, int sharedKey) {
    return configured == 0 ? sharedKey : configured;
  }
}
