package dev.mailserver.mailstore.http;

import dev.mailserver.mailstore.MailstoreOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;

/**
 * The HTTP API's settings. Most come from {@link MailstoreOptions} ({@code http.adminToken},
 * {@code domains}); the brute-force throttle can be tuned under {@code http.authThrottle}:
 * {@code baseDelayMs} (500), {@code maxDelayMs} (8000), {@code lockoutAfter} (10 failures),
 * {@code lockoutSeconds} (300). See {@link AuthThrottle} for what they mean.
 *
 * @param adminToken         the bearer token of the admin; empty = admin routes disabled (403)
 * @param domains            the domains accounts may be created in
 * @param throttle           failed-login throttling
 * @param bodyLimit          the largest request body accepted, in bytes (413 beyond)
 * @param summaryCacheSize   parsed message summaries kept (ids are immutable, so entries never go stale)
 */
public record HttpApiConfig(String adminToken, List<String> domains, AuthThrottle.Policy throttle,
                            long bodyLimit, int summaryCacheSize) {

  public static final long DEFAULT_BODY_LIMIT = 64 * 1024;
  public static final int DEFAULT_SUMMARY_CACHE = 20_000;

  public HttpApiConfig {
    adminToken = adminToken == null ? "" : adminToken;
    domains = List.copyOf(domains);
  }

  public static HttpApiConfig defaults(String adminToken, List<String> domains) {
    return new HttpApiConfig(adminToken, domains, AuthThrottle.Policy.DEFAULT, 
        DEFAULT_BODY_LIMIT, DEFAULT_SUMMARY_CACHE);
  }

  /** From the parsed options plus the raw configuration (for {@code http.authThrottle}); IllegalArgumentException naming the key. */
  public static HttpApiConfig from(MailstoreOptions options, JsonObject config) {
    JsonObject http = config == null ? null : config.getValue("http") instanceof JsonObject o ? o : null;
    Object t = http == null ? null : http.getValue("authThrottle");
    AuthThrottle.Policy d = AuthThrottle.Policy.DEFAULT;
    AuthThrottle.Policy policy = d;
    if (t != null) {
      if (!(t instanceof JsonObject th)) {
        throw new IllegalArgumentException("http.authThrottle must be an object");
      }
      long base = number(th, "baseDelayMs", d.baseDelay().toMillis());
      long max = number(th, "maxDelayMs", d.maxDelay().toMillis());
      long after = number(th, "lockoutAfter", d.lockoutAfter());
      long lockout = number(th, "lockoutSeconds", d.lockout().toSeconds());
      if (max < base) {
        throw new IllegalArgumentException("http.authThrottle.maxDelayMs must be >= baseDelayMs");
      }
      if (after < 1 || after > 1_000_000) {
        throw new IllegalArgumentException("http.authThrottle.lockoutAfter must be 1-1000000");
      }
      policy = new AuthThrottle.Policy(Duration.ofMillis(base), Duration.ofMillis(max), (int) after,
          Duration.ofSeconds(lockout), d.forgetAfter(), d.maxEntries());
    }
    return new HttpApiConfig(options.httpAdminToken(), options.domains(), policy, 
        DEFAULT_BODY_LIMIT, DEFAULT_SUMMARY_CACHE);
  }

  private static long number(JsonObject o, String key, long def) {
    Object v = o.getValue(key, def);
    if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < 0) {
      throw new IllegalArgumentException("http.authThrottle." + key + " must be a whole number >= 0: " + v);
    }
    return ((Number) v).longValue();
  }

  @Override
  public String toString() {
    return "HttpApiConfig[adminToken=" + (adminToken.isEmpty() ? "none" : "set") + ", domains=" + domains
        + ", throttle=" + throttle + "]";
  }
}
