package dev.mailserver.mailstore.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;

/**
 * The fsync points of the store in one place. Today every call syncs immediately; group commit
 * (several concurrent deliveries sharing one directory fsync) can be added here by overriding
 * {@link #syncDirectories} without touching the delivery code.
 */
public class Durability {

  /** Flushes a file's data and metadata to the device. */
  public void syncFile(FileChannel channel) throws IOException {
    channel.force(true);
  }

  /** Makes renames and unlinks in these directories durable (the entries, not the files). */
  public void syncDirectories(Collection<Path> dirs) throws IOException {
    for (Path dir : dirs) {
      syncDirectory(dir);
    }
  }

  public void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
