import type { Checkpoint, Storage } from "./storage.js";
import { StorageError, StorageErrorCode } from "./storage-error.js";
import {
  decodeWindowKey,
  isWindowTime,
  readTimeDigits,
  TIME_DIGITS,
  timeDigits,
  windowKey,
} from "./window-key.js";
import { END_BYTES, readWindowRecordValue, windowRecordValue } from "./window-value.js";

/** One window of one record key with its value, as a {@link WindowStore} holds it. */
export interface StoredWindow {
  /** The record key. */
  readonly key: string;
  /** Start of the window, epoch milliseconds; with `key`, what identifies it. */
  readonly start: number;
  /**
   * End of the window, epoch milliseconds, at least `start`. The store keeps it and
   * expires by it; what it means (exclusive for time windows) is the caller's.
   */
  readonly end: number;
  /** The window's value (an aggregate), encoded by the caller's codec. */
  readonly value: Uint8Array;
}

/** A window to store, as {@link WindowWriteBatch.puts} takes it. */
export interface WindowPut extends StoredWindow {
  /**
   * The end this window was stored with before, when the caller knows it and the end
   * changes (a session that grows): its expiry index entry is then removed in the same
   * write instead of lingering until {@link WindowStore.expire} passes it.
   */
  readonly previousEnd?: number;
}

/** Which window to delete; with `end`, its expiry index entry goes in the same write. */
export interface WindowRef {
  readonly key: string;
  readonly start: number;
  /** The end the window was stored with, when the caller knows it. */
  readonly end?: number;
}

/** One atomic write of a {@link WindowStore}: puts, deletes and a checkpoint, all or nothing. */
export interface WindowWriteBatch {
  /** Windows and their new values, applied in order (the last put of a window wins). */
  readonly puts?: Iterable<WindowPut>;
  /** Windows to remove, applied after the puts; absent windows are ignored. */
  readonly deletes?: Iterable<WindowRef>;
  /** The checkpoint describing the state after this write; replaces the previous one. */
  readonly checkpoint?: Checkpoint;
}

/** Options of {@link WindowStore.fetch}. */
export interface WindowFetchOptions {
  /** Latest start first. Default `false`. */
  readonly reverse?: boolean;
}

/** Options of {@link WindowStore.expire}. */
export interface WindowExpireOptions {
  /** Windows deleted per atomic write. Default {@link WINDOW_STORE_DEFAULTS}.expireBatchSize. */
  readonly batchSize?: number;
}

/** Defaults of the {@link WindowStore} options. */
export const WINDOW_STORE_DEFAULTS = {
  /** Small enough that one expiry write never holds the storage for long. */
  expireBatchSize: 1000,
} as const;

/*
 * Layout inside the wrapped storage, which holds nothing else:
 *
 *   w <window key>          → end (8 bytes, big-endian) + value
 *   x <end> <window key>    → empty: the expiry index, ordered by end
 *
 * <window key> is windowKey(key, start) and <end> is timeDigits(end). The first index
 * lets fetch(key, from, to) be one range scan; the second lets expire(before) and
 * fetchEnding(from, to) read only the windows they return instead of every window.
 *
 * Writes never read: a put writes both entries, so when a window's end changes (a
 * session that grows) without `previousEnd`, the index keeps an entry under the old end
 * too, and a delete without `end` leaves its index entry behind. Such stale entries are
 * harmless: readers of the index check the window's stored end, and expire() removes
 * them.
 */
const WINDOW_PREFIX = "w";
const EXPIRY_PREFIX = "x";
const EXPIRY_END = "y";
/** Expiry-index entries read per getMany when scanning by end. */
const SCAN_CHUNK = 256;
/** Above every safe time: the exclusive bound of "all times". */
const PAST_ALL_TIMES = Number.MAX_SAFE_INTEGER + 1;

/**
 * The windows of a windowed aggregation in one (windowed table topic, partition): for
 * each record key, values per window start, scanned in start order. Built on a
 * {@link Storage} of its own (from the same {@link StorageFactory} as tables, for the
 * windowed table topic), so it is restored, checkpointed and wiped like any table; every
 * write is one atomic `storage.write`, checkpoint included. The caller owns the
 * storage's lifecycle: open it before use, close it after.
 *
 * The record key of a window in the windowed table topic is {@link windowKey}`(key,
 * start)`; restoring that topic means writing its records back through {@link write},
 * so that the expiry index is rebuilt with them.
 */
export class WindowStore {
  /** The storage underneath; it must not be shared with a table. */
  readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** The window of `key` starting at `start`, or `undefined`. */
  async get(key: string, start: number): Promise<StoredWindow | undefined> {
    const data = await this.storage.get(WINDOW_PREFIX + windowKey(key, start));
    return data === undefined ? undefined : this.#window(key, start, data);
  }

  /**
   * Applies puts, deletes and the checkpoint in one atomic write of the storage: after a
   * crash it holds all of them or none. Puts apply in order, then deletes.
   * @throws StorageError `STORAGE_INVALID_ARGUMENT` for an invalid key, time or value;
   * nothing is written then.
   */
  async write(batch: WindowWriteBatch): Promise<void> {
    const puts: [string, Uint8Array][] = [];
    const deletes: string[] = [];
    /** Per window put in this batch, the end its last put gives it. */
    const finalEnds = new Map<string, number>();
    const replaced: [encoded: string, previousEnd: number][] = [];
    for (const window of batch.puts ?? []) {
      const encoded = windowKey(window.key, window.start);
      checkEnd(window.start, window.end);
      if (!(window.value instanceof Uint8Array)) {
        throw invalid(`the value of a window must be a Uint8Array, got ${typeof window.value}`);
      }
      puts.push([WINDOW_PREFIX + encoded, windowRecordValue(window.end, window.value)]);
      puts.push([EXPIRY_PREFIX + timeDigits(window.end) + encoded, EMPTY]);
      finalEnds.set(encoded, window.end);
      if (window.previousEnd !== undefined) {
        checkEnd(window.start, window.previousEnd);
        replaced.push([encoded, window.previousEnd]);
      }
    }
    // Deletes apply after all puts: never delete the entry a later put of the same
    // window wrote back.
    for (const [encoded, previousEnd] of replaced) {
      if (finalEnds.get(encoded) !== previousEnd) {
        deletes.push(EXPIRY_PREFIX + timeDigits(previousEnd) + encoded);
      }
    }
    for (const ref of batch.deletes ?? []) {
      const encoded = windowKey(ref.key, ref.start);
      deletes.push(WINDOW_PREFIX + encoded);
      if (ref.end !== undefined) {
        checkEnd(ref.start, ref.end);
        deletes.push(EXPIRY_PREFIX + timeDigits(ref.end) + encoded);
      }
    }
    await this.storage.write(
      batch.checkpoint === undefined
        ? { puts, deletes }
        : { puts, deletes, checkpoint: batch.checkpoint },
    );
  }

  /** Stores one window; see {@link write}. */
  put(window: WindowPut): Promise<void> {
    return this.write({ puts: [window] });
  }

  /** Deletes one window; see {@link write}. */
  delete(key: string, start: number, end?: number): Promise<void> {
    return this.write({ deletes: [end === undefined ? { key, start } : { key, start, end }] });
  }

  /**
   * The windows of `key` whose start lies in `[from, to]` (both inclusive), in start
   * order (latest first with `reverse`): one range scan of the storage over a snapshot
   * taken when iteration starts. Bounds outside the times a window can have (below 0,
   * above the largest safe integer, ±Infinity) are clamped.
   * @throws StorageError `STORAGE_INVALID_ARGUMENT` (on the first `next()`) for bounds
   * that are not integers or ±Infinity.
   */
  fetch(
    key: string,
    from: number,
    to: number,
    options: WindowFetchOptions = {},
  ): AsyncIterable<StoredWindow> {
    const store = this;
    return {
      async *[Symbol.asyncIterator]() {
        const lo = clampTime(from, "from");
        const hi = clampTime(to, "to");
        if (lo > hi) return;
        const range = {
          gte: WINDOW_PREFIX + windowKey(key, lo),
          lte: WINDOW_PREFIX + windowKey(key, hi),
          reverse: options.reverse === true,
        };
        for await (const [stored, data] of store.storage.iterate(range)) {
          const start = readTimeDigits(stored, stored.length - TIME_DIGITS)!;
          yield store.#window(key, start, data);
        }
      },
    };
  }

  /**
   * Every window, of any key, whose stored end lies in `[from, to]` (both inclusive), in
   * order of end, then key, then start. Reads the expiry index and then only the windows
   * it names, so it costs what it returns, not what the store holds: what emitting final
   * results at window close needs. Bounds are clamped as in {@link fetch}.
   */
  fetchEnding(from: number, to: number): AsyncIterable<StoredWindow> {
    const store = this;
    return {
      async *[Symbol.asyncIterator]() {
        const lo = clampTime(from, "from");
        const hi = clampTime(to, "to");
        if (lo > hi) return;
        const range = {
          gte: EXPIRY_PREFIX + timeDigits(lo),
          lt: hi === Number.MAX_SAFE_INTEGER ? EXPIRY_END : EXPIRY_PREFIX + timeDigits(hi + 1),
        };
        let chunk: IndexEntry[] = [];
        for await (const [indexKey] of store.storage.iterate(range)) {
          chunk.push(parseIndexKey(indexKey));
          if (chunk.length === SCAN_CHUNK) {
            yield* await store.#live(chunk);
            chunk = [];
          }
        }
        if (chunk.length > 0) yield* await store.#live(chunk);
      },
    };
  }

  /**
   * Deletes every window whose stored end is before `before`, and the stale expiry
   * entries there, in atomic writes of at most `batchSize` windows each, until none is
   * left. Windows written meanwhile with such an end may be deleted too. Local only: the
   * windowed table topic drops old windows by its own retention.
   * @returns how many windows it deleted.
   * @throws StorageError `STORAGE_INVALID_ARGUMENT` for a `before` that is not an
   * integer or ±Infinity, or a `batchSize` that is not a positive integer.
   */
  async expire(before: number, options: WindowExpireOptions = {}): Promise<number> {
    const { batchSize = WINDOW_STORE_DEFAULTS.expireBatchSize } = options;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw invalid(
        `expire option "batchSize" must be a positive integer, got ${String(batchSize)}`,
      );
    }
    clampTime(before, "before");
    const bound = Math.max(0, Math.min(before, PAST_ALL_TIMES));
    if (bound <= 0) return 0;
    const range = {
      gte: EXPIRY_PREFIX,
      lt: bound === PAST_ALL_TIMES ? EXPIRY_END : EXPIRY_PREFIX + timeDigits(bound),
      limit: batchSize,
    };
    let expired = 0;
    for (;;) {
      const entries: IndexEntry[] = [];
      for await (const [indexKey] of this.storage.iterate(range)) {
        entries.push(parseIndexKey(indexKey));
      }
      if (entries.length === 0) return expired;
      const data = await this.storage.getMany(entries.map((entry) => entry.windowKey));
      const deletes: string[] = [];
      entries.forEach((entry, i) => {
        deletes.push(entry.indexKey);
        const stored = data[i];
        // Only a window whose current end is the indexed one: a stale entry's window may
        // have been put again with a later end, and must stay.
        if (stored !== undefined && readEnd(stored) === entry.end) {
          deletes.push(entry.windowKey);
          expired++;
        }
      });
      await this.storage.write({ deletes });
    }
  }

  /** The checkpoint of the last write that had one; see {@link Storage.checkpoint}. */
  checkpoint(): Promise<Checkpoint | undefined> {
    return this.storage.checkpoint();
  }

  /** The windows of `entries` that exist with the indexed end, in the entries' order. */
  async #live(entries: readonly IndexEntry[]): Promise<StoredWindow[]> {
    const data = await this.storage.getMany(entries.map((entry) => entry.windowKey));
    const out: StoredWindow[] = [];
    entries.forEach((entry, i) => {
      const stored = data[i];
      if (stored === undefined || readEnd(stored) !== entry.end) return;
      const { key, start } = decodeWindowKey(entry.windowKey.slice(WINDOW_PREFIX.length));
      out.push(this.#window(key, start, stored));
    });
    return out;
  }

  #window(key: string, start: number, data: Uint8Array): StoredWindow {
    if (data.length < END_BYTES) {
      throw new StorageError(
        StorageErrorCode.Corrupt,
        `The window of key ${JSON.stringify(key)} starting at ${start} in topic "${this.storage.topic}" partition ${this.storage.partition} is corrupt: its value is shorter than its end. To recover, wipe the storage (storage.destroy()); the state is then rebuilt from the table topic in Kafka.`,
        { topic: this.storage.topic, partition: this.storage.partition, path: this.storage.path },
      );
    }
    return { key, start, end: readEnd(data), value: data.subarray(END_BYTES) };
  }
}

/** An expiry-index entry, parsed. */
interface IndexEntry {
  readonly indexKey: string;
  readonly end: number;
  /** The key of the window it names, with its namespace prefix. */
  readonly windowKey: string;
}

const EMPTY = new Uint8Array(0);

function parseIndexKey(indexKey: string): IndexEntry {
  const end = readTimeDigits(indexKey, EXPIRY_PREFIX.length)!;
  const windowKey = WINDOW_PREFIX + indexKey.slice(EXPIRY_PREFIX.length + TIME_DIGITS);
  return { indexKey, end, windowKey };
}

function readEnd(data: Uint8Array): number {
  return readWindowRecordValue(data)!.end;
}

function checkEnd(start: number, end: number): void {
  if (!isWindowTime(end) || end < start) {
    throw invalid(
      `the end of the window starting at ${start} must be a safe integer ≥ its start, got ${String(end)}`,
    );
  }
}

/** A range bound clamped to the window times, 0 to the largest safe integer. */
function clampTime(time: number, name: string): number {
  if (typeof time !== "number" || !(Number.isInteger(time) || Math.abs(time) === Infinity)) {
    throw invalid(
      `"${name}" must be an integer (epoch milliseconds) or ±Infinity, got ${String(time)}`,
    );
  }
  return Math.max(0, Math.min(time, Number.MAX_SAFE_INTEGER));
}

function invalid(problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.InvalidArgument,
    `Invalid window store call: ${problem}.`,
  );
}
