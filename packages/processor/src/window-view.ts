import { bytesCodec, type Codec } from "@toka/codec";
import { memoryStorage, type StorageFactory, type WindowStore } from "@toka/state-store";
import { defaultPartition } from "./client/default-partitioner.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { QueryableView } from "./query-service.js";
import { windowsTopic } from "./topic-names.js";
import { View, type ViewIterateOptions, type ViewStatus } from "./view.js";
import type { ViewOptions } from "./view-options.js";
import { readWindows } from "./window-entry.js";
import type { WindowResult } from "./windowed-aggregate.js";
import { windowedTableStorage } from "./windowed-table-storage.js";

/** Options of a {@link WindowView}: a view's, naming the aggregate instead of a table. */
export interface WindowViewOptions<A> extends Omit<ViewOptions<A>, "table" | "codec"> {
  /** The group that declares the windowed aggregate. */
  readonly group: string;
  /** The aggregate, as `windowed(name, ...)` names it. */
  readonly aggregate: string;
  /** The aggregate's codec. */
  readonly codec: Codec<A>;
}

/**
 * A replica of a windowed aggregate's windows, from any process: a {@link View} of its
 * windowed table topic `<group>-<aggregate>-windows`, kept in a window store per
 * partition and read per key and time range with {@link fetchWindows}. For
 * `serveViews`, `GET /<view>/<key>?from=<ms>&to=<ms>`.
 */
export class WindowView<A> implements QueryableView {
  /** The view of the windowed table topic, as raw window records. */
  readonly view: View<Uint8Array>;
  private readonly stores = new Map<number, WindowStore>();
  private readonly codec: Codec<A>;
  private readonly topic: string;

  constructor(options: WindowViewOptions<A>) {
    const { group, aggregate, codec, storage = memoryStorage(), ...viewOptions } = options;
    this.codec = codec;
    this.topic = windowsTopic(group, aggregate);
    const windowStorage: StorageFactory = (topic, partition) => {
      const { store, storage: layout } = windowedTableStorage(storage(topic, partition));
      this.stores.set(partition, store);
      return layout;
    };
    this.view = new View({
      ...viewOptions,
      table: this.topic,
      codec: bytesCodec,
      storage: windowStorage,
    });
  }

  get status(): ViewStatus {
    return this.view.status;
  }

  /** Starts following the topic; see {@link View.start}. */
  start(): Promise<void> {
    return this.view.start();
  }

  /** Stops; see {@link View.close}. */
  close(): Promise<void> {
    return this.view.close();
  }

  /**
   * The windows of `key` whose start lies in `[from, to]`, by start, each with whether
   * its final result was emitted.
   * @throws TokaError `TOKA_INVALID_STATE` before the view holds the key's partition;
   * `TOKA_DECODE_FAILED` for a value the codec rejects.
   */
  async fetchWindows(key: string, from: number, to: number): Promise<WindowResult<A>[]> {
    const store = this.stores.get(defaultPartition(key, this.stores.size));
    if (!store || this.stores.size === 0) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `the window view of "${this.topic}" holds no partitions yet; start it and wait until it runs`,
        { topic: this.topic, key },
      );
    }
    return readWindows(store, key, from, to, (bytes) => {
      try {
        return this.codec.decode(bytes);
      } catch (cause) {
        throw new TokaError(TokaErrorCode.DecodeFailed, "a stored window does not decode", {
          topic: this.topic,
          key,
          cause,
        });
      }
    });
  }

  /** Every window of `key`; undefined when it has none. */
  async get(key: string): Promise<WindowResult<A>[] | undefined> {
    const windows = await this.fetchWindows(key, 0, Number.POSITIVE_INFINITY);
    return windows.length === 0 ? undefined : windows;
  }

  /** Windows are read per key: a listing of all of them is refused. */
  // biome-ignore lint/correctness/useYield: refuses before yielding anything
  async *iterate(_options?: ViewIterateOptions): AsyncGenerator<[string, unknown]> {
    throw new TokaError(
      TokaErrorCode.InvalidState,
      `the windows of "${this.topic}" are read per key: fetchWindows(key, from, to)`,
      { topic: this.topic },
    );
  }
}
