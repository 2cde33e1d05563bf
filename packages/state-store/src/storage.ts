/**
 * What local storage records atomically with the values of one (topic, partition):
 * how far the table topic and the inputs have been applied, plus the processor's
 * opaque exactly-once metadata.
 */
export interface Checkpoint {
  /** Next offset of the table topic partition to read (everything before is applied). */
  readonly tableOffset: string;
  /** Per input topic: the next input offset to process in this partition. */
  readonly inputOffsets: Readonly<Record<string, string>>;
  /** Opaque bytes owned by the processor (e.g. exactly-once dedup state). */
  readonly metadata?: Uint8Array;
}

/** One atomic write: puts, deletes and (optionally) the checkpoint, all or nothing. */
export interface WriteBatch {
  readonly puts?: Iterable<readonly [key: string, value: Uint8Array]>;
  readonly deletes?: Iterable<string>;
  readonly checkpoint?: Checkpoint;
}

/** Options of {@link Storage.iterate}: a key range in byte order of the UTF-8 keys. */
export interface IterateOptions {
  readonly gt?: string;
  readonly gte?: string;
  readonly lt?: string;
  readonly lte?: string;
  /** Only keys starting with this prefix (combined with the bounds above). */
  readonly prefix?: string;
  readonly reverse?: boolean;
  /** At most this many entries. Default: all. */
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
 * Local key/value state of one (topic, partition). Keys are strings, values bytes: the
 * codec is the caller's business. Every operation but `open`/`close` requires the
 * storage to be open and throws `StorageError` (code `STORAGE_CLOSED`) otherwise.
 */
export interface Storage {
  readonly topic: string;
  readonly partition: number;
  readonly status: StorageStatus;
  /** Idempotent. @throws StorageError `STORAGE_LOCKED` / `STORAGE_CORRUPT`. */
  open(): Promise<void>;
  /** Idempotent; waits for in-flight operations. */
  close(): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** One round trip for a batch of keys; results in the order of `keys`. */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  has(key: string): Promise<boolean>;
  /** Entries in key order (byte order of UTF-8), within the given range. */
  iterate(options?: IterateOptions): AsyncIterable<[key: string, value: Uint8Array]>;
  /** Applies puts, deletes and the checkpoint atomically. */
  write(batch: WriteBatch): Promise<void>;
  /** The last checkpoint written, or `undefined` for a fresh storage. */
  checkpoint(): Promise<Checkpoint | undefined>;
  /** Removes every value and the checkpoint. */
  clear(): Promise<void>;
  stats(): Promise<StorageStats>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates the (unopened) storage of one (topic, partition). */
export type StorageFactory = (topic: string, partition: number) => Storage;
