package dev.mailserver.mailstore.parse;

/**
 * One part's content with the transfer encoding removed (base64, quoted-printable); text keeps its
 * own charset, named in {@code charset}.
 */
public record PartContent(String partId, String contentType, String charset, String filename, String disposition,
                          byte[] data) {}
