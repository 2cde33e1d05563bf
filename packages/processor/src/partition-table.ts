import type { Checkpoint, IterateOptions, Storage } from "@toka/state-store";
import type {
  IncomingRecord,
  KafkaClient,
  LogRecord,
  OutgoingRecord,
} from "./client/kafka-client.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";
import { keyText, warnInvalidTableKey } from "./record-key.js";
import { addToOffset, compareOffsets } from "./table-entry.js";
import { restoreTable } from "./table-restore.js";
import type { TableValueFormat } from "./table-value-format.js";

export interface PartitionTableOptions {
  /** The table topic. */
  readonly topic: string;
  readonly partition: number;
  /** The partition's local storage; the table opens and closes it. */
  readonly storage: Storage;
  /** How records are stored: the table's bytes, or entries with their dedup state. */
  readonly format: TableValueFormat;
  readonly logger: Logger;
  /** The group this copy belongs to, for errors and log lines; none for a view. */
  readonly group?: string;
}

/** One atomic write of values with the checkpoint after them. */
export interface TableWrite {
  readonly puts: ReadonlyMap<string, Uint8Array>;
  readonly deletes: ReadonlySet<string>;
  /** The table offset everything before is applied after this write. */
  readonly tableOffset: string;
  /** The input offsets the write covers; the last checkpoint's when absent. */
  readonly inputOffsets?: Readonly<Record<string, string>>;
  /** The stream time after the inputs it covers; the last checkpoint's when absent. */
  readonly streamTime?: number | undefined;
}

/**
 * The local writes of records produced to a table topic: their keys and the same bytes
 * (a tombstone deletes its key). What an owner writes of its windows and timers.
 */
export function tableWriteOf(records: readonly OutgoingRecord[]): {
  puts: Map<string, Uint8Array>;
  deletes: Set<string>;
} {
  const puts = new Map<string, Uint8Array>();
  const deletes = new Set<string>();
  for (const { key, value } of records) {
    const text = key as string;
    if (value === null) {
      puts.delete(text);
      deletes.add(text);
    } else {
      deletes.delete(text);
      puts.set(text, value);
    }
  }
  return { puts, deletes };
}

/** What a restore reports after each chunk it wrote. */
export interface RestoreProgress {
  /** Table records read so far by this table's recovery. */
  readonly restored: number;
  /** Table offsets between the position and the target. */
  readonly remaining: number;
}

/**
 * The local copy of one partition of a table (ARCHITECTURE §5): it opens the storage and
 * reads its checkpoint, restores `[checkpoint, target)` through toka's log reader (never
 * through a group consumer), applies the records it follows afterwards, serves reads and
 * reports its progress. A group's own table, its joined tables and a view's partitions are
 * each one; they differ only in their {@link TableValueFormat}.
 *
 * Everything that writes the storage (restore chunks, applied batches, the owner's
 * flushes) and closing it is done one at a time, each write atomic with the checkpoint.
 */
export class PartitionTable {
  readonly topic: string;
  readonly partition: number;
  /** Next table offset to apply: everything before it is in storage. */
  position = "0";
  /** The position when recovery began. */
  start = "0";
  /** Where recovery ends: the partition's high watermark when it was assigned. */
  target = "0";
  /** Table records read by recovery (restored, or followed below the target). */
  recoveredRecords = 0;
  /** Table records applied after recovery. */
  updates = 0;
  /** The input offsets of the last checkpoint, written again with table-only changes. */
  private inputOffsets: Readonly<Record<string, string>> = {};
  /** The stream time of the last checkpoint, written again with table-only changes. */
  private streamTime: number | undefined;
  private checkpointed: Checkpoint | undefined;
  private readonly storage: Storage;
  private readonly format: TableValueFormat;
  private readonly logger: Logger;
  private readonly group: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(options: PartitionTableOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.storage = options.storage;
    this.format = options.format;
    this.logger = options.logger;
    this.group = options.group;
  }

  /**
   * Opens the storage and reads its checkpoint: the position becomes the checkpointed
   * table offset. Local state ahead of `highWatermark`, when given (the topic was deleted
   * and created again), is cleared.
   * @returns the checkpoint read, and whether the local state was cleared.
   * @throws TokaError `TOKA_STORAGE_FAILED` when the storage cannot be opened or read.
   */
  open(highWatermark?: string): Promise<{ checkpoint: Checkpoint | undefined; cleared: boolean }> {
    return this.serialize(async () => {
      let cleared = false;
      try {
        await this.storage.open();
        this.checkpointed = await this.storage.checkpoint();
        if (
          highWatermark !== undefined &&
          this.checkpointed &&
          compareOffsets(this.checkpointed.tableOffset, highWatermark) > 0
        ) {
          await this.storage.clear();
          this.checkpointed = undefined;
          cleared = true;
        }
      } catch (cause) {
        throw this.error(
          TokaErrorCode.StorageFailed,
          "cannot open the local storage of the table partition; if it is corrupt, delete it (it is rebuilt from the table topic)",
          { cause },
        );
      }
      this.position = this.checkpointed?.tableOffset ?? "0";
      this.inputOffsets = this.checkpointed?.inputOffsets ?? {};
      this.streamTime = this.checkpointed?.streamTime;
      this.start = this.position;
      this.target = this.position;
      return { checkpoint: this.checkpointed, cleared };
    });
  }

  /** Recovery reads up to `target`: the partition's high watermark taken at assignment. */
  recoverTo(target: string): void {
    this.start = this.position;
    this.target = target;
  }

  /** Whether the position reached the recovery target. */
  get recovered(): boolean {
    return compareOffsets(this.position, this.target) >= 0;
  }

  /** Table offsets still to recover. */
  get remaining(): number {
    return Math.max(0, Number(BigInt(this.target) - BigInt(this.position)));
  }

  /** Offsets between the start of recovery and its target. */
  get recoveryTotal(): number {
    return Math.max(0, Number(BigInt(this.target) - BigInt(this.start)));
  }

  /** Offsets recovered so far. */
  get recoveryDone(): number {
    return this.recoveryTotal - this.remaining;
  }

  /**
   * Restores `[position, target)` through toka's log reader, in atomic writes of
   * coalesced records with the offset after them (see `table-restore.ts`).
   * @returns `false` when `signal` stopped it or the table was closed meanwhile.
   * @throws TokaError `TOKA_STORAGE_FAILED` when a write fails, `TOKA_KAFKA_FAILED` when
   * reading the topic fails.
   */
  async restore({
    client,
    signal,
    onProgress,
  }: {
    client: KafkaClient;
    signal?: AbortSignal;
    onProgress?: (progress: RestoreProgress) => void;
  }): Promise<boolean> {
    try {
      await restoreTable({
        client,
        topic: this.topic,
        partition: this.partition,
        from: this.position,
        to: this.target,
        format: this.format,
        group: this.group,
        logger: this.logger,
        ...(signal ? { signal } : {}),
        write: async (chunk) => {
          if (!(await this.write({ ...chunk, tableOffset: chunk.nextOffset }))) return;
          this.recoveredRecords += chunk.records;
          onProgress?.({ restored: this.recoveredRecords, remaining: this.remaining });
        },
      });
    } catch (cause) {
      if (signal?.aborted || this.closing) return false;
      throw isTokaError(cause)
        ? cause
        : this.error(TokaErrorCode.KafkaFailed, "restoring the table partition failed", {
            cause,
            offset: this.position,
          });
    }
    return !this.closing;
  }

  /**
   * Applies records the owner follows after (or, for a view, during) recovery, in one
   * atomic write with the offset after the last. Records below the position (fetched
   * before a seek took effect) are skipped, and so are records without a valid key.
   * `onRecord` sees each applied record with its key, in offset order.
   * @returns the number of records applied.
   * @throws TokaError `TOKA_STORAGE_FAILED` when the write fails.
   */
  async apply(
    records: readonly (IncomingRecord | LogRecord)[],
    onRecord?: (key: string, record: IncomingRecord) => void,
  ): Promise<number> {
    const puts = new Map<string, Uint8Array>();
    const deletes = new Set<string>();
    let next = this.position;
    let applied = 0;
    let belowTarget = 0;
    for (const record of records) {
      if (compareOffsets(record.offset, next) < 0) continue;
      next = addToOffset(record.offset, 1);
      const key = keyText(record.key);
      if (key === undefined) {
        warnInvalidTableKey(this.logger, record, this.group);
        continue;
      }
      const stored = this.format.stored(record);
      if (stored === undefined) {
        puts.delete(key);
        deletes.add(key);
      } else {
        deletes.delete(key);
        puts.set(key, stored);
      }
      onRecord?.(key, record);
      applied++;
      if (compareOffsets(record.offset, this.target) < 0) belowTarget++;
    }
    // Skipped records move the position too: written even without values.
    if (next === this.position) return 0;
    if (!(await this.write({ puts, deletes, tableOffset: next }))) return 0;
    this.recoveredRecords += belowTarget;
    this.updates += applied - belowTarget;
    return applied;
  }

  /**
   * Told after every fetched batch of the followed partition, including batches of only
   * transaction markers or aborted records (which never reach {@link apply}): the position
   * moves past them. Batches of a partition never overlap, so everything up to
   * `lastOffset` that holds data was applied already.
   */
  noteProgress(lastOffset: string): void {
    if (this.closing) return;
    const next = addToOffset(lastOffset, 1);
    if (compareOffsets(next, this.position) > 0) this.position = next;
  }

  /**
   * Writes values with the checkpoint after them, atomically, and moves the position
   * there: the owner's flushes, applied batches and restored chunks.
   * @returns `false` when the table was closed first (nothing was written).
   * @throws TokaError `TOKA_STORAGE_FAILED` when the write fails.
   */
  write(change: TableWrite): Promise<boolean> {
    return this.serialize(async () => {
      if (this.closing) return false;
      const inputOffsets = change.inputOffsets ?? this.inputOffsets;
      const streamTime = change.streamTime ?? this.streamTime;
      try {
        await this.storage.write({
          puts: change.puts,
          deletes: change.deletes,
          checkpoint:
            streamTime === undefined
              ? { tableOffset: change.tableOffset, inputOffsets }
              : { tableOffset: change.tableOffset, inputOffsets, streamTime },
        });
      } catch (cause) {
        throw this.error(
          TokaErrorCode.StorageFailed,
          "writing to the local storage of the table partition failed",
          { cause, offset: this.position },
        );
      }
      this.position = change.tableOffset;
      this.inputOffsets = inputOffsets;
      this.streamTime = streamTime;
      return true;
    });
  }

  /** The stored bytes of `key`. */
  get(key: string): Promise<Uint8Array | undefined> {
    return this.storage.get(key);
  }

  /** The stored bytes of `keys`, in one storage read. */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.storage.getMany(keys);
  }

  /** The stored bytes of the keys found, in one storage read. */
  async read(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    let values: (Uint8Array | undefined)[];
    try {
      values = await this.storage.getMany(keys);
    } catch (cause) {
      throw this.error(
        TokaErrorCode.StorageFailed,
        "reading from the local storage of the table partition failed",
        { cause },
      );
    }
    const found = new Map<string, Uint8Array>();
    keys.forEach((key, i) => {
      const value = values[i];
      if (value) found.set(key, value);
    });
    return found;
  }

  has(key: string): Promise<boolean> {
    return this.storage.has(key);
  }

  iterate(options: IterateOptions): AsyncIterable<[string, Uint8Array]> {
    return this.storage.iterate(options);
  }

  /** Waits for the write in progress, then closes the storage; later writes do nothing. */
  close(): Promise<void> {
    this.closing = true;
    return this.serialize(() => this.storage.close());
  }

  /** An error with the coordinates of this partition. */
  error(
    code: TokaErrorCode,
    message: string,
    extra: { cause?: unknown; key?: string; offset?: string | undefined } = {},
  ): TokaError {
    return new TokaError(code, message, {
      group: this.group,
      topic: this.topic,
      partition: this.partition,
      ...extra,
    });
  }

  private serialize<R>(work: () => Promise<R>): Promise<R> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}
