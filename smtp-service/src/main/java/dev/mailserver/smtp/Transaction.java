package dev.mailserver.smtp;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One mail transaction's envelope (RFC 5321 section 3.3): from MAIL to the end of DATA, RSET, or a
 * new HELO/EHLO. Recipients are canonical mailbox addresses, deduplicated, in the order accepted.
 */
public final class Transaction {
  private final String queueId;
  private final String sender;
  private final boolean smtputf8;
  private final boolean eightBitMime;
  private final Set<String> recipients = new LinkedHashSet<>();

  public Transaction(String queueId, String sender, boolean smtputf8, boolean eightBitMime) {
    this.queueId = queueId;
    this.sender = sender;
    this.smtputf8 = smtputf8;
    this.eightBitMime = eightBitMime;
  }

  /** The id in the Received header, the 250 reply and the DeliverRequest. */
  public String queueId() {
    return queueId;
  }

  /** The reverse-path without brackets; "" for the null sender. */
  public String sender() {
    return sender;
  }

  /** MAIL carried SMTPUTF8 (RFC 6531): UTF-8 addresses are allowed in this transaction. */
  public boolean smtputf8() {
    return smtputf8;
  }

  /** MAIL carried BODY=8BITMIME (RFC 6152). Informational: we store 8-bit data either way. */
  public boolean eightBitMime() {
    return eightBitMime;
  }

  public boolean hasRecipient(String canonical) {
    return recipients.contains(canonical);
  }

  /** Adds a recipient; false if it was already there. */
  boolean addRecipient(String canonical) {
    return recipients.add(canonical);
  }

  public int recipientCount() {
    return recipients.size();
  }

  public List<String> recipients() {
    return List.copyOf(recipients);
  }
}
