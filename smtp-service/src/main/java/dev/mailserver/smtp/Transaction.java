package dev.mailserver.smtp;

import io.vertx.core.buffer.Buffer;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One mail transaction's envelope (RFC 5321 section 3.3): from MAIL to the end of DATA or BDAT
 * LAST, RSET, or a new HELO/EHLO. Recipients are canonical mailbox addresses, deduplicated, in the
 * order accepted. With CHUNKING (RFC 3030) it also holds the chunks received so far.
 */
public final class Transaction {
  private final String queueId;
  private final String sender;
  private final boolean smtputf8;
  private final boolean eightBitMime;
  private final boolean binaryMime;
  private final Set<String> recipients = new LinkedHashSet<>();
  /** The trace header followed by the chunks so far; null before the first BDAT or once over the limit. */
  private Buffer chunks;
  private int prefixLength;
  private long chunkOctets;
  private boolean bdatStarted;
  private boolean failed;

  public Transaction(String queueId, String sender, boolean smtputf8, boolean eightBitMime) {
    this(queueId, sender, smtputf8, eightBitMime, false);
  }

  public Transaction(String queueId, String sender, boolean smtputf8, boolean eightBitMime, boolean binaryMime) {
    this.queueId = queueId;
    this.sender = sender;
    this.smtputf8 = smtputf8;
    this.eightBitMime = eightBitMime;
    this.binaryMime = binaryMime;
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

  /** MAIL carried BODY=BINARYMIME (RFC 3030 section 3): only BDAT may carry the content. */
  public boolean binaryMime() {
    return binaryMime;
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

  /** A BDAT chunk was accepted or refused in this transaction: DATA is now a sequence error (RFC 3030 section 2). */
  public boolean bdatStarted() {
    return bdatStarted;
  }

  /**
   * A BDAT (or a DATA mixed with BDAT) failed: RFC 3030 section 2 calls the state indeterminate
   * and asks for RSET; until then every further BDAT is read and answered 503.
   */
  public boolean failed() {
    return failed;
  }

  void markFailed() {
    failed = true;
    chunks = null;
  }

  /** Octets of content received in BDAT chunks so far (without our trace header). */
  public long chunkOctets() {
    return chunkOctets;
  }

  /** Where the next chunk's octets go; created with the trace header on the first chunk. */
  Buffer chunkBuffer(String traceHeader) {
    bdatStarted = true;
    if (chunks == null && !failed) {
      chunks = Buffer.buffer(8192).appendString(traceHeader, "UTF-8");
      prefixLength = chunks.length();
    }
    return chunks;
  }

  void bdatSeen() {
    bdatStarted = true;
  }

  void chunkAccepted(long octets) {
    chunkOctets += octets;
  }

  /** The trace header followed by the content, after BDAT LAST. */
  Buffer chunks() {
    return chunks;
  }

  /** Length of the trace header at the start of {@link #chunks()}. */
  int prefixLength() {
    return prefixLength;
  }
}
