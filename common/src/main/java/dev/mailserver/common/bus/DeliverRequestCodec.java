package dev.mailserver.common.bus;

import dev.mailserver.common.model.DeliverRequest;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.json.JsonObject;

/**
 * Wire form of a {@link DeliverRequest}: {@code [int envelopeLength][envelope JSON][int contentLength][content]}.
 * The message bytes are copied once into the frame and never re-encoded (no base64, no String).
 */
public final class DeliverRequestCodec implements MessageCodec<DeliverRequest, DeliverRequest> {

  public static final String NAME = "mailserver.DeliverRequest";

  @Override
  public void encodeToWire(Buffer buffer, DeliverRequest req) {
    Buffer env = req.envelopeJson().toBuffer();
    buffer.appendInt(env.length()).appendBuffer(env);
    buffer.appendInt(req.content().length()).appendBuffer(req.content());
  }

  @Override
  public DeliverRequest decodeFromWire(int pos, Buffer buffer) {
    int envLen = buffer.getInt(pos);
    pos += 4;
    JsonObject env = new JsonObject(buffer.getBuffer(pos, pos + envLen));
    pos += envLen;
    int contentLen = buffer.getInt(pos);
    pos += 4;
    return DeliverRequest.fromEnvelope(env, buffer.getBuffer(pos, pos + contentLen));
  }

  /** Local delivery passes the record itself: it is immutable by contract (nobody writes to content). */
  @Override
  public DeliverRequest transform(DeliverRequest req) {
    return req;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
