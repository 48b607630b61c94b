package dev.mailserver.mailstore.http;

import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.parse.HeaderField;
import dev.mailserver.mailstore.parse.MailAddress;
import dev.mailserver.mailstore.parse.MessageSummary;
import dev.mailserver.mailstore.parse.ParsedMessage;
import dev.mailserver.mailstore.parse.PartInfo;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;

/** The JSON shapes of messages; the OpenAPI schemas MessageItem and MessageDetail describe them. */
final class MessageJson {
  private MessageJson() {}

  /** A listing item: store fields (id, size, receivedAt) plus the parsed summary. */
  static JsonObject item(MessageInfo info, MessageSummary s) {
    return new JsonObject()
        .put("id", info.id())
        .put("from", s.from() == null ? null : s.from().toJson())
        .put("to", addresses(s.to()))
        .put("cc", addresses(s.cc()))
        .put("subject", s.subject())
        .put("date", s.date() == null ? null : s.date().toString())
        .put("size", info.size())
        .put("receivedAt", Instant.ofEpochMilli(info.receivedAt()).toString())
        .put("hasAttachments", s.hasAttachments())
        .put("snippet", s.snippet())
        .put("messageId", s.messageId());
  }

  /** The detail view: the item's fields and headers, bodies and attachments. */
  static JsonObject detail(MessageInfo info, ParsedMessage m) {
    JsonObject j = item(info, m.summary());
    JsonArray headers = new JsonArray();
    for (HeaderField h : m.headers()) {
      headers.add(new JsonObject().put("name", h.name()).put("value", h.value()));
    }
    JsonArray attachments = new JsonArray();
    for (PartInfo p : m.attachments()) {
      attachments.add(new JsonObject()
          .put("partId", p.partId())
          .put("filename", p.filename())
          .put("contentType", p.contentType())
          .put("charset", p.charset())
          .put("size", p.size())
          .put("disposition", p.disposition())
          .put("contentId", p.contentId())
          .put("attachment", p.attachment()));
    }
    return j.put("replyTo", addresses(m.replyTo()))
        .put("bcc", addresses(m.bcc()))
        .put("headers", headers)
        .put("text", m.text())
        .put("html", m.html())
        .put("attachments", attachments)
        .put("problem", m.problem());
  }

  static JsonArray addresses(List<MailAddress> list) {
    JsonArray a = new JsonArray();
    list.forEach(x -> a.add(x.toJson()));
    return a;
  }
}
