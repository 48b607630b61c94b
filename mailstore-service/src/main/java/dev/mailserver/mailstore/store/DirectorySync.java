package dev.mailserver.mailstore.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit of directory fsyncs: concurrent deliveries that renamed copies into the same
 * {@code new/} directories share one fsync of each (leader/follower: whoever holds the lock next
 * syncs every directory asked for by then). A caller returns only after an fsync that began after
 * its renames, so its names are durable.
 */
final class DirectorySync {

  private record Pending(Set<Path> dirs, CompletableFuture<Void> done) {}

  private final Durability durability;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final ReentrantLock lock = new ReentrantLock();

  DirectorySync(Durability durability) {
    this.durability = durability;
  }

  /** Blocks until every directory in {@code dirs} was fsync'd after this call began. */
  void sync(Collection<Path> dirs) throws IOException {
    if (dirs.isEmpty()) {
      return;
    }
    Pending mine = new Pending(new LinkedHashSet<>(dirs), new CompletableFuture<>());
    queue.add(mine);
    lock.lock();
    try {
      if (!mine.done.isDone()) {
        List<Pending> batch = new ArrayList<>();
        Set<Path> all = new LinkedHashSet<>();
        for (Pending p; (p = queue.poll()) != null; ) {
          batch.add(p);
          all.addAll(p.dirs);
        }
        try {
          durability.syncDirectories(all);
          batch.forEach(p -> p.done.complete(null));
        } catch (IOException | RuntimeException e) {
          batch.forEach(p -> p.done.completeExceptionally(e));
        }
      }
    } finally {
      lock.unlock();
    }
    try {
      mine.done.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new UncheckedIOException(new IOException(e.getCause()));
    }
  }
}
