/**
 * What local storage records atomically with the values of one (topic, partition):
 * how far the table topic and the inputs have been applied, plus the processor's
 * opaque exactly-once metadata.
 */
export interface Checkpoint {
  /**
   * Next offset of the table topic partition to read (everything before is applied), as
   * the canonical decimal string of a Kafka int64 (`"0"`, `"1042"`).
   */
  readonly tableOffset: string;
  /** Per input topic: the next input offset to process in this partition, as above. */
  readonly inputOffsets: Readonly<Record<string, string>>;
  /** Opaque bytes owned by the processor (e.g. exactly-once dedup state). */
  readonly metadata?: Uint8Array;
  /**
   * The partition's stream time when the checkpoint was written: the highest event time
   * of the inputs it covers, in milliseconds since the epoch (a safe integer, >= 0).
   */
  readonly streamTime?: number;
}

/** One atomic write: puts, deletes and (optionally) the checkpoint, all or nothing. */
export interface WriteBatch {
  /** Keys and their new values, applied in order (the last put of a key wins). */
  readonly puts?: Iterable<readonly [key: string, value: Uint8Array]>;
  /** Keys to remove, applied after the puts; absent keys are ignored. */
  readonly deletes?: Iterable<string>;
  /** The checkpoint describing the state after this batch; replaces the previous one. */
  readonly checkpoint?: Checkpoint;
}

/**
 * Options of {@link Storage.iterate}: a key range in byte order of the UTF-8 keys (which
 * is code point order, not JS string `<` order). All bounds are optional; `gte` wins over
 * `gt` and `lte` over `lt` when both are given.
 */
export interface IterateOptions {
  /** Only keys after this one. */
  readonly gt?: string;
  /** Only keys from this one on. Takes precedence over `gt`. */
  readonly gte?: string;
  /** Only keys before this one. */
  readonly lt?: string;
  /** Only keys up to this one. Takes precedence over `lt`. */
  readonly lte?: string;
  /** Only keys starting with this prefix (combined with the bounds above). */
  readonly prefix?: string;
  /** Highest key first. Default `false`. */
  readonly reverse?: boolean;
  /**
   * At most this many entries (from the high end when `reverse`): a non-negative integer,
   * or `Infinity`. Default: all.
   */
  readonly limit?: number;
}

/** Sizes of a storage, for stats and benchmarks. */
export interface StorageStats {
  /** Number of keys (values only; the checkpoint is not counted). */
  readonly keys: number;
  /** Bytes on disk where the backend knows them, else `undefined`. */
  readonly bytesOnDisk: number | undefined;
}

/** Lifecycle states of a {@link Storage}. */
export const StorageStatus = {
  Opening: "opening",
  Open: "open",
  Closing: "closing",
  Closed: "closed",
} as const;
export type StorageStatus = (typeof StorageStatus)[keyof typeof StorageStatus];

/**
 * Local key/value state of one (topic, partition). Keys are strings (stored as UTF-8;
 * strings with lone surrogates are rejected), values bytes: the codec is the caller's
 * business. Every operation but `open`/`close`/`destroy` requires the storage to be open
 * and rejects with `StorageError` `STORAGE_CLOSED` otherwise (while opening, closing or
 * closed), never hangs. Invalid arguments reject with `STORAGE_INVALID_ARGUMENT`, and
 * backend failures with `STORAGE_CORRUPT` or `STORAGE_IO`.
 *
 * Lifecycle: `status` starts `"closed"`; `open()` and `close()` are idempotent and
 * serialized, so any interleaving of calls ends in the state of the last call. A closed
 * storage can be opened again.
 */
export interface Storage {
  /** The topic whose partition this stores (a table topic, `<group>-table`). */
  readonly topic: string;
  /** The partition this stores. */
  readonly partition: number;
  /** The lifecycle state; see {@link StorageStatus}. */
  readonly status: StorageStatus;
  /** The state directory, for backends that have one (`undefined` in memory). */
  readonly path?: string | undefined;
  /**
   * Opens the storage; resolves at once when open.
   * @throws StorageError `STORAGE_LOCKED` (retriable) when another process or instance
   * has this partition open; `STORAGE_CORRUPT` when its state is unreadable (wipe it with
   * `destroy()`, the state is rebuilt from Kafka); `STORAGE_IO` when the file system fails.
   */
  open(): Promise<void>;
  /**
   * Closes the storage; resolves at once when closed. Waits for in-flight operations;
   * open iterators then fail with `STORAGE_CLOSED`.
   */
  close(): Promise<void>;
  /** The value of `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** One round trip for a batch of keys; results in the order of `keys` (`undefined` where absent). */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /** Whether `key` has a value. */
  has(key: string): Promise<boolean>;
  /**
   * Entries in key order (byte order of UTF-8), within the given range. Each iteration
   * (each `for await`) reads a snapshot taken when it starts: writes made meanwhile are
   * not seen. The checkpoint is never part of it. Errors (closed storage, invalid
   * options) reject the first `next()`. Breaking out of the loop releases the snapshot.
   */
  iterate(options?: IterateOptions): AsyncIterable<[key: string, value: Uint8Array]>;
  /**
   * Applies puts, deletes and the checkpoint atomically: after a crash the store holds
   * either all of the batch or none of it. Within a batch, puts apply in order, then
   * deletes (a key both put and deleted ends deleted).
   * @throws StorageError `STORAGE_INVALID_ARGUMENT` for a key that is not a string, a value
   * that is not a `Uint8Array`, or a checkpoint whose offsets are not decimal int64 strings;
   * nothing is written then.
   */
  write(batch: WriteBatch): Promise<void>;
  /** The last checkpoint written, or `undefined` for a fresh (or cleared) storage. */
  checkpoint(): Promise<Checkpoint | undefined>;
  /** Removes every value and the checkpoint. Safe against crashes: a cleared store never keeps a checkpoint. */
  clear(): Promise<void>;
  /** Number of keys and bytes on disk. Counting keys reads every key: O(keys). */
  stats(): Promise<StorageStats>;
  /**
   * Closes the storage if needed, then deletes all of its state (for LevelDB, the whole
   * directory), so that the next `open()` starts empty. Works when `open()` failed with
   * `STORAGE_CORRUPT`: that is how to recover.
   * @throws StorageError `STORAGE_LOCKED` while another process or instance has it open.
   */
  destroy?(): Promise<void>;
  /** Calls `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates the (unopened) storage of one (topic, partition). */
export interface StorageFactory {
  (topic: string, partition: number): Storage;
  /**
   * The partitions of `topic` it holds local state of (left by an earlier owner or
   * process), ascending, so that a processor restarted on its state asks for those
   * partitions back. Absent for a factory that cannot tell.
   */
  storedPartitions?(topic: string): Promise<number[]>;
}
