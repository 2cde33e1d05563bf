import type { TopicPartitionOffset } from "./client/kafka-client.js";
import type { Clock } from "./clock.js";
import type { ProcessorEvents } from "./events.js";
import type { Logger } from "./logger.js";
import { compareOffsets } from "./table-entry.js";

/** What a {@link CommitQueue} commits through and reports to. */
export interface CommitTarget {
  readonly group: string;
  readonly partition: number;
  readonly logger: Logger;
  readonly clock: Clock;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  emit<E extends keyof ProcessorEvents>(event: E, ...args: ProcessorEvents[E]): void;
}

/** The first wait before a failed commit is sent again, doubled per failure up to the last. */
const FIRST_RETRY_MS = 1_000;
const LONGEST_RETRY_MS = 30_000;

/**
 * The offset commits of one partition, sent without making the next batch wait: the
 * commit is the last step of a batch (ARCHITECTURE §4), and the checkpoint already holds
 * the position, so waiting a round trip to the group coordinator per batch only costs
 * throughput (with small batches, about a sixth of it). Commits go out one at a time,
 * in order, so an older position never lands after a newer one; positions that queue
 * up meanwhile are merged into the newest per topic.
 *
 * A failed commit (the coordinator moving, a rebalance) only means a new owner starts
 * earlier: the checkpoint and, with exactly-once, the dedup records prevent a second
 * application. It is retried with backoff until a later commit of the topic succeeds or
 * the queue closes, so that the group's offsets (and the lag others see) catch up even
 * when no more input arrives.
 */
export class CommitQueue {
  /** Per topic, the newest position not committed yet (sent, failed or new). */
  private readonly due = new Map<string, TopicPartitionOffset>();
  /** Sends {@link due} while there are any; one commit request at a time. */
  private sending: Promise<void> | undefined;
  private cancelRetry: (() => void) | undefined;
  private backoffMs = 0;
  private closed = false;

  constructor(private readonly target: CommitTarget) {}

  /**
   * Commits `position` soon, unless a newer position of its topic is already due. Once
   * closed (the partition was revoked, or its processor stops) nothing more is sent: a
   * flush that finishes after that belongs to no owner any more.
   */
  commitLater(position: TopicPartitionOffset): void {
    if (this.closed) return;
    const due = this.due.get(position.topic);
    if (due && compareOffsets(due.offset, position.offset) >= 0) return;
    this.due.set(position.topic, position);
    this.startSending();
  }

  /** Resolves once the commit request being sent is answered. */
  async settled(): Promise<void> {
    await this.sending;
  }

  /**
   * Sends nothing more: no retry, no position queued meanwhile or later. The commit being
   * sent is answered before `settled` resolves.
   */
  close(): void {
    this.closed = true;
    this.due.clear();
    this.cancelRetry?.();
    this.cancelRetry = undefined;
  }

  /**
   * Sends what is due unless a send is under way. `sending` is cleared when the send has
   * settled, never from inside it: a send that ends without waiting would clear it before
   * it was even set, and leave it set for ever (no commit would go out again).
   */
  private startSending(): void {
    if (this.sending || this.closed || this.due.size === 0) return;
    this.sending = this.sendDue().finally(() => {
      this.sending = undefined;
      // Positions queued after the send's last look, unless a retry is waiting for them.
      if (!this.cancelRetry) this.startSending();
    });
  }

  private async sendDue(): Promise<void> {
    const { target } = this;
    // A close clears `due`, which ends this loop.
    for (const [topic, position] of this.due) {
      this.due.delete(topic);
      const started = target.clock.now();
      try {
        await target.commit([position]);
        this.backoffMs = 0;
        target.emit("offsets.committed", {
          topic,
          partition: target.partition,
          offset: position.offset,
          durationMs: target.clock.now() - started,
        });
      } catch (cause) {
        target.emit("offsets.commit-failed", {
          topic,
          partition: target.partition,
          offset: position.offset,
          error: cause,
        });
        target.logger.warn("offset commit failed; retrying, the batch may be redelivered", {
          group: target.group,
          topic,
          partition: target.partition,
          offset: position.offset,
          error: cause,
        });
        // Due again after the backoff, unless a newer position came meanwhile.
        if (!this.due.has(topic)) this.due.set(topic, position);
        this.scheduleRetry();
        break;
      }
    }
  }

  private scheduleRetry() {
    if (this.cancelRetry || this.closed) return;
    this.backoffMs = Math.min(Math.max(FIRST_RETRY_MS, this.backoffMs * 2), LONGEST_RETRY_MS);
    this.cancelRetry = this.target.clock.schedule(this.backoffMs, () => {
      this.cancelRetry = undefined;
      this.startSending();
    });
  }
}
