package dev.mailserver.common.bus;

import dev.mailserver.common.model.DeliverRequest;
import io.vertx.core.Vertx;

/** Registers the contract's codecs. Call once per Vert.x instance, on every node of a cluster. */
public final class Codecs {
  private Codecs() {}

  /** Idempotent: registering twice on the same instance is a no-op. */
  public static synchronized void register(Vertx vertx) {
    try {
      vertx.eventBus().registerDefaultCodec(DeliverRequest.class, new DeliverRequestCodec());
    } catch (IllegalStateException alreadyRegistered) {
      // Another verticle of this instance registered it first.
    }
  }
}
