package dev.mailserver.mailstore.http;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An HTTP-level failure with its status, stable error code and extra response headers
 * (WWW-Authenticate, Retry-After). Thrown or passed to {@code ctx.fail}; {@link HttpErrors}
 * renders it as {@code {"error": code, "message": ...}}.
 */
public final class HttpError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;
  private final Map<String, String> headers;

  public HttpError(int status, String code, String message) {
    this(status, code, message, Map.of());
  }

  public HttpError(int status, String code, String message, Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.headers = Map.copyOf(new LinkedHashMap<>(headers));
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }

  public Map<String, String> headers() {
    return headers;
  }

  static HttpError badRequest(String code, String message) {
    return new HttpError(400, code, message);
  }

  static HttpError notFound(String code, String message) {
    return new HttpError(404, code, message);
  }

  static HttpError forbidden(String code, String message) {
    return new HttpError(403, code, message);
  }
}
