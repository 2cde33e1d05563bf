import { BaseStorage, type Cursor, type Entry, type ValidBatch } from "./base-storage.js";
import { type Bound, compareKeys, type KeyRange } from "./key-range.js";
import type { Storage, StorageFactory, StorageStats } from "./storage.js";
import { type StorageError, StorageErrorCode } from "./storage-error.js";

/**
 * A {@link StorageFactory} of in-memory storages. The factory owns the data: closing a
 * storage keeps its partition's data, and a later storage of the same (topic, partition)
 * from the same factory sees it again, as a processor that reopens a partition expects.
 */
export interface MemoryStorageFactory extends StorageFactory {
  /**
   * Deletes the data of one (topic, partition); the next storage of it starts empty.
   * Does nothing for a partition without data.
   * @throws StorageError `STORAGE_LOCKED` while a storage of that partition is open.
   */
  drop(topic: string, partition: number): void;
  /**
   * Deletes the data of every partition of this factory.
   * @throws StorageError `STORAGE_LOCKED` while any storage of this factory is open
   * (nothing is deleted then).
   */
  dropAll(): void;
  /** The partitions of `topic` ever opened (until dropped). */
  storedPartitions(topic: string): Promise<number[]>;
}

/**
 * Storages in memory, for tests, the in-memory tester and small views. Behaves like
 * {@link levelStorage} in every observable way (same ordering, atomicity, checkpoint
 * encoding, errors and lifecycle), except that `stats().bytesOnDisk` is `undefined` and
 * the data lives as long as the factory.
 *
 * Values are copied on the way in and out, so callers may reuse their buffers. Only one
 * storage per (topic, partition) may be open at a time (`STORAGE_LOCKED` otherwise),
 * mirroring LevelDB's lock.
 *
 * @throws StorageError `STORAGE_INVALID_ARGUMENT` from the factory for a topic that is
 * not a Kafka topic name or a partition that is not a non-negative int32.
 */
export function memoryStorage(): MemoryStorageFactory {
  const registry: Registry = new Map();
  const factory = (topic: string, partition: number): Storage =>
    new MemoryStorage(topic, partition, registry);
  const drop = (topic: string, partition: number): void => {
    const id = partitionId(topic, partition);
    const data = registry.get(id);
    if (data?.holder !== undefined) throw data.holder.lockedError("drop");
    registry.delete(id);
  };
  const storedPartitions = async (topic: string): Promise<number[]> => {
    const partitions: number[] = [];
    for (const id of registry.keys()) {
      const at = id.indexOf(":");
      if (id.slice(at + 1) === topic) partitions.push(Number(id.slice(0, at)));
    }
    return partitions.sort((a, b) => a - b);
  };
  const dropAll = (): void => {
    for (const data of registry.values()) {
      if (data.holder !== undefined) throw data.holder.lockedError("dropAll");
    }
    registry.clear();
  };
  return Object.assign(factory, { drop, dropAll, storedPartitions });
}

/** Everything stored for one (topic, partition). */
interface PartitionData {
  readonly values: Map<string, Uint8Array>;
  /** Keys in UTF-8 byte order; `undefined` after an insert or delete until next needed. */
  sorted: string[] | undefined;
  checkpoint: Uint8Array | undefined;
  /** The storage that has this partition open. */
  holder: MemoryStorage | undefined;
}

type Registry = Map<string, PartitionData>;

const CHUNK_ENTRIES = 1000;

function partitionId(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

/** One (topic, partition) in memory. */
class MemoryStorage extends BaseStorage {
  readonly path: undefined = undefined;
  readonly #registry: Registry;
  #data: PartitionData | undefined;

  constructor(topic: string, partition: number, registry: Registry) {
    super(topic, partition, undefined);
    this.#registry = registry;
  }

  /** The error for touching this storage's partition while this storage has it open. */
  lockedError(op: string): StorageError {
    return this.error(
      StorageErrorCode.Locked,
      `Cannot ${op}() ${this.where} of this memoryStorage: a storage of it is open. Close that storage first.`,
      { retriable: true },
    );
  }

  protected async doOpen(): Promise<void> {
    const id = partitionId(this.topic, this.partition);
    let data = this.#registry.get(id);
    if (data === undefined) {
      data = { values: new Map(), sorted: undefined, checkpoint: undefined, holder: undefined };
      this.#registry.set(id, data);
    }
    if (data.holder !== undefined && data.holder !== this) throw data.holder.lockedError("open");
    data.holder = this;
    this.#data = data;
  }

  protected async doClose(): Promise<void> {
    if (this.#data !== undefined) this.#data.holder = undefined;
    this.#data = undefined;
  }

  protected async doDestroy(): Promise<void> {
    const id = partitionId(this.topic, this.partition);
    const data = this.#registry.get(id);
    if (data?.holder !== undefined) throw data.holder.lockedError("destroy");
    this.#registry.delete(id);
  }

  protected async doGet(key: string): Promise<Uint8Array | undefined> {
    return copy(this.#partition().values.get(key));
  }

  protected async doGetMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const { values } = this.#partition();
    return keys.map((key) => copy(values.get(key)));
  }

  protected async doHas(key: string): Promise<boolean> {
    return this.#partition().values.has(key);
  }

  protected doIterate(range: KeyRange): Cursor {
    // Snapshot now, like LevelDB: stored arrays are never mutated (writes replace
    // them), so holding references is enough.
    const { values } = this.#partition();
    const keys = this.#sorted();
    let lo = 0;
    let hi = keys.length;
    const raise = (bound: Bound): void => {
      lo = Math.max(
        lo,
        search(keys, (key) => isPastLower(key, bound)),
      );
    };
    const cap = (bound: Bound): void => {
      hi = Math.min(
        hi,
        search(keys, (key) => isPastUpper(key, bound)),
      );
    };
    if (range.lower !== undefined) raise(range.lower);
    if (range.upper !== undefined) cap(range.upper);
    if (range.prefix !== undefined) {
      const prefix = range.prefix;
      raise({ key: prefix, inclusive: true });
      // From the prefix on, the keys that start with it come first.
      const start = lo;
      hi = Math.min(
        hi,
        search(keys, (key) => !key.startsWith(prefix), start),
      );
    }
    const count = Math.max(0, Math.min(hi - lo, range.limit));
    const entries: Entry[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const key = keys[range.reverse ? hi - 1 - i : lo + i]!;
      entries[i] = [key, values.get(key)!];
    }
    let at = 0;
    return {
      async next(): Promise<Entry[]> {
        const chunk = entries.slice(at, at + CHUNK_ENTRIES);
        at += chunk.length;
        for (const entry of chunk) entry[1] = new Uint8Array(entry[1]);
        return chunk;
      },
      async close(): Promise<void> {
        at = entries.length;
      },
    };
  }

  protected async doWrite(batch: ValidBatch): Promise<void> {
    const data = this.#partition();
    const { values } = data;
    // Validated already, so nothing below throws: the batch applies entirely or not at all.
    for (const [key, value] of batch.puts) {
      if (!values.has(key)) data.sorted = undefined;
      values.set(key, new Uint8Array(value));
    }
    for (const key of batch.deletes) {
      if (values.delete(key)) data.sorted = undefined;
    }
    if (batch.checkpoint !== undefined) data.checkpoint = batch.checkpoint;
  }

  protected async doReadCheckpoint(): Promise<Uint8Array | undefined> {
    return this.#partition().checkpoint;
  }

  protected async doClear(): Promise<void> {
    const data = this.#partition();
    data.values.clear();
    data.sorted = undefined;
    data.checkpoint = undefined;
  }

  protected async doStats(): Promise<StorageStats> {
    return { keys: this.#partition().values.size, bytesOnDisk: undefined };
  }

  protected translateError(error: unknown, op: string): StorageError {
    return this.error(
      StorageErrorCode.Io,
      `${op}() on the storage of ${this.where} failed: ${String(error)}.`,
      {
        cause: error,
      },
    );
  }

  #partition(): PartitionData {
    // The base class only calls operations while open, so this is set.
    return this.#data!;
  }

  #sorted(): string[] {
    const data = this.#partition();
    data.sorted ??= [...data.values.keys()].sort(compareKeys);
    return data.sorted;
  }
}

/**
 * A plain copy. Not `value.slice()`: on a Buffer (a Uint8Array subclass callers may
 * pass) that returns a view of the same memory.
 */
function copy(value: Uint8Array | undefined): Uint8Array | undefined {
  return value === undefined ? undefined : new Uint8Array(value);
}

/** Whether `key` is at or past the lower bound (inside the range on that side). */
function isPastLower(key: string, bound: Bound): boolean {
  const c = compareKeys(key, bound.key);
  return c > 0 || (c === 0 && bound.inclusive);
}

/** Whether `key` is beyond the upper bound (outside the range on that side). */
function isPastUpper(key: string, bound: Bound): boolean {
  const c = compareKeys(key, bound.key);
  return c > 0 || (c === 0 && !bound.inclusive);
}

/** First index in `[from, keys.length)` where the monotone `test` holds, else `keys.length`. */
function search(keys: readonly string[], test: (key: string) => boolean, from = 0): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (test(keys[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
