package dev.mailserver.mailstore.parse;

/**
 * A leaf MIME part other than the message's chosen text and HTML bodies.
 *
 * @param partId      the part's position in the MIME tree, numbered like IMAP body sections (RFC 3501
 *                    section 6.4.5): "1", "2", "2.1"; a message that is not multipart has one part "1"
 * @param contentType lower-case type/subtype ("application/octet-stream" when undeclared and not text)
 * @param charset     the declared charset parameter, or null
 * @param filename    decoded (RFC 2231 / RFC 2047) from Content-Disposition filename or Content-Type
 *                    name, or null
 * @param disposition "attachment", "inline", or null when the part has no Content-Disposition
 * @param contentId   Content-ID without the angle brackets, or null
 * @param size        octets after removing the transfer encoding
 * @param attachment  whether it counts as an attachment (the summary's {@code hasAttachments}):
 *                    {@code Content-Disposition: attachment}; or a filename, unless the part is
 *                    referenced by Content-ID from a multipart/related body (RFC 2387); or, without
 *                    any disposition, a part that is not text. Inline images and extra inline text
 *                    parts are listed but are not attachments.
 */
public record PartInfo(String partId, String contentType, String charset, String filename, String disposition,
                       String contentId, long size, boolean attachment) {

  public boolean isAttachment() {
    return attachment;
  }
}
