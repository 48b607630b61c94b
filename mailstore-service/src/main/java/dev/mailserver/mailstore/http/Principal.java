package dev.mailserver.mailstore.http;

/**
 * Who made an HTTP request, as established by the authentication handler and stored in the
 * RoutingContext under {@link #CONTEXT_KEY}: the admin (bearer token) or one mailbox owner (HTTP
 * Basic with the mailbox's own address and password).
 *
 * @param admin   true for the admin token
 * @param mailbox the owner's canonical address; null for the admin
 */
public record Principal(boolean admin, String mailbox) {

  public static final String CONTEXT_KEY = "mailserver.principal";

  public static Principal administrator() {
    return new Principal(true, null);
  }

  public static Principal owner(String mailbox) {
    return new Principal(false, mailbox);
  }

  /** The admin sees every mailbox; an owner only their own. */
  public boolean mayAccess(String canonicalMailbox) {
    return admin || (mailbox != null && mailbox.equals(canonicalMailbox));
  }
}
