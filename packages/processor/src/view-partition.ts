import type { Codec } from "@toka/codec";
import type { Storage } from "@toka/state-store";
import type { IncomingRecord } from "./client/kafka-client.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";
import { keyText, warnInvalidTableKey } from "./record-key.js";
import { addToOffset, compareOffsets } from "./table-entry.js";

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
 * One partition of a view: its storage, the next table offset to apply (`position`)
 * and its recovery up to the high watermark taken at start (`target`). Batches are
 * applied one at a time, each in one atomic storage write with the checkpoint.
 */
export class ViewPartition<T> {
  /** Next table offset to apply: everything before it is in storage. */
  position = "0";
  /** The position when recovery began. */
  start = "0";
  /** The high watermark taken at start: recovery ends when `position` reaches it. */
  target = "0";
  /** The last high watermark seen in a fetched batch (or at start). */
  highWatermark = "0";
  recovered = false;
  /** Table records applied during recovery. */
  recoveredRecords = 0;
  /** Records applied after recovery. */
  updates = 0;
  /**
   * When the partition was last known to be at its high watermark (as of the last fetch
   * response), or opened; its answers are at most this old while it lags.
   */
  private caughtUpAt = Date.now();
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(
    readonly table: string,
    readonly partition: number,
    private readonly storage: Storage,
    private readonly codec: Codec<T>,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the storage, reads its checkpoint and begins recovery up to `highWatermark`.
   * Local state ahead of the topic (the topic was deleted and created again) is cleared.
   * @returns whether the local state was cleared.
   * @throws TokaError `TOKA_STORAGE_FAILED` when the storage cannot be opened or read.
   */
  open(highWatermark: string): Promise<boolean> {
    return this.serialize(async () => {
      let cleared = false;
      try {
        await this.storage.open();
        let offset = (await this.storage.checkpoint())?.tableOffset ?? "0";
        if (compareOffsets(offset, highWatermark) > 0) {
          await this.storage.clear();
          offset = "0";
          cleared = true;
        }
        this.position = offset;
      } catch (cause) {
        throw this.error(
          TokaErrorCode.StorageFailed,
          "cannot open the view's local storage of the partition; if it is corrupt, delete its directory (it is rebuilt from the table topic)",
          { cause },
        );
      }
      this.start = this.position;
      this.target = highWatermark;
      this.highWatermark = highWatermark;
      this.recovered = compareOffsets(this.position, this.target) >= 0;
      return cleared;
    });
  }

  /** Offsets between the start and the target: what recovery has to read. */
  get recoveryTotal(): number {
    return Math.max(0, Number(BigInt(this.target) - BigInt(this.start)));
  }

  /** Offsets read so far during recovery. */
  get recoveryDone(): number {
    const reached = compareOffsets(this.position, this.target) < 0 ? this.position : this.target;
    return Math.max(0, Number(BigInt(reached) - BigInt(this.start)));
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

  /**
   * Applies a fetched batch in one atomic storage write with the checkpoint
   * `{ tableOffset: last + 1 }`. Records below the position (fetched before a seek took
   * effect) are ignored. Tombstones delete their key; headers are ignored.
   * @returns the applied records in offset order (empty when nothing was new).
   * @throws TokaError `TOKA_STORAGE_FAILED` when the write fails.
   */
  apply(records: readonly IncomingRecord[], highWatermark: string): Promise<AppliedRecord<T>[]> {
    return this.serialize(async () => {
      if (this.closing) return [];
      if (compareOffsets(highWatermark, this.highWatermark) > 0) this.highWatermark = highWatermark;
      const puts = new Map<string, Uint8Array>();
      const deletes = new Set<string>();
      const applied: AppliedRecord<T>[] = [];
      let next = this.position;
      for (const record of records) {
        if (compareOffsets(record.offset, next) < 0) continue;
        const key = keyText(record.key);
        if (key === undefined) {
          warnInvalidTableKey(this.logger, record, undefined);
          next = addToOffset(record.offset, 1);
          continue;
        }
        let value: T | undefined;
        let error: TokaError | undefined;
        if (record.value === null) {
          puts.delete(key);
          deletes.add(key);
        } else {
          deletes.delete(key);
          puts.set(key, record.value);
          try {
            value = this.codec.decode(record.value);
          } catch (cause) {
            error = this.decodeError(key, record.offset, cause);
          }
        }
        applied.push({ key, offset: record.offset, value, error });
        next = addToOffset(record.offset, 1);
      }
      // Skipped records move the position too: write the checkpoint even without values.
      if (next === this.position) return applied;
      try {
        await this.storage.write({
          puts,
          deletes,
          checkpoint: { tableOffset: next, inputOffsets: {} },
        });
      } catch (cause) {
        throw this.error(
          TokaErrorCode.StorageFailed,
          "writing a table batch to the view's local storage failed",
          { cause, offset: applied[0]?.offset },
        );
      }
      this.position = next;
      this.noteCaughtUp();
      // Records below the target belong to the snapshot recovered at start.
      for (const r of applied) {
        if (compareOffsets(r.offset, this.target) < 0) this.recoveredRecords++;
        else this.updates++;
      }
      return applied;
    });
  }

  /**
   * Told after every fetched batch, including batches of only transaction markers or
   * aborted records (which never reach {@link apply}): the position moves past them.
   * Batches of a partition never overlap, so everything up to `lastOffset` that holds
   * data was applied already.
   */
  noteProgress(lastOffset: string, highWatermark: string): void {
    if (this.closing) return;
    if (compareOffsets(highWatermark, this.highWatermark) > 0) this.highWatermark = highWatermark;
    const next = addToOffset(lastOffset, 1);
    if (compareOffsets(next, this.position) > 0) this.position = next;
    this.noteCaughtUp();
  }

  /** Marks the partition recovered once its position reached the target; true when it just did. */
  checkRecovered(): boolean {
    if (this.recovered || compareOffsets(this.position, this.target) < 0) return false;
    this.recovered = true;
    return true;
  }

  /** The stored value bytes of `key`. */
  get(key: string): Promise<Uint8Array | undefined> {
    return this.storage.get(key);
  }

  has(key: string): Promise<boolean> {
    return this.storage.has(key);
  }

  iterate(options: {
    gt?: string;
    gte?: string;
    lt?: string;
    lte?: string;
    prefix?: string;
  }): AsyncIterable<[string, Uint8Array]> {
    return this.storage.iterate(options);
  }

  /** Waits for the batch being applied, then closes the storage. Idempotent. */
  close(): Promise<void> {
    this.closing = true;
    return this.serialize(() => this.storage.close());
  }

  /** A decode failure with the coordinates of the record. */
  decodeError(key: string, offset: string | undefined, cause: unknown): TokaError {
    return this.error(
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

  private error(
    code: TokaErrorCode,
    message: string,
    extra: { cause?: unknown; key?: string; offset?: string | undefined } = {},
  ): TokaError {
    return new TokaError(code, message, {
      topic: this.table,
      partition: this.partition,
      ...extra,
    });
  }
}
