package dev.mailserver.mailstore.parse;

import java.util.List;

/**
 * A message fully parsed for display.
 *
 * @param summary     the listing fields
 * @param headers     the top-level header fields in their original order
 * @param replyTo     decoded Reply-To addresses
 * @param bcc         decoded Bcc addresses (present only in a sender's copy)
 * @param text        the first text/plain body that is not an attachment, decoded to Unicode, or null
 * @param html        the first text/html body that is not an attachment, decoded to Unicode, or null
 * @param attachments every other leaf part (including inline images), in message order
 * @param problem     null when the message parsed cleanly; otherwise what went wrong (the fields
 *                    hold what could be extracted before)
 */
public record ParsedMessage(MessageSummary summary, List<HeaderField> headers, List<MailAddress> replyTo,
                            List<MailAddress> bcc, String text, String html, List<PartInfo> attachments,
                            String problem) {

  public ParsedMessage {
    headers = List.copyOf(headers);
    replyTo = List.copyOf(replyTo);
    bcc = List.copyOf(bcc);
    attachments = List.copyOf(attachments);
  }
}
