import { StorageStatus, WindowStore } from "@toka/state-store";
import { TokaError, TokaErrorCode } from "./errors.js";
import { OwnedTable } from "./owned-table.js";
import type { ViewIterateOptions } from "./view.js";
import { readWindows } from "./window-entry.js";
import type { WindowResult } from "./windowed-aggregate.js";

/**
 * A processor's windowed aggregate as this instance holds it, for `serveViews`: the
 * windows of the partitions it runs, read from their window stores (what the last flush
 * wrote: at most `commitIntervalMs` behind the callbacks). Keys of other partitions are
 * located, and forwarded, as for the group table. Read per key and time range, with
 * {@link fetchWindows}; `get` answers a key's windows of all times.
 */
export class OwnedWindows extends OwnedTable {
  /**
   * The windows of `key` whose start lies in `[from, to]`, by start, each with whether
   * its final result was emitted (it is closed).
   * @throws TokaError `TOKA_STORAGE_FAILED` (retriable) when the key's partition is not
   * processed here; `TOKA_DECODE_FAILED` for a stored value the codec rejects.
   */
  async fetchWindows(key: string, from: number, to: number): Promise<WindowResult<unknown>[]> {
    const partition = this.source.ownership.partitionOf(key);
    const storage = partition === undefined ? undefined : this.source.runningStorage(partition);
    if (!storage || storage.status !== StorageStatus.Open) throw this.moved(partition, key);
    try {
      return await readWindows(new WindowStore(storage), key, from, to, (bytes) =>
        this.decodedValue(key, bytes),
      );
    } catch (cause) {
      if (storage.status !== StorageStatus.Open) throw this.moved(partition, key, cause);
      throw cause;
    }
  }

  /** Every window of `key`; undefined when it has none. */
  override async get(key: string): Promise<unknown> {
    const windows = await this.fetchWindows(key, 0, Number.POSITIVE_INFINITY);
    return windows.length === 0 ? undefined : windows;
  }

  /** Windows are read per key: a listing of all of them is refused. */
  // biome-ignore lint/correctness/useYield: refuses before yielding anything
  override async *iterate(_options?: ViewIterateOptions): AsyncGenerator<[string, unknown]> {
    throw new TokaError(
      TokaErrorCode.InvalidState,
      `the windows of "${this.source.table}" are read per key: GET /<view>/<key>?from=<ms>&to=<ms>`,
      { group: this.source.group, topic: this.source.table },
    );
  }
}
