import type { Codec } from "@toka/codec";
import type { IterateOptions, Storage } from "@toka/state-store";
import type { IncomingRecord } from "./client/kafka-client.js";
import { type TokaError, TokaErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";
import { PartitionTable } from "./partition-table.js";
import { compareOffsets } from "./table-entry.js";
import { rawTableValues } from "./table-value-format.js";

/** One record a view applied to its storage, decoded (or not) for its listeners. */
export interface AppliedRecord<T> {
  readonly key: string;
  readonly offset: string;
  /** `undefined` for a tombstone and for a value that did not decode. */
  readonly value: T | undefined;
  /** Set when the value did not decode; the raw bytes are stored all the same. */
  readonly error: TokaError | undefined;
}

/**
 * One partition of a view: a {@link PartitionTable} of the table's bytes, plus what only a
 * view needs: the values decoded for its listeners, the high watermark last seen (lag and
 * staleness) and a recovery that, once reached, stays reached. Batches are applied one at
 * a time, each in one atomic storage write with the checkpoint.
 */
export class ViewPartition<T> {
  /** The last high watermark seen in a fetched batch (or at start). */
  highWatermark = "0";
  recovered = false;
  /**
   * When the partition was last known to be at its high watermark (as of the last fetch
   * response), or opened; its answers are at most this old while it lags.
   */
  private caughtUpAt = Date.now();
  private readonly local: PartitionTable;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly table: string,
    readonly partition: number,
    storage: Storage,
    private readonly codec: Codec<T>,
    logger: Logger,
  ) {
    this.local = new PartitionTable({
      topic: table,
      partition,
      storage,
      format: rawTableValues,
      logger,
    });
  }

  /** Next table offset to apply: everything before it is in storage. */
  get position(): string {
    return this.local.position;
  }

  /** The position when recovery began. */
  get start(): string {
    return this.local.start;
  }

  /** The high watermark taken at start: recovery ends when `position` reaches it. */
  get target(): string {
    return this.local.target;
  }

  /** Table records applied during recovery. */
  get recoveredRecords(): number {
    return this.local.recoveredRecords;
  }

  /** Records applied after recovery. */
  get updates(): number {
    return this.local.updates;
  }

  /**
   * Opens the storage, reads its checkpoint and begins recovery up to `highWatermark`.
   * Local state ahead of the topic (the topic was deleted and created again) is cleared.
   * @returns whether the local state was cleared.
   * @throws TokaError `TOKA_STORAGE_FAILED` when the storage cannot be opened or read.
   */
  async open(highWatermark: string): Promise<boolean> {
    const { cleared } = await this.local.open(highWatermark);
    this.local.recoverTo(highWatermark);
    this.highWatermark = highWatermark;
    this.recovered = this.local.recovered;
    return cleared;
  }

  /** Offsets between the start and the target: what recovery has to read. */
  get recoveryTotal(): number {
    return this.local.recoveryTotal;
  }

  /** Offsets read so far during recovery. */
  get recoveryDone(): number {
    return this.local.recoveryDone;
  }

  /** Records the partition is behind the last high watermark seen. */
  get lag(): number {
    return Math.max(0, Number(BigInt(this.highWatermark) - BigInt(this.position)));
  }

  /** Milliseconds since the partition was last caught up; 0 while it is. */
  staleMs(now = Date.now()): number {
    return this.lag === 0 ? 0 : now - this.caughtUpAt;
  }

  private noteCaughtUp() {
    if (this.lag === 0) this.caughtUpAt = Date.now();
  }

  private noteHighWatermark(highWatermark: string) {
    if (compareOffsets(highWatermark, this.highWatermark) > 0) this.highWatermark = highWatermark;
  }

  /**
   * Applies a fetched batch in one atomic storage write with the checkpoint
   * `{ tableOffset: last + 1 }`. Records below the position (fetched before a seek took
   * effect) are ignored. Tombstones delete their key; headers are ignored.
   * @returns the applied records in offset order (empty when nothing was new).
   * @throws TokaError `TOKA_STORAGE_FAILED` when the write fails.
   */
  apply(records: readonly IncomingRecord[], highWatermark: string): Promise<AppliedRecord<T>[]> {
    return this.serialize(async () => {
      this.noteHighWatermark(highWatermark);
      const applied: AppliedRecord<T>[] = [];
      const before = this.position;
      const count = await this.local.apply(records, (key, record) => {
        let value: T | undefined;
        let error: TokaError | undefined;
        if (record.value !== null) {
          try {
            value = this.codec.decode(record.value);
          } catch (cause) {
            error = this.decodeError(key, record.offset, cause);
          }
        }
        applied.push({ key, offset: record.offset, value, error });
      });
      if (this.position !== before) this.noteCaughtUp();
      return count > 0 ? applied : [];
    });
  }

  /**
   * Told after every fetched batch, including batches of only transaction markers or
   * aborted records (which never reach {@link apply}): the position moves past them.
   */
  noteProgress(lastOffset: string, highWatermark: string): void {
    this.noteHighWatermark(highWatermark);
    this.local.noteProgress(lastOffset);
    this.noteCaughtUp();
  }

  /** Marks the partition recovered once its position reached the target; true when it just did. */
  checkRecovered(): boolean {
    if (this.recovered || !this.local.recovered) return false;
    this.recovered = true;
    return true;
  }

  /** The stored value bytes of `key`. */
  get(key: string): Promise<Uint8Array | undefined> {
    return this.local.get(key);
  }

  has(key: string): Promise<boolean> {
    return this.local.has(key);
  }

  iterate(options: IterateOptions): AsyncIterable<[string, Uint8Array]> {
    return this.local.iterate(options);
  }

  /** Waits for the batch being applied, then closes the storage. Idempotent. */
  close(): Promise<void> {
    return this.local.close();
  }

  /** A decode failure with the coordinates of the record. */
  decodeError(key: string, offset: string | undefined, cause: unknown): TokaError {
    return this.local.error(
      TokaErrorCode.DecodeFailed,
      `the table value does not decode with ${this.codec.name}; check that the view's codec is the table's, or overwrite the key with a valid value`,
      { cause, key, offset },
    );
  }

  private serialize<R>(work: () => Promise<R>): Promise<R> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}
