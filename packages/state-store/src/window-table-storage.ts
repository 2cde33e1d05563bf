import type { IterateOptions, Storage, StorageStats, WriteBatch } from "./storage.js";
import { StorageError, StorageErrorCode } from "./storage-error.js";
import { decodeWindowKey } from "./window-key.js";
import type { WindowPut, WindowRef, WindowStore } from "./window-store.js";
import { readWindowRecordValue, windowRecordValue } from "./window-value.js";

/*
 * A windowed table topic's records as a window store takes them:
 *
 *   record key    windowKey(key, start)
 *   record value  end (8 bytes, big-endian) + the window's value; null deletes the window
 *
 * Presenting a WindowStore as a Storage of such records is what lets a windowed table be
 * restored, followed and checkpointed by the same code as every other table: each put of
 * a record becomes a put of its window (and its expiry index entry), each delete a delete.
 */

/** Options of {@link windowTableStorage}. */
export interface WindowTableStorageOptions {
  /**
   * Whether a window's end may change between puts (sessions that grow, timers moved).
   * Then each put reads the stored end, so that the expiry index loses the old entry in
   * the same write. Windows of a fixed span (tumbling, hopping) never change their end:
   * `false` spares that read. Default `true`.
   */
  readonly endsChange?: boolean;
}

/**
 * The storage of a windowed table topic's partition, over `store`: keys are window keys,
 * values window record values. Open, close, the checkpoint and `clear` are the store's
 * storage's; writes go through the store, so that its expiry index follows.
 */
export function windowTableStorage(
  store: WindowStore,
  options: WindowTableStorageOptions = {},
): Storage {
  const { endsChange = true } = options;
  const inner = store.storage;
  const window = async (key: string) => {
    const { key: recordKey, start } = decodeWindowKey(key);
    const stored = await store.get(recordKey, start);
    return stored && windowRecordValue(stored.end, stored.value);
  };
  return {
    get topic() {
      return inner.topic;
    },
    get partition() {
      return inner.partition;
    },
    get status() {
      return inner.status;
    },
    get path() {
      return inner.path;
    },
    open: () => inner.open(),
    close: () => inner.close(),
    get: window,
    getMany: (keys) => Promise.all(keys.map(window)),
    has: async (key) => (await window(key)) !== undefined,
    iterate(_options?: IterateOptions): AsyncIterable<[string, Uint8Array]> {
      throw new StorageError(
        StorageErrorCode.InvalidArgument,
        "A windowed table is read by window (WindowStore.fetch), not iterated by key.",
      );
    },
    async write(batch: WriteBatch): Promise<void> {
      // With a window's stored end, its expiry index entry under that end goes in the same
      // write when it is deleted or its end changes: the index holds no stale entries.
      const storedEnd = async (key: string, start: number) => (await store.get(key, start))?.end;
      const puts: WindowPut[] = await Promise.all(
        [...(batch.puts ?? [])].map(async ([key, data]) => {
          const { key: recordKey, start } = decodeWindowKey(key);
          const record = readWindowRecordValue(data);
          if (!record) {
            throw new StorageError(
              StorageErrorCode.InvalidArgument,
              `The window record of key ${JSON.stringify(recordKey)} starting at ${start} is shorter than its end; it was not written by toka.`,
            );
          }
          const put = { key: recordKey, start, end: record.end, value: record.value };
          if (!endsChange) return put;
          const previousEnd = await storedEnd(recordKey, start);
          return previousEnd === undefined ? put : { ...put, previousEnd };
        }),
      );
      const deletes: WindowRef[] = await Promise.all(
        [...(batch.deletes ?? [])].map(async (key) => {
          const ref = decodeWindowKey(key);
          const end = await storedEnd(ref.key, ref.start);
          return end === undefined ? ref : { ...ref, end };
        }),
      );
      await store.write(
        batch.checkpoint ? { puts, deletes, checkpoint: batch.checkpoint } : { puts, deletes },
      );
    },
    checkpoint: () => inner.checkpoint(),
    clear: () => inner.clear(),
    stats: (): Promise<StorageStats> => inner.stats(),
    ...(inner.destroy ? { destroy: () => inner.destroy!() } : {}),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}
