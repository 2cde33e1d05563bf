/**
 * Brand shared by every toka error class across packages (`Symbol.for("toka.error")`).
 * Guards check it (or `name` and `code`) instead of `instanceof`, so two copies of a
 * package still agree. Defined here because state-store imports nothing from the repo.
 */
export const TOKA_ERROR_BRAND = Symbol.for("toka.error");

/** Codes of {@link StorageError}. */
export const StorageErrorCode = {
  /**
   * Another process or another open storage instance holds the partition's state.
   * Retriable: the holder may be closing (e.g. during a rebalance).
   */
  Locked: "STORAGE_LOCKED",
  /**
   * The state cannot be read: LevelDB reports corruption, or the directory is not a
   * toka state directory. Recover by wiping it (`storage.destroy()` or deleting the
   * directory); the state is rebuilt from the table topic in Kafka.
   */
  Corrupt: "STORAGE_CORRUPT",
  /** An operation on a storage that is not open (opening, closing or closed). */
  Closed: "STORAGE_CLOSED",
  /** The file system failed: not a directory, no permission, disk full, I/O error. */
  Io: "STORAGE_IO",
  /** A caller passed an invalid key, value, range, checkpoint, name or option. */
  InvalidArgument: "STORAGE_INVALID_ARGUMENT",
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** Options of the {@link StorageError} constructor. */
export interface StorageErrorOptions {
  /** The table (or other) topic of the storage; absent for errors in factory options. */
  readonly topic?: string | undefined;
  /** The partition of the storage; absent for errors in factory options. */
  readonly partition?: number | undefined;
  /** The state directory, for backends that have one. */
  readonly path?: string | undefined;
  /** Whether retrying the same operation later may succeed. Default: `false`. */
  readonly retriable?: boolean | undefined;
  /** The underlying error, chained as the standard `Error.cause`. */
  readonly cause?: unknown;
}

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(StorageErrorCode));

/**
 * The one error a {@link Storage} throws. `message` says what is wrong, names the
 * topic, partition and path it concerns, and says how to fix it; the same coordinates
 * are enumerable fields. The backend's own error, when there is one, is `cause`.
 */
export class StorageError extends Error {
  override readonly name = "StorageError" as const;
  /** What kind of failure this is; see {@link StorageErrorCode}. */
  readonly code: StorageErrorCode;
  /** Whether retrying the same operation later may succeed (only `STORAGE_LOCKED` is). */
  readonly retriable: boolean;
  /** The topic of the storage, or `undefined` for errors in factory options. */
  readonly topic: string | undefined;
  /** The partition of the storage, or `undefined` for errors in factory options. */
  readonly partition: number | undefined;
  /** The state directory, for backends that have one. */
  declare readonly path?: string;
  readonly [TOKA_ERROR_BRAND] = true as const;

  /**
   * @param code - the failure kind.
   * @param message - what is wrong, with its coordinates, and how to fix it.
   * @param options - coordinates, `retriable` (default `false`) and `cause`.
   */
  constructor(code: StorageErrorCode, message: string, options: StorageErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.topic = options.topic;
    this.partition = options.partition;
    if (options.path !== undefined) {
      Object.defineProperty(this, "path", { value: options.path, enumerable: true });
    }
  }
}

/**
 * Whether `error` is a {@link StorageError}, judged by `name` and `code` rather than
 * `instanceof`, so errors from another copy of this package are recognized too.
 * Never throws.
 */
export function isStorageError(error: unknown): error is StorageError {
  if (typeof error !== "object" || error === null) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === "StorageError" && typeof code === "string" && ALL_CODES.has(code);
}
