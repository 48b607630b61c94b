package dev.mailserver.pop3;

/** The three session states of RFC 1939 section 3. */
public enum Pop3State {
  /** Before a successful USER/PASS: the maildrop is neither locked nor read. */
  AUTHORIZATION,
  /** Maildrop locked and snapshotted: the client reads and marks messages. */
  TRANSACTION,
  /** After QUIT from TRANSACTION: deletions are applied, then the lock is released. */
  UPDATE
}
