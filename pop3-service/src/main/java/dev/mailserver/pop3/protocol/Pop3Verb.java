package dev.mailserver.pop3.protocol;

import dev.mailserver.pop3.Pop3State;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Every command this server knows, with the states it is valid in and its argument count.
 * APOP is deliberately absent: it needs the plaintext password on the server, and passwords are
 * stored hashed (RFC 1939 section 7 makes APOP optional). Whether USER/PASS, AUTH PLAIN and STLS
 * may run on a given connection (TLS active, plaintext allowed) is the handler's decision, not the
 * table's: the table only knows states and argument counts.
 */
public enum Pop3Verb {
  USER(Pop3State.AUTHORIZATION, 1, 1),
  /** RFC 1939 section 7: PASS has exactly one argument, so spaces belong to the password. */
  PASS(Pop3State.AUTHORIZATION, 1, 1),
  QUIT(EnumSet.of(Pop3State.AUTHORIZATION, Pop3State.TRANSACTION), 0, 0),
  STAT(Pop3State.TRANSACTION, 0, 0),
  LIST(Pop3State.TRANSACTION, 0, 1),
  RETR(Pop3State.TRANSACTION, 1, 1),
  DELE(Pop3State.TRANSACTION, 1, 1),
  NOOP(Pop3State.TRANSACTION, 0, 0),
  RSET(Pop3State.TRANSACTION, 0, 0),
  TOP(Pop3State.TRANSACTION, 2, 2),
  UIDL(Pop3State.TRANSACTION, 0, 1),
  /** RFC 2449 section 5: CAPA is valid in every state. */
  CAPA(EnumSet.of(Pop3State.AUTHORIZATION, Pop3State.TRANSACTION), 0, 0),
  /** RFC 2595 section 4: "Only permitted in AUTHORIZATION state". */
  STLS(Pop3State.AUTHORIZATION, 0, 0),
  /**
   * RFC 5034 section 4: {@code AUTH mechanism [initial-response]}. Without arguments it lists the
   * mechanisms (the RFC 1734-era probe some clients still send; Dovecot answers it the same way).
   */
  AUTH(Pop3State.AUTHORIZATION, 0, 2);

  private final Set<Pop3State> states;
  private final int minArgs;
  private final int maxArgs;

  Pop3Verb(Pop3State state, int minArgs, int maxArgs) {
    this(EnumSet.of(state), minArgs, maxArgs);
  }

  Pop3Verb(Set<Pop3State> states, int minArgs, int maxArgs) {
    this.states = Set.copyOf(states);
    this.minArgs = minArgs;
    this.maxArgs = maxArgs;
  }

  public boolean allowedIn(Pop3State state) {
    return states.contains(state);
  }

  public boolean acceptsArgCount(int n) {
    return n >= minArgs && n <= maxArgs;
  }

  /** True when the whole rest of the line is the single argument (PASS). */
  public boolean takesRestOfLine() {
    return this == PASS;
  }

  /** Keywords are case-insensitive (RFC 1939 section 3). */
  public static Optional<Pop3Verb> lookup(String keyword) {
    if (keyword == null || keyword.length() < 3 || keyword.length() > 4) {
      return Optional.empty();
    }
    try {
      return Optional.of(valueOf(keyword.toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
