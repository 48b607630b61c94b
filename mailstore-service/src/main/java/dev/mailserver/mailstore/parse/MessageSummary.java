package dev.mailserver.mailstore.parse;

import java.time.Instant;
import java.util.List;

/**
 * What a listing shows of a message, all decoded to Unicode.
 *
 * @param subject        decoded Subject (RFC 2047), "" when absent
 * @param from           the first address of From, or null
 * @param date           the Date header as an instant, or null when absent or unparseable
 * @param messageId      Message-ID without angle brackets, or null
 * @param snippet        up to {@link MessageParser#SNIPPET_CHARS} characters of the text body
 *                       (or the HTML body's text), whitespace collapsed
 * @param hasAttachments whether some part is an attachment (see {@link PartInfo#isAttachment()})
 * @param complete       false when the summary was made from the first part of a large message only
 */
public record MessageSummary(String subject, MailAddress from, List<MailAddress> to, List<MailAddress> cc,
                             Instant date, String messageId, String snippet, boolean hasAttachments,
                             boolean complete) {

  public MessageSummary {
    to = List.copyOf(to);
    cc = List.copyOf(cc);
  }
}
