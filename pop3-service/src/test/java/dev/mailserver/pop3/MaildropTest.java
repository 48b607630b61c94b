package dev.mailserver.pop3;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mailserver.common.model.MessageInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

class MaildropTest {

  private final Maildrop md = Maildrop.snapshot(List.of(
      new MessageInfo("a", "uid-a", 100, 1), new MessageInfo("b", "uid-b", 20, 2), new MessageInfo("c", "uid-c", 3, 3)));

  @Test
  void numbersStartAtOne() {
    assertThat(md.count()).isEqualTo(3);
    assertThat(md.size()).isEqualTo(123);
    assertThat(md.get(1)).map(MessageInfo::id).contains("a");
    assertThat(md.get(3)).map(MessageInfo::id).contains("c");
    assertThat(md.get(0)).isEmpty();
    assertThat(md.get(4)).isEmpty();
    assertThat(md.get(-1)).isEmpty();
  }

  @Test
  void deletedMessagesAreHiddenAndNotCounted() {
    assertThat(md.markDeleted(2)).isTrue();
    assertThat(md.markDeleted(2)).isFalse();
    assertThat(md.markDeleted(9)).isFalse();
    assertThat(md.isDeleted(2)).isTrue();
    assertThat(md.get(2)).isEmpty();
    assertThat(md.count()).isEqualTo(2);
    assertThat(md.size()).isEqualTo(103);
    assertThat(md.visible()).extracting(Maildrop.Entry::number).containsExactly(1, 3);
    assertThat(md.deletedIds()).containsExactly("b");
  }

  @Test
  void resetUnmarksEverything() {
    md.markDeleted(1);
    md.markDeleted(3);
    assertThat(md.deletedIds()).containsExactly("a", "c");
    md.reset();
    assertThat(md.deletedIds()).isEmpty();
    assertThat(md.count()).isEqualTo(3);
    assertThat(md.get(3)).isPresent();
  }

  @Test
  void emptyMaildrop() {
    Maildrop empty = Maildrop.snapshot(List.of());
    assertThat(empty.count()).isZero();
    assertThat(empty.size()).isZero();
    assertThat(empty.get(1)).isEmpty();
    assertThat(empty.visible()).isEmpty();
  }
}
