package dev.mailserver.mailstore.parse;

/**
 * A header field as it appears in the message: the name as written and the value unfolded (RFC 5322
 * section 2.2.3: CRLF before whitespace removed) but otherwise not decoded. 8-bit bytes are read as
 * UTF-8 (RFC 6532) when valid, else as windows-1252.
 */
public record HeaderField(String name, String value) {}
