package dev.mailserver.common.bus;

/**
 * Event-bus addresses of the mailstore API. One consumer per address lives in the mailstore
 * service; SMTP, POP3 and third-party consumers talk to it only through these names.
 * The request/reply shapes are documented in {@code common/README.md}.
 */
public final class Addresses {
  private Addresses() {}

  private static final String PREFIX = "mailstore.";

  /** Request: {@link dev.mailserver.common.model.DeliverRequest} (custom codec). Reply: DeliverResult JSON. */
  public static final String DELIVER = PREFIX + "deliver";
  /** Request: {"mailbox"}. Reply: {"mailbox","messages":[MessageInfo...]}, oldest first. */
  public static final String LIST = PREFIX + "list";
  /** Request: {"mailbox","id"[,"bodyLines"]}. Reply: the stored bytes as a Buffer. */
  public static final String FETCH = PREFIX + "fetch";
  /** Request: {"mailbox","ids":[...]}. Reply: {"deleted":n,"missing":[ids]}. */
  public static final String DELETE = PREFIX + "delete";
  /** Request: {"address","password"}. Reply: {"address"} (canonical) or failure AUTH_FAILED. */
  public static final String AUTHENTICATE = PREFIX + "authenticate";
  /** Request: {"address"}. Reply: {"address","exists":bool}. */
  public static final String MAILBOX_EXISTS = PREFIX + "mailbox.exists";
  /** Request: anything. Reply: {"status":"ok","node":...}; used by readiness checks. */
  public static final String PING = PREFIX + "ping";

  /** Published (not sent) after every committed delivery, one event per stored copy: MailEvent JSON. */
  public static final String EVENTS_NEW = PREFIX + "events.new";
  /** Published after a message is deleted (POP3 UPDATE, HTTP DELETE): MailEvent JSON, type message.deleted. */
  public static final String EVENTS_DELETED = PREFIX + "events.deleted";
  /**
   * Request: {"after": eventId or "" for the oldest retained, "mailbox"?: filter, "limit"?: n (default 1000)}.
   * Reply: EventPage JSON {"events":[MailEvent...], "lastEventId", "truncated"}; a consumer that was away
   * asks with the last id it saw and pages until "events" is empty.
   */
  public static final String EVENTS_SINCE = PREFIX + "events.since";
}
