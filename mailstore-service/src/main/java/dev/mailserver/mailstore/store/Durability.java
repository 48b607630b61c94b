package dev.mailserver.mailstore.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.Objects;

/**
 * The fsync points of the store in one place. Every call syncs immediately; group commit lives in
 * {@link DeliveryLog}, which uses these. Every fsync (of a file or of a directory) is reported to
 * the {@link Observer} with the time the {@code force} took.
 */
public class Durability {

  /** Told of every fsync this class issues; called on the syncing thread, so it must be cheap and thread-safe. */
  @FunctionalInterface
  public interface Observer {
    Observer NONE = (directory, nanos) -> {};

    /**
     * @param directory true for a directory (renames/unlinks made durable), false for a file's data
     * @param nanos     how long the {@code force} took, successful or not
     */
    void synced(boolean directory, long nanos);
  }

  private final Observer observer;

  public Durability() {
    this(Observer.NONE);
  }

  public Durability(Observer observer) {
    this.observer = Objects.requireNonNull(observer, "observer");
  }

  /** Flushes a file's data and metadata to the device. */
  public void syncFile(FileChannel channel) throws IOException {
    force(channel, false);
  }

  /** fdatasync: the data (and the size) of an appended-to log, not its timestamps. */
  public void syncData(FileChannel channel) throws IOException {
    long start = System.nanoTime();
    try {
      channel.force(false);
    } finally {
      observer.synced(false, System.nanoTime() - start);
    }
  }

  /** Reports a flush made by other means (a whole-file-system sync counts as a directory sync). */
  public void observeSync(boolean directory, long nanos) {
    observer.synced(directory, nanos);
  }

  /** Makes renames and unlinks in these directories durable (the entries, not the files). */
  public void syncDirectories(Collection<Path> dirs) throws IOException {
    for (Path dir : dirs) {
      syncDirectory(dir);
    }
  }

  public void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      force(ch, true);
    }
  }

  /** The one place that forces: timed around {@code force} alone (not the open of a directory). */
  private void force(FileChannel channel, boolean directory) throws IOException {
    long start = System.nanoTime();
    try {
      channel.force(true);
    } finally {
      observer.synced(directory, System.nanoTime() - start);
    }
  }
}
