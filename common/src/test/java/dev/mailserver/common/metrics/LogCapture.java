package dev.mailserver.common.metrics;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.LoggerFactory;

/**
 * Captures what a logger tree logs, for tests: attach, run the dialogue, read {@link #lines()}.
 * Optionally lowers the level (to TRACE, say) so DEBUG lines are checked too; {@link #close()}
 * restores it. Needs logback on the test classpath.
 */
public final class LogCapture implements AutoCloseable {

  private final Logger logger;
  private final Level previous;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(String loggerName, Level level) {
    logger = (Logger) LoggerFactory.getLogger(loggerName);
    previous = logger.getLevel();
    if (level != null) {
      logger.setLevel(level);
    }
    appender.start();
    logger.addAppender(appender);
  }

  /** Captures {@code dev.mailserver.*} at its configured level. */
  public static LogCapture mailserver() {
    return new LogCapture("dev.mailserver", null);
  }

  /** Captures {@code dev.mailserver.*} with every level enabled. */
  public static LogCapture mailserverAllLevels() {
    return new LogCapture("dev.mailserver", Level.ALL);
  }

  public List<ILoggingEvent> events() {
    synchronized (appender) {
      return new ArrayList<>(appender.list);
    }
  }

  /** Each event as text: level, the formatted message, and any stack trace. */
  public List<String> lines() {
    return events().stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()
        + (e.getThrowableProxy() == null ? "" : "\n" + ThrowableProxyUtil.asString(e.getThrowableProxy())))
        .collect(Collectors.toList());
  }

  /** Formatted messages starting with {@code prefix}, at any level. */
  public List<String> messagesStartingWith(String prefix) {
    return events().stream().map(ILoggingEvent::getFormattedMessage).filter(m -> m.startsWith(prefix))
        .collect(Collectors.toList());
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
    logger.setLevel(previous);
  }
}
