package dev.mailserver.mailstore.http;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A minimal Server-Sent Events client over java.net.http (HTTP/1.1, streaming lines): parses the
 * {@code id:}, {@code event:} and {@code data:} fields of each event and keeps comment lines apart.
 */
final class SseClient implements AutoCloseable {

  record Event(String id, String type, String data) {
    JsonObject json() {
      return new JsonObject(data);
    }
  }

  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  final HttpResponse<Stream<String>> response;
  final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  final BlockingQueue<String> comments = new LinkedBlockingQueue<>();
  /** Every line received, for non-stream (error) answers. */
  final StringBuffer raw = new StringBuffer();
  private final Thread reader;
  private volatile boolean ended;

  private SseClient(HttpResponse<Stream<String>> response) {
    this.response = response;
    this.reader = new Thread(this::read, "sse-client");
    reader.setDaemon(true);
    reader.start();
  }

  /** Connects and returns once the response headers are in (any status). */
  static SseClient connect(URI uri, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET().header("Accept", "text/event-stream");
    headers.forEach(b::header);
    return new SseClient(HTTP.send(b.build(), HttpResponse.BodyHandlers.ofLines()));
  }

  int status() {
    return response.statusCode();
  }

  private void read() {
    String id = null;
    String type = null;
    StringBuilder data = null;
    try {
      Iterator<String> it = response.body().iterator();
      while (it.hasNext()) {
        String line = it.next();
        raw.append(line).append('\n');
        if (line.isEmpty()) {
          if (data != null) {
            events.add(new Event(id, type == null ? "message" : type, data.toString()));
          }
          id = null;
          type = null;
          data = null;
        } else if (line.startsWith(":")) {
          comments.add(line);
        } else {
          int colon = line.indexOf(':');
          String field = colon < 0 ? line : line.substring(0, colon);
          String value = colon < 0 ? "" : line.substring(colon + 1);
          if (value.startsWith(" ")) {
            value = value.substring(1);
          }
          switch (field) {
            case "id" -> id = value;
            case "event" -> type = value;
            case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            default -> { } // retry: and unknown fields
          }
        }
      }
    } catch (RuntimeException e) {
      // closed by us, or the server hung up
    } finally {
      ended = true;
    }
  }

  /** The next event, or an AssertionError after the timeout. */
  Event next(long timeoutMs) throws InterruptedException {
    Event e = events.poll(timeoutMs, TimeUnit.MILLISECONDS);
    if (e == null) {
      throw new AssertionError("no event within " + timeoutMs + " ms (stream ended: " + ended + ")");
    }
    return e;
  }

  /** The next event within the time, or null. */
  Event poll(long timeoutMs) throws InterruptedException {
    return events.poll(timeoutMs, TimeUnit.MILLISECONDS);
  }

  /** The whole body of an answer that ends (an error). */
  String body() throws InterruptedException {
    if (!awaitEnd(5000)) {
      throw new AssertionError("the answer did not end");
    }
    return raw.toString();
  }

  /** Whether the server ended the stream (within the time). */
  boolean awaitEnd(long timeoutMs) throws InterruptedException {
    reader.join(timeoutMs);
    return ended;
  }

  @Override
  public void close() {
    response.body().close(); // cancels the body subscription: the connection is closed
  }
}
