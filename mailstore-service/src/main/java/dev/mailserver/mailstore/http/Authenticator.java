package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.MailstoreError;
import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;

/**
 * Who is calling, and may they do this. Two kinds of caller:
 * <ul>
 *   <li>the admin: {@code Authorization: Bearer <token>} (RFC 6750 section 2.1) with the configured
 *   {@code http.adminToken}, compared in constant time. With no token configured every admin route
 *   answers 403 ADMIN_DISABLED: disabled, never open;</li>
 *   <li>a mailbox owner: HTTP Basic (RFC 7617) with the mailbox's own address and password, UTF-8
 *   as announced by {@code charset="UTF-8"} in the challenge. Checked by
 *   {@link MailstoreService#authenticate} (bcrypt on the auth worker pool); verified credentials
 *   are remembered for a minute (the service's {@code CredentialCache}, shared with POP3 and SMTP logins); failures are throttled per IP and per
 *   account ({@link AuthThrottle}) with timers, never by blocking.</li>
 * </ul>
 * On success the {@link Principal} is put into the context under {@link Principal#CONTEXT_KEY}.
 * The client IP is the TCP peer: forwarded-for headers are not trusted (they are forgeable), so
 * behind a reverse proxy the per-IP limit applies to the proxy as a whole.
 */
final class Authenticator {

  static final String REALM = "mailstore";
  static final String BASIC_CHALLENGE = "Basic realm=\"" + REALM + "\", charset=\"UTF-8\"";
  static final String BEARER_CHALLENGE = "Bearer realm=\"" + REALM + "\"";
  static final String BEARER_INVALID = "Bearer realm=\"" + REALM + "\", error=\"invalid_token\"";

  private final Vertx vertx;
  private final MailstoreService service;
  private final byte[] adminTokenDigest;
  private final AuthThrottle throttle;

  Authenticator(Vertx vertx, MailstoreService service, String adminToken, AuthThrottle throttle) {
    this.vertx = vertx;
    this.service = service;
    this.adminTokenDigest = adminToken == null || adminToken.isEmpty() ? null : sha256(adminToken);
    this.throttle = throttle;
  }

  boolean adminEnabled() {
    return adminTokenDigest != null;
  }

  // ------------------------------------------------------------------------------- route guards

  /** Admin only: account administration. */
  Handler<RoutingContext> admin() {
    return ctx -> {
      if (!adminEnabled()) {
        ctx.fail(adminDisabled());
        return;
      }
      String authz = ctx.request().getHeader("Authorization");
      if (authz == null || !scheme(authz, "Bearer") && !scheme(authz, "Basic")) {
        // Only a bearer token can succeed here, so that is the only challenge offered.
        ctx.fail(new HttpError(401, "UNAUTHORIZED", "admin bearer token required", Map.of("WWW-Authenticate", BEARER_CHALLENGE)));
        return;
      }
      authenticate(ctx).onSuccess(p -> {
        if (!p.admin()) {
          ctx.fail(HttpError.forbidden("FORBIDDEN", "this route needs the admin token"));
          return;
        }
        proceed(ctx, p);
      }).onFailure(ctx::fail);
    };
  }

  /** The admin, or the owner of the mailbox named by the {@code address} path parameter. */
  Handler<RoutingContext> mailbox() {
    return ctx -> authenticate(ctx).onSuccess(p -> {
      if (!p.admin()) {
        String wanted = ctx.pathParam("address");
        String canonical = MailboxName.isValid(wanted) ? MailboxName.of(wanted).address() : null;
        if (canonical == null || !p.mayAccess(canonical)) {
          // Also for addresses that do not exist: an owner learns nothing about other mailboxes.
          ctx.fail(HttpError.forbidden("FORBIDDEN", "credentials do not give access to this mailbox"));
          return;
        }
      }
      proceed(ctx, p);
    }).onFailure(ctx::fail);
  }

  /**
   * Any authenticated caller; an owner may name only their own mailbox in the {@code mailbox}
   * query parameter (the event stream filters by it; without it an owner's stream is theirs alone).
   */
  Handler<RoutingContext> anyCaller(String mailboxQueryParam) {
    return ctx -> authenticate(ctx).onSuccess(p -> {
      String wanted = ctx.request().getParam(mailboxQueryParam);
      if (!p.admin() && wanted != null && !wanted.isEmpty()) {
        String canonical = MailboxName.isValid(wanted) ? MailboxName.of(wanted).address() : null;
        if (canonical == null || !p.mayAccess(canonical)) {
          ctx.fail(HttpError.forbidden("FORBIDDEN", "credentials do not give access to this mailbox"));
          return;
        }
      }
      proceed(ctx, p);
    }).onFailure(ctx::fail);
  }

  private static void proceed(RoutingContext ctx, Principal p) {
    ctx.put(Principal.CONTEXT_KEY, p);
    ctx.next();
  }

  // ------------------------------------------------------------------------------- authentication

  /** Establishes the principal, or fails with the HttpError to answer. */
  Future<Principal> authenticate(RoutingContext ctx) {
    String authz = ctx.request().getHeader("Authorization");
    if (authz == null || authz.isBlank()) {
      return Future.failedFuture(unauthorized("authentication required"));
    }
    String ip = clientIp(ctx);
    if (scheme(authz, "Bearer")) {
      return bearer(authz.substring(6).strip(), ip);
    }
    if (scheme(authz, "Basic")) {
      return basic(authz.substring(5).strip(), ip);
    }
    return Future.failedFuture(unauthorized("unsupported authorization scheme"));
  }

  private Future<Principal> bearer(String token, String ip) {
    if (!adminEnabled()) {
      return Future.failedFuture(adminDisabled());
    }
    String ipKey = AuthThrottle.ipKey(ip);
    long wait = throttle.retryAfterMillis(ipKey);
    if (wait > 0) {
      return Future.failedFuture(tooManyAttempts(wait));
    }
    // Digests of equal length compared with MessageDigest.isEqual: neither the token's content nor
    // its length leaks through timing.
    if (MessageDigest.isEqual(sha256(token), adminTokenDigest)) {
      return Future.succeededFuture(Principal.administrator());
    }
    long delay = throttle.failure(ipKey);
    return later(delay, new HttpError(401, "UNAUTHORIZED", "invalid admin token", Map.of("WWW-Authenticate", BEARER_INVALID)));
  }

  private Future<Principal> basic(String encoded, String ip) {
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(unauthorized("malformed Basic credentials"));
    }
    int colon = decoded.indexOf(':'); // RFC 7617: the user-id cannot contain a colon, the password can
    if (colon < 0) {
      return Future.failedFuture(unauthorized("malformed Basic credentials"));
    }
    String address = decoded.substring(0, colon).strip();
    String password = decoded.substring(colon + 1);
    String cached = service == null ? null : service.verifiedRecently(address, password);
    if (cached != null) {
      return Future.succeededFuture(Principal.owner(cached));
    }
    if (service == null) {
      return Future.failedFuture(new HttpError(503, "UNAVAILABLE", "the mailstore is not available",
          Map.of("Retry-After", HttpErrors.RETRY_AFTER_UNAVAILABLE)));
    }
    String ipKey = AuthThrottle.ipKey(ip);
    String accountKey = AuthThrottle.accountKey(address.toLowerCase(Locale.ROOT));
    long wait = throttle.retryAfterMillis(ipKey, accountKey);
    if (wait > 0) {
      return Future.failedFuture(tooManyAttempts(wait));
    }
    return service.authenticate(address, password).transform(ar -> {
      if (ar.succeeded()) {
        String canonical = ar.result();
        throttle.success(accountKey);
        return Future.succeededFuture(Principal.owner(canonical));
      }
      MailstoreException me = MailstoreException.from(ar.cause());
      if (me.error() != MailstoreError.AUTH_FAILED && me.error() != MailstoreError.INVALID_REQUEST) {
        return Future.failedFuture(me); // the store is unavailable: 503, not the caller's fault
      }
      long delay = throttle.failure(ipKey, accountKey);
      return later(delay, unauthorized("invalid credentials"));
    });
  }

  /** Fails after {@code delayMs} on a timer: the event loop goes on serving everybody else. */
  private <T> Future<T> later(long delayMs, HttpError error) {
    if (delayMs <= 0) {
      return Future.failedFuture(error);
    }
    Promise<T> p = Promise.promise();
    vertx.setTimer(delayMs, id -> p.fail(error));
    return p.future();
  }

  private static HttpError unauthorized(String message) {
    return new HttpError(401, "UNAUTHORIZED", message, Map.of("WWW-Authenticate", BASIC_CHALLENGE + ", " + BEARER_CHALLENGE));
  }

  private static HttpError adminDisabled() {
    return HttpError.forbidden("ADMIN_DISABLED", "admin routes are disabled: no http.adminToken is configured");
  }

  private static HttpError tooManyAttempts(long waitMillis) {
    long seconds = Math.max(1, (waitMillis + 999) / 1000);
    return new HttpError(429, "TOO_MANY_ATTEMPTS", "too many failed attempts; retry after " + seconds + " s",
        Map.of("Retry-After", Long.toString(seconds)));
  }

  /** Auth schemes are case-insensitive (RFC 7235 section 2.1). */
  private static boolean scheme(String authz, String scheme) {
    return authz.length() > scheme.length() && authz.regionMatches(true, 0, scheme, 0, scheme.length())
        && authz.charAt(scheme.length()) == ' ';
  }

  static String clientIp(RoutingContext ctx) {
    SocketAddress a = ctx.request().remoteAddress();
    String ip = a == null ? null : a.hostAddress();
    return ip == null ? "unknown" : ip;
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is mandatory in every JRE", e);
    }
  }
}
