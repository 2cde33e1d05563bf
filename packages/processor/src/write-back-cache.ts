import type { OutgoingRecord } from "./client/kafka-client.js";

/** When a {@link WriteBackCache} is flushed, besides a batch that caught up with its log. */
export interface FlushLimits {
  /** The longest a change waits in the cache while a backlog is processed. */
  readonly intervalMs: number;
  /** Input bytes applied since the last flush after which the cache is flushed. */
  readonly maxBytes: number;
}

/**
 * A partition's changes that are not written yet (Kafka Streams' record cache is the
 * model): the changed keys' states, coalesced, so that a key changed by many messages
 * is written once per flush — one table record, one local write — and, in a
 * transaction, the records the batches emitted. Reads hit it first. While the
 * partition's inputs have a backlog it is flushed every `intervalMs` or `maxBytes` of
 * input; a batch that reaches the end of its log is flushed at once, so that a
 * partition that falls idle has nothing waiting. Nothing in it is committed: dropping
 * it (a rebalance, a crash) means its inputs are processed again from the last flush.
 */
export class WriteBackCache<S> {
  private readonly states = new Map<string, S>();
  /** Records that go out with the flush (a transaction's emits). */
  readonly records: OutgoingRecord[] = [];
  private inputBytes = 0;
  private since: number | undefined;

  constructor(
    private readonly limits: FlushLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): S | undefined {
    return this.states.get(key);
  }

  set(key: string, state: S): void {
    this.states.set(key, state);
  }

  /** The changed keys' states, in the order they first changed. */
  changed(): ReadonlyMap<string, S> {
    return this.states;
  }

  /** Whether no batch was applied since the last flush. */
  isEmpty(): boolean {
    return this.since === undefined;
  }

  /** Counts a processed batch's input towards the flush bounds. */
  noteInput(bytes: number): void {
    this.inputBytes += bytes;
    this.since ??= this.now();
  }

  /** Whether to flush after a batch; `caughtUp` when the batch reached its log's end. */
  isDue(caughtUp: boolean): boolean {
    if (this.since === undefined) return false;
    return (
      caughtUp ||
      this.inputBytes >= this.limits.maxBytes ||
      this.now() - this.since >= this.limits.intervalMs
    );
  }

  clear(): void {
    this.states.clear();
    this.records.length = 0;
    this.inputBytes = 0;
    this.since = undefined;
  }
}
