package dev.mailserver.common.http;

import io.vertx.core.http.HttpServerOptions;

/** Options every HTTP listener of the system starts from (the mailstore's API, the management probes). */
public final class HttpServers {
  private HttpServers() {}

  /**
   * HTTP/1.1 on cleartext, no h2c upgrade (RFC 7540 section 3.2). Java 17's built-in HttpClient asks
   * for the upgrade by default, and against Vert.x's h2c about one request in nine never completed
   * (33 of 300 here; curl's upgrade was fine). JSON and server-sent events gain nothing from HTTP/2.
   */
  public static HttpServerOptions options() {
    return new HttpServerOptions().setHttp2ClearTextEnabled(false);
  }
}
