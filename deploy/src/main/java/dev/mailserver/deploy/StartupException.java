package dev.mailserver.deploy;

/** Start-up failed for a reason outside the configuration file (port in use, unwritable data dir). */
public final class StartupException extends Exception {
  private static final long serialVersionUID = 1L;

  public StartupException(String message, Throwable cause) {
    super(message, cause);
  }
}
