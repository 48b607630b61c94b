package dev.mailserver.mailstore.http;

import dev.mailserver.common.bus.MailstoreException;
import dev.mailserver.mailstore.MailstoreService;
import dev.mailserver.mailstore.accounts.Accounts;
import dev.mailserver.mailstore.store.MailboxName;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * {@code /api/v1/accounts}: account administration for the admin. Changes go through
 * {@link MailstoreService} to the accounts file's locked update path, so a created account
 * receives mail (SMTP) and can log in (POP3, HTTP) at once, in this and every other instance
 * sharing the data directory.
 */
final class AccountsApi {

  private final MailstoreService service;
  private final MessageIndex index;
  private final List<String> domains;

  AccountsApi(MailstoreService service, MessageIndex index, List<String> domains) {
    this.service = service;
    this.index = index;
    this.domains = domains;
  }

  static String location(String address) {
    return "/api/v1/accounts/" + URLEncoder.encode(address, StandardCharsets.UTF_8);
  }

  /** The address, canonical and in a configured domain; 400 otherwise. */
  private String acceptableAddress(String address) {
    if (!MailboxName.isValid(address)) {
      throw HttpError.badRequest("INVALID_ADDRESS", "not a valid mailbox address");
    }
    MailboxName m = MailboxName.of(address);
    if (!domains.contains(m.domain())) {
      throw HttpError.badRequest("DOMAIN_NOT_ALLOWED", "the domain " + m.domain() + " is not one of " + domains);
    }
    return m.address();
  }

  private static void checkPassword(String address, String password) {
    PasswordPolicy.weakness(address, password).ifPresent(why -> {
      throw HttpError.badRequest("WEAK_PASSWORD", why);
    });
  }

  void create(RoutingContext ctx) {
    JsonObject body = Responses.body(ctx);
    String address = acceptableAddress(Responses.string(body, "address"));
    String password = Responses.string(body, "password");
    checkPassword(address, password);
    service.createAccount(address, password).onSuccess(created -> {
      if (!created) {
        ctx.fail(new HttpError(409, "ACCOUNT_EXISTS", "an account " + address + " already exists"));
        return;
      }
      ctx.response().putHeader("Location", location(address));
      Responses.json(ctx, 201, new JsonObject().put("address", address));
    }).onFailure(ctx::fail);
  }

  void list(RoutingContext ctx) {
    service.accounts()
        .compose(accounts -> MessageIndex.mapBounded(accounts, this::describe))
        .onSuccess(list -> Responses.json(ctx, 200,
            new JsonObject().put("total", list.size()).put("accounts", new JsonArray(List.copyOf(list)))))
        .onFailure(ctx::fail);
  }

  void get(RoutingContext ctx) {
    String address = MailboxName.of(ctx.pathParam("address")).address();
    find(address).compose(a -> describe(a))
        .onSuccess(j -> Responses.json(ctx, 200, j))
        .onFailure(ctx::fail);
  }

  /**
   * An account as JSON; messageCount is one directory listing of its mailbox (null when that
   * fails), which is cheap next to anything that reads messages.
   */
  private Future<JsonObject> describe(Accounts.Account a) {
    JsonObject j = new JsonObject().put("address", a.address()).put("createdAt", a.createdAt().toString());
    return service.list(a.address()).map(l -> j.put("messageCount", l.size()))
        .otherwise(t -> j.put("messageCount", (Integer) null));
  }

  private Future<Accounts.Account> find(String address) {
    return service.accounts().compose(all -> {
      Optional<Accounts.Account> a = all.stream().filter(x -> x.address().equals(address)).findFirst();
      return a.map(Future::succeededFuture)
          .orElseGet(() -> Future.failedFuture(HttpError.notFound("ACCOUNT_NOT_FOUND", "no account " + address)));
    });
  }

  /**
   * Deletes the account and all its mail, only with {@code ?confirm=true}. Mail is deleted first
   * (through the service, so deletion events are published), then the account, then mail once
   * more in case a delivery was in flight; a failure part-way leaves the account in place so the
   * request can simply be repeated.
   */
  void delete(RoutingContext ctx) {
    String address = MailboxName.of(ctx.pathParam("address")).address();
    if (!"true".equals(ctx.request().getParam("confirm"))) {
      throw HttpError.badRequest("CONFIRMATION_REQUIRED",
          "deleting an account deletes all its mail too; repeat the request with ?confirm=true");
    }
    find(address)
        .compose(a -> sweep(address))
        .compose(first -> service.deleteAccount(address).compose(deleted -> sweep(address).map(second -> first + second)))
        .onSuccess(n -> Responses.json(ctx, 200, new JsonObject().put("address", address).put("deletedMessages", n)))
        .onFailure(ctx::fail);
  }

  private Future<Integer> sweep(String address) {
    return MessagesApi.deleteAllMail(service, index, address).recover(t -> {
      if (t instanceof MailstoreException me && me.error() == dev.mailserver.common.bus.MailstoreError.MAILBOX_NOT_FOUND) {
        return Future.succeededFuture(0);
      }
      return Future.failedFuture(t);
    });
  }

  void changePassword(RoutingContext ctx) {
    String address = MailboxName.of(ctx.pathParam("address")).address();
    String password = Responses.string(Responses.body(ctx), "password");
    checkPassword(address, password);
    service.changePassword(address, password).onSuccess(changed -> {
      if (!changed) {
        ctx.fail(HttpError.notFound("ACCOUNT_NOT_FOUND", "no account " + address));
        return;
      }
      ctx.response().setStatusCode(204).end();
    }).onFailure(ctx::fail);
  }
}
