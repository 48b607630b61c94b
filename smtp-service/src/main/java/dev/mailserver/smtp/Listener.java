package dev.mailserver.smtp;

/**
 * The three kinds of SMTP listener, and the policy each one applies.
 *
 * <ul>
 *   <li>{@link #MX}: the relay port other mail servers deliver to (RFC 5321). Mail for local domains
 *       only, no AUTH needed; STARTTLS offered when TLS is configured (RFC 3207 section 4: a public
 *       server MUST NOT require it for local delivery).</li>
 *   <li>{@link #SUBMISSION}: message submission (RFC 6409): STARTTLS, then AUTH before MAIL
 *       (RFC 6409 section 4.3), the submitter may only use its own address, and missing Date and
 *       Message-ID fields are added (RFC 6409 section 8).</li>
 *   <li>{@link #SMTPS}: submission over implicit TLS from the first byte (RFC 8314 section 3.3):
 *       the same policy as submission.</li>
 * </ul>
 */
public enum Listener {
  MX("MX"),
  SUBMISSION("submission"),
  SMTPS("SMTPS");

  private final String label;

  Listener(String label) {
    this.label = label;
  }

  /** For logs: "SMTP &lt;label&gt; listening on ...". */
  public String label() {
    return label;
  }

  /** Message submission policy: AUTH before MAIL, header fix-ups (RFC 6409). */
  public boolean isSubmission() {
    return this != MX;
  }

  /** TLS from the first byte (RFC 8314 section 3.3). */
  public boolean implicitTls() {
    return this == SMTPS;
  }
}
