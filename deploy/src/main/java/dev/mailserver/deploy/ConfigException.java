package dev.mailserver.deploy;

/** A configuration problem an operator must fix; its message is the one line printed at start-up. */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
