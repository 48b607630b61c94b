package dev.mailserver.mailstore.http;

import dev.mailserver.common.model.MessageInfo;
import dev.mailserver.mailstore.parse.MessageSummary;
import io.vertx.core.MultiMap;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * The query of a search or wait: case-insensitive substring matches on decoded fields
 * ({@code from}: the From name or address; {@code to}: any To or Cc name or address;
 * {@code subject}; {@code text}: the text body, or the HTML body's text) and a receivedAt range
 * ({@code since} inclusive, {@code before} exclusive). Dates are ISO-8601: a date
 * ({@code 2025-06-01}, midnight UTC), a date-time with offset ({@code 2025-06-01T10:00:00+02:00} or
 * {@code ...Z}), or a local date-time taken as UTC. Empty parameters are ignored.
 */
record SearchFilter(String from, String to, String subject, String text, Instant since, Instant before) {

  static SearchFilter fromQuery(MultiMap q) {
    return new SearchFilter(needle(q.get("from")), needle(q.get("to")), needle(q.get("subject")),
        needle(q.get("text")), instant("since", q.get("since")), instant("before", q.get("before")));
  }

  boolean needsText() {
    return text != null;
  }

  boolean inRange(MessageInfo info) {
    return (since == null || info.receivedAt() >= since.toEpochMilli())
        && (before == null || info.receivedAt() < before.toEpochMilli());
  }

  /** Everything except {@code text}, which needs the full parse. */
  boolean matchesSummary(MessageSummary s) {
    if (from != null && (s.from() == null || !s.from().matches(from))) {
      return false;
    }
    if (to != null && s.to().stream().noneMatch(a -> a.matches(to)) && s.cc().stream().noneMatch(a -> a.matches(to))) {
      return false;
    }
    return subject == null || s.subject().toLowerCase(Locale.ROOT).contains(subject);
  }

  boolean matchesText(String body) {
    return text == null || body != null && body.toLowerCase(Locale.ROOT).contains(text);
  }

  private static String needle(String v) {
    return v == null || v.isBlank() ? null : v.strip().toLowerCase(Locale.ROOT);
  }

  static Instant instant(String name, String v) {
    if (v == null || v.isBlank()) {
      return null;
    }
    String s = v.strip();
    try {
      return OffsetDateTime.parse(s).toInstant();
    } catch (DateTimeParseException e) {
      // try the next form
    }
    try {
      return LocalDateTime.parse(s).toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      // try the next form
    }
    try {
      return LocalDate.parse(s).atStartOfDay(ZoneOffset.UTC).toInstant();
    } catch (DateTimeParseException e) {
      throw HttpError.badRequest("INVALID_PARAMETER", name + " must be an ISO-8601 date or date-time: " + s);
    }
  }
}
