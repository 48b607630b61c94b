package dev.mailserver.mailstore.accounts;

/**
 * An account as configured: canonical address and either a clear password or a bcrypt hash
 * (recognised by {@link Passwords#isBcryptHash}).
 */
public record AccountSeed(String address, String password) {

  @Override
  public String toString() {
    return "AccountSeed[" + address + "]"; // never print the password
  }
}
