import { access, readdir, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Level } from "level";
import { BaseStorage, type Cursor, type Entry, type ValidBatch } from "./base-storage.js";
import { type Bound, compareKeys, type KeyRange, prefixEnd } from "./key-range.js";
import type { Storage, StorageFactory, StorageStats } from "./storage.js";
import { StorageError, StorageErrorCode } from "./storage-error.js";

/** Options of {@link levelStorage}. Sizes are in bytes. */
export interface LevelStorageOptions {
  /**
   * Root directory of the state. Each (topic, partition) gets its own LevelDB database
   * in `<path>/<topic>.<partition>`, created on first open. Relative paths are resolved
   * against the working directory when {@link levelStorage} is called.
   */
  readonly path: string;
  /**
   * LevelDB's LRU cache of uncompressed blocks, per open partition. Default
   * {@link LEVEL_STORAGE_DEFAULTS}.cacheSize (1 MiB).
   */
  readonly cacheSize?: number;
  /**
   * Size of LevelDB's in-memory write buffer (memtable) before it is flushed to a table
   * file; up to two are held at once, per open partition. Larger buffers write faster
   * and reopen slower. Default {@link LEVEL_STORAGE_DEFAULTS}.writeBufferSize (1 MiB).
   */
  readonly writeBufferSize?: number;
  /** Approximate uncompressed size of a table block. Default 4096. */
  readonly blockSize?: number;
  /** Table files LevelDB keeps open per partition. Default 1000. */
  readonly maxOpenFiles?: number;
  /** Size at which LevelDB starts a new table file. Default 2 MiB. */
  readonly maxFileSize?: number;
  /** Snappy compression of table blocks. Default `true`. */
  readonly compression?: boolean;
  /**
   * `fsync` every `write` before it resolves. With `false` (the default) a resolved write
   * survives a crash of the process (`kill -9`) but may be lost, as a whole batch, when
   * the machine loses power; it is never torn either way.
   */
  readonly sync?: boolean;
}

/** {@link LevelStorageOptions} with every default applied. */
export type ResolvedLevelStorageOptions = Required<LevelStorageOptions>;

/**
 * Defaults of {@link LevelStorageOptions}: LevelDB's own, except for the memory a
 * database holds. LevelDB sizes its cache (8 MiB) and write buffers (2 × 4 MiB) for one
 * database per process; a processor opens one per partition, so with those defaults 8
 * partitions held about 30 MB more RSS in the processor benchmark, and 64 partitions
 * could hold a gigabyte. Bulk loads into one store are slower with a 1 MiB buffer (up to
 * half as fast in the state-store benchmark); a processor's batches, a few thousand keys
 * each, did not measurably slow down.
 */
export const LEVEL_STORAGE_DEFAULTS = {
  cacheSize: 1024 * 1024,
  writeBufferSize: 1024 * 1024,
  blockSize: 4096,
  maxOpenFiles: 1000,
  maxFileSize: 2 * 1024 * 1024,
  compression: true,
  sync: false,
} as const satisfies Omit<ResolvedLevelStorageOptions, "path">;

/** A {@link StorageFactory} of LevelDB storages, with the resolved options it uses. */
export interface LevelStorageFactory extends StorageFactory {
  /** The options after defaults; `path` is absolute. */
  readonly options: ResolvedLevelStorageOptions;
  /** The directory of a (topic, partition): `<path>/<topic>.<partition>`. */
  location(topic: string, partition: number): string;
  /** The partitions of `topic` with a LevelDB database under `path`. */
  storedPartitions(topic: string): Promise<number[]>;
}

/**
 * Storages on LevelDB (the `level` package, `classic-level` on disk), one database per
 * (topic, partition) in `<path>/<topic>.<partition>`. Values and the checkpoint live in
 * one database, so `write` commits both in one atomic LevelDB batch.
 *
 * The returned factory creates unopened storages; calling it does no I/O. A storage
 * holds LevelDB's lock while open: a second open of the same directory, by this or
 * another process, fails with `STORAGE_LOCKED`.
 *
 * @throws StorageError `STORAGE_INVALID_ARGUMENT` when an option is invalid (the message
 * names it), and from the factory for a topic that is not a Kafka topic name or a
 * partition that is not a non-negative int32.
 */
export function levelStorage(options: LevelStorageOptions): LevelStorageFactory {
  const resolved = resolveOptions(options);
  const location = (topic: string, partition: number): string =>
    join(resolved.path, `${topic}.${partition}`);
  const factory = (topic: string, partition: number): Storage =>
    new LevelStorage(topic, partition, location(topic, partition), resolved);
  const storedPartitions = async (topic: string): Promise<number[]> => {
    const names = await readdir(resolved.path).catch(() => [] as string[]);
    const partitions: number[] = [];
    for (const name of names) {
      const suffix = name.startsWith(`${topic}.`) ? name.slice(topic.length + 1) : "";
      if (!/^(?:0|[1-9][0-9]{0,9})$/.test(suffix)) continue;
      // LevelDB's CURRENT file: a database was created there, not only its directory.
      if (
        await access(join(resolved.path, name, "CURRENT")).then(
          () => true,
          () => false,
        )
      )
        partitions.push(Number(suffix));
    }
    return partitions.sort((a, b) => a - b);
  };
  return Object.assign(factory, { options: resolved, location, storedPartitions });
}

const SIZE_OPTIONS = [
  "cacheSize",
  "writeBufferSize",
  "blockSize",
  "maxOpenFiles",
  "maxFileSize",
] as const;
const BOOLEAN_OPTIONS = ["compression", "sync"] as const;
/** LevelDB takes sizes as uint32. */
const MAX_UINT32 = 2 ** 32 - 1;

/**
 * Applies defaults and validates, once per factory. Hand-written rather than a schema
 * library: eight flat options do not justify a runtime dependency.
 */
function resolveOptions(options: LevelStorageOptions): ResolvedLevelStorageOptions {
  const invalid = (message: string): StorageError =>
    new StorageError(StorageErrorCode.InvalidArgument, `levelStorage(): ${message}.`);
  if (typeof options !== "object" || options === null) {
    throw invalid("pass an options object such as { path: './state' }");
  }
  if (typeof options.path !== "string" || options.path === "") {
    throw invalid(`option "path" must be a non-empty directory path, got ${String(options.path)}`);
  }
  const resolved: Record<string, unknown> = {
    ...LEVEL_STORAGE_DEFAULTS,
    path: resolve(options.path),
  };
  for (const name of SIZE_OPTIONS) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > MAX_UINT32) {
      throw invalid(
        `option "${name}" must be a positive integer below 2^32, got ${String(value)} (default ${LEVEL_STORAGE_DEFAULTS[name]})`,
      );
    }
    resolved[name] = value;
  }
  for (const name of BOOLEAN_OPTIONS) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== "boolean") {
      throw invalid(`option "${name}" must be a boolean, got ${String(value)}`);
    }
    resolved[name] = value;
  }
  return Object.freeze(resolved) as ResolvedLevelStorageOptions;
}

/*
 * Key layout inside one database. The first two bytes are a namespace, so user keys
 * can never collide with the storage's own records, and iteration and stats only ever
 * see the value namespace:
 *
 *   v/<key>        a value (UTF-8 key)
 *   m/format       format marker, "1"; written on first open
 *   m/checkpoint   the checkpoint (see checkpoint-codec.ts)
 *   m/clearing     present while clear() runs; open() finishes an interrupted clear
 */
const VALUE_PREFIX = "v/";
/** First key after the value namespace ("0" follows "/"). */
const VALUE_END = "v0";
const FORMAT_KEY = "m/format";
const FORMAT_VERSION = "1";
const CHECKPOINT_KEY = "m/checkpoint";
const CLEARING_KEY = "m/clearing";
const EMPTY = new Uint8Array(0);

/** Entries per iterator read, and the byte budget of one read. */
const CHUNK_ENTRIES = 1000;
const CHUNK_BYTES = 256 * 1024;

type Database = Level<string, Uint8Array>;

/** One (topic, partition) on LevelDB. */
class LevelStorage extends BaseStorage {
  readonly path: string;
  readonly #options: ResolvedLevelStorageOptions;
  #db: Database | undefined;

  constructor(
    topic: string,
    partition: number,
    location: string,
    options: ResolvedLevelStorageOptions,
  ) {
    super(topic, partition, location);
    this.path = location;
    this.#options = options;
  }

  protected async doOpen(): Promise<void> {
    const { cacheSize, writeBufferSize, blockSize, maxOpenFiles, maxFileSize, compression } =
      this.#options;
    // The constructor starts opening on the next tick; open() below joins that attempt.
    const db: Database = new Level<string, Uint8Array>(this.path, {
      keyEncoding: "utf8",
      valueEncoding: "view",
      createIfMissing: true,
      errorIfExists: false,
      cacheSize,
      writeBufferSize,
      blockSize,
      maxOpenFiles,
      maxFileSize,
      compression,
    });
    try {
      await db.open();
      await this.#checkFormat(db);
      if ((await db.get(CLEARING_KEY)) !== undefined) await this.#clearValues(db);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    this.#db = db;
  }

  protected async doClose(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.close();
  }

  protected async doDestroy(): Promise<void> {
    // LevelDB's DestroyDB takes the directory's lock first, so this fails with
    // LEVEL_LOCKED instead of deleting files under another process that has them open.
    await (Level as unknown as { destroy(location: string): Promise<void> }).destroy(this.path);
    // DestroyDB leaves files it does not know (and a path that is not a directory).
    await rm(this.path, { recursive: true, force: true });
  }

  protected async doGet(key: string): Promise<Uint8Array | undefined> {
    return plain(await this.#database().get(VALUE_PREFIX + key));
  }

  protected async doGetMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const values = await this.#database().getMany(keys.map((key) => VALUE_PREFIX + key));
    return values.map(plain);
  }

  protected doHas(key: string): Promise<boolean> {
    return this.#database().has(VALUE_PREFIX + key);
  }

  protected doIterate(range: KeyRange): Cursor {
    const { lower, upper } = storedBounds(range);
    const iterator = this.#database().iterator({
      [lower.inclusive ? "gte" : "gt"]: lower.key,
      [upper.inclusive ? "lte" : "lt"]: upper.key,
      reverse: range.reverse,
      limit: range.limit === Number.POSITIVE_INFINITY ? -1 : range.limit,
      highWaterMarkBytes: CHUNK_BYTES,
    });
    return {
      async next(): Promise<Entry[]> {
        const entries = await iterator.nextv(CHUNK_ENTRIES);
        const out: Entry[] = new Array(entries.length);
        for (let i = 0; i < entries.length; i++) {
          const [key, value] = entries[i]!;
          out[i] = [key.slice(VALUE_PREFIX.length), plain(value)];
        }
        return out;
      },
      close: () => iterator.close().catch(() => undefined),
    };
  }

  protected async doWrite(batch: ValidBatch): Promise<void> {
    // A chained batch copies each operation into LevelDB's WriteBatch as it is added;
    // it measured faster than the array form of db.batch(). Either way: one atomic write.
    const chained = this.#database().batch();
    try {
      for (const [key, value] of batch.puts) chained.put(VALUE_PREFIX + key, value);
      for (const key of batch.deletes) chained.del(VALUE_PREFIX + key);
      if (batch.checkpoint !== undefined) chained.put(CHECKPOINT_KEY, batch.checkpoint);
    } catch (error) {
      await chained.close();
      throw error;
    }
    await chained.write({ sync: this.#options.sync });
  }

  protected doReadCheckpoint(): Promise<Uint8Array | undefined> {
    return this.#database().get(CHECKPOINT_KEY);
  }

  protected async doClear(): Promise<void> {
    const db = this.#database();
    // LevelDB's range delete is not atomic. Dropping the checkpoint and setting a marker
    // in one batch first makes a crash midway safe: the next open() sees the marker and
    // finishes the sweep, and no checkpoint ever describes a half-cleared store.
    await db.batch(
      [
        { type: "put", key: CLEARING_KEY, value: EMPTY },
        { type: "del", key: CHECKPOINT_KEY },
      ],
      { sync: this.#options.sync },
    );
    await this.#clearValues(db);
  }

  protected async doStats(): Promise<StorageStats> {
    const db = this.#database();
    let keys = 0;
    const iterator = db.keys({ gte: VALUE_PREFIX, lt: VALUE_END, highWaterMarkBytes: CHUNK_BYTES });
    try {
      for (;;) {
        const chunk = await iterator.nextv(CHUNK_ENTRIES);
        if (chunk.length === 0) break;
        keys += chunk.length;
      }
    } finally {
      await iterator.close();
    }
    return { keys, bytesOnDisk: await directorySize(this.path) };
  }

  protected translateError(error: unknown, op: string): StorageError {
    const failure = rootFailure(error);
    switch (failure.code) {
      case "LEVEL_LOCKED":
        return this.error(
          StorageErrorCode.Locked,
          `Cannot ${op}() the state of ${this.where}: it is locked by another process or by another open storage of the same partition. Close that storage (or stop that process) first; two processors must not share a state directory.`,
          { cause: error, retriable: true },
        );
      case "LEVEL_CORRUPTION":
        return this.corrupt(`LevelDB reports "${failure.message}" during ${op}()`, error);
      case "LEVEL_DATABASE_NOT_OPEN":
      case "LEVEL_ITERATOR_NOT_OPEN":
      case "LEVEL_BATCH_NOT_OPEN":
        return this.error(
          StorageErrorCode.Closed,
          `Cannot ${op}(): the storage of ${this.where} was closed while the operation ran. Open it again before using it.`,
          { cause: error },
        );
      default:
        return this.error(
          StorageErrorCode.Io,
          `${op}() on the state of ${this.where} failed: ${failure.message}. Check that the path is a directory this process can read and write and that the disk has free space. If the directory is damaged, wipe it (storage.destroy(), or delete it while no process uses it); the state is then rebuilt from the table topic in Kafka.`,
          { cause: error },
        );
    }
  }

  #database(): Database {
    // The base class only calls operations while open, so this is set.
    return this.#db!;
  }

  async #checkFormat(db: Database): Promise<void> {
    const format = await db.get<string, string>(FORMAT_KEY, { valueEncoding: "utf8" });
    if (format === FORMAT_VERSION) return;
    if (format !== undefined) {
      throw this.corrupt(
        `it was written in state format ${JSON.stringify(format)}, which this version does not read`,
      );
    }
    const [foreign] = await db.keys({ limit: 1 }).all();
    if (foreign !== undefined) {
      throw this.corrupt(
        `it holds LevelDB data that this storage did not write (first key ${JSON.stringify(foreign.slice(0, 64))})`,
      );
    }
    await db.put<string, string>(FORMAT_KEY, FORMAT_VERSION, { valueEncoding: "utf8", sync: true });
  }

  async #clearValues(db: Database): Promise<void> {
    await db.clear({ gte: VALUE_PREFIX, lt: VALUE_END });
    await db.del(CLEARING_KEY, { sync: this.#options.sync });
  }
}

/**
 * The range of stored keys for a range of user keys: the intersection of the value
 * namespace, the prefix's range and the bounds. Stored keys compare like user keys
 * behind the common namespace prefix.
 */
function storedBounds(range: KeyRange): { lower: Bound; upper: Bound } {
  let lower: Bound = { key: VALUE_PREFIX, inclusive: true };
  let upper: Bound = { key: VALUE_END, inclusive: false };
  const raise = (bound: Bound): void => {
    const key = VALUE_PREFIX + bound.key;
    const c = compareKeys(key, lower.key);
    if (c > 0 || (c === 0 && !bound.inclusive)) lower = { key, inclusive: bound.inclusive };
  };
  const cap = (bound: Bound): void => {
    const key = VALUE_PREFIX + bound.key;
    const c = compareKeys(key, upper.key);
    if (c < 0 || (c === 0 && !bound.inclusive)) upper = { key, inclusive: bound.inclusive };
  };
  if (range.prefix !== undefined) {
    raise({ key: range.prefix, inclusive: true });
    const end = prefixEnd(range.prefix);
    if (end !== undefined) cap({ key: end, inclusive: false });
  }
  if (range.lower !== undefined) raise(range.lower);
  if (range.upper !== undefined) cap(range.upper);
  return { lower, upper };
}

/** The innermost `code` and message: LevelDB open failures nest the reason in `cause`. */
function rootFailure(error: unknown): { code: string | undefined; message: string } {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const { code, cause } = (current ?? {}) as { code?: unknown; cause?: unknown };
    if (code === "LEVEL_DATABASE_NOT_OPEN" && cause !== undefined) {
      current = cause;
      continue;
    }
    break;
  }
  const { code, message } = (current ?? {}) as { code?: unknown; message?: unknown };
  return {
    code: typeof code === "string" ? code : undefined,
    message: typeof message === "string" ? message : String(current),
  };
}

/**
 * A plain Uint8Array view of what classic-level returns (a Buffer), so both backends
 * hand out the same type and `Buffer.prototype.slice` surprises (a view, not a copy)
 * cannot reach callers. No bytes are copied: LevelDB gave us our own buffer.
 */
function plain(value: Uint8Array): Uint8Array;
function plain(value: Uint8Array | undefined): Uint8Array | undefined;
function plain(value: Uint8Array | undefined): Uint8Array | undefined {
  return value === undefined
    ? undefined
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** Bytes of the files in `dir`; files that vanish meanwhile (compaction) count as 0. */
async function directorySize(dir: string): Promise<number> {
  const names = await readdir(dir);
  const sizes = await Promise.all(
    names.map((name) =>
      stat(join(dir, name)).then(
        (info) => (info.isFile() ? info.size : 0),
        () => 0,
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}
