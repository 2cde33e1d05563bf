import { TokaError, TokaErrorCode } from "@toka/processor";
import { describeMessages, type TesterMessage } from "./tester-message.js";

/**
 * The messages of one topic as a queue a test consumes in order: each message is
 * returned once, so a test can assert what a step emitted and then that nothing else
 * came (Goka's queue tracker, with assertions). Reads what is on the topic when called:
 * messages emitted later show up in later calls.
 *
 * @example
 * const out = tester.output("balance-changed", jsonCodec(Balance));
 * await tester.emit("deposits", "alice", { amount: 5 }, { codec: jsonCodec(Deposit) });
 * expect(out.next()?.value).toEqual({ total: 5 });
 * out.expectEmpty();
 */
export class OutputQueue<T> {
  private position = 0;

  /** @param read - every message of the topic so far, in order. */
  constructor(
    readonly topic: string,
    private readonly read: () => readonly TesterMessage<T>[],
  ) {}

  /** How many messages are waiting. */
  get size(): number {
    return Math.max(0, this.read().length - this.position);
  }

  /** The next message, or `undefined` when none is waiting. */
  next(): TesterMessage<T> | undefined {
    const message = this.read()[this.position];
    if (message) this.position += 1;
    return message;
  }

  /**
   * The next `count` messages.
   * @throws TokaError `TOKA_INVALID_STATE` when fewer are waiting (none is consumed then),
   * listing those that are.
   */
  take(count: number): TesterMessage<T>[] {
    const waiting = this.read().slice(this.position);
    if (waiting.length < count) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `expected ${count} more message(s) on "${this.topic}", found ${waiting.length}${waiting.length ? `: ${describeMessages(waiting)}` : ""}`,
        { topic: this.topic },
      );
    }
    this.position += count;
    return waiting.slice(0, count);
  }

  /** Every waiting message (possibly none). */
  drain(): TesterMessage<T>[] {
    const waiting = this.read().slice(this.position);
    this.position += waiting.length;
    return waiting;
  }

  /**
   * Asserts that no message is waiting.
   * @throws TokaError `TOKA_INVALID_STATE` listing the waiting messages.
   */
  expectEmpty(): void {
    const waiting = this.read().slice(this.position);
    if (waiting.length > 0) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `expected no more messages on "${this.topic}", found ${waiting.length}: ${describeMessages(waiting)}`,
        { topic: this.topic },
      );
    }
  }
}
