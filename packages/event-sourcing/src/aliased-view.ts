import { EventEmitter } from "node:events";
import type { Codec } from "@toka/codec";
import {
  type QueryableView,
  TokaError,
  TokaErrorCode,
  View,
  type ViewIterateOptions,
  ViewStatus,
} from "@toka/processor";
import { memoryStorage, type StorageFactory } from "@toka/state-store";
import { type Connection, type ConnectionOptions, resolveConnection } from "./connection.js";
import { TableAliases } from "./table-aliases.js";

/** Options of an {@link AliasedView}. */
export interface AliasedViewOptions<T> extends ConnectionOptions {
  /** The alias to follow, e.g. a projection's name. */
  readonly alias: string;
  /** The table served while the alias is not set, e.g. `<projection>-table`. */
  readonly defaultTable: string;
  /** Decodes the table's values. */
  readonly codec: Codec<T>;
  /** Storage of the views. Default `memoryStorage()`. */
  readonly storage?: StorageFactory;
  /** Aliases to follow; default: its own `TableAliases` on the same connection. */
  readonly aliases?: TableAliases;
}

/** Typed events of an {@link AliasedView}. */
export interface AliasedViewEvents {
  /** The view now serves `table`; the previous one was closed. */
  "view.switched": [event: { alias: string; table: string; previous: string }];
  /** Re-pointing to `table` failed; the previous table is still served. */
  "view.switch-failed": [event: { alias: string; table: string; error: TokaError }];
}

/**
 * A view of whatever table an alias names (see {@link TableAliases}): serves `get`,
 * `has` and `iterate` from the current table's `View`, and when the alias switches it
 * starts a view of the new table, keeps serving the old one until the new one has
 * recovered, then swaps them and closes the old one. Serve it with `serveViews`.
 *
 * Lifecycle: `start()` (idempotent; resolves once the current table is recovered),
 * `close()`. `status` is the current view's.
 */
export class AliasedView<T> implements QueryableView {
  readonly alias: string;
  private readonly connection: Connection;
  private readonly aliases: TableAliases;
  private readonly ownAliases: boolean;
  private readonly storage: StorageFactory;
  private readonly events = new EventEmitter<AliasedViewEvents>();
  private current: View<T> | undefined;
  private switching: Promise<void> = Promise.resolve();
  private starting: Promise<void> | undefined;
  private closed = false;
  private unsubscribe: (() => void) | undefined;

  /** @throws TokaError `TOKA_INVALID_CONFIG` without brokers or client. */
  constructor(private readonly options: AliasedViewOptions<T>) {
    this.alias = options.alias;
    this.connection = resolveConnection("aliased view", options, { topic: options.defaultTable });
    this.ownAliases = !options.aliases;
    this.aliases =
      options.aliases ?? new TableAliases({ ...options, client: this.connection.client });
    this.storage = options.storage ?? memoryStorage();
  }

  /** The table served now. */
  get table(): string | undefined {
    return this.current?.table;
  }

  /** The status of the current table's view (`idle` before start). */
  get status(): ViewStatus {
    return this.current?.status ?? ViewStatus.Idle;
  }

  /** Adds a listener; see {@link AliasedViewEvents}. */
  on<K extends keyof AliasedViewEvents>(
    event: K,
    listener: (...args: AliasedViewEvents[K]) => void,
  ): this {
    this.events.on(event, listener as never);
    return this;
  }

  /**
   * Reads the alias and starts a view of its table (or of `defaultTable`). Idempotent.
   * @throws TokaError from the views (e.g. `TOKA_TOPIC_MISSING`).
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await this.aliases.start();
      this.unsubscribe = this.aliases.onChange((alias, record) => {
        if (alias === this.alias && record) this.switchTo(record.table);
      });
      const table = (await this.aliases.get(this.alias)) ?? this.options.defaultTable;
      const view = this.viewOf(table);
      await view.start();
      if (!this.current) this.current = view;
      else await view.close();
    })();
    return this.starting;
  }

  /**
   * Re-points to `table` (also called on alias changes): resolves once the new table's
   * view is recovered and serving, or at once when it is already served.
   * @throws TokaError when the new view fails to start; the old one keeps serving.
   */
  switchTo(table: string): Promise<void> {
    this.switching = this.switching.then(async () => {
      if (this.closed || this.current?.table === table) return;
      const next = this.viewOf(table);
      try {
        await next.start();
      } catch (cause) {
        await next.close().catch(() => {});
        const error = new TokaError(
          TokaErrorCode.KafkaFailed,
          `re-pointing alias "${this.alias}" to "${table}" failed; still serving "${this.current?.table}"`,
          { topic: table, cause },
        );
        this.events.emit("view.switch-failed", { alias: this.alias, table, error });
        return;
      }
      const previous = this.current;
      this.current = next;
      if (previous) {
        this.events.emit("view.switched", { alias: this.alias, table, previous: previous.table });
        await previous.close().catch(() => {});
      }
    });
    return this.switching;
  }

  /** The value of `key` in the current table. @throws as `View.get`. */
  get(key: string): Promise<T | undefined> {
    return this.require().get(key);
  }

  /** Whether `key` has a value in the current table. @throws as `View.has`. */
  has(key: string): Promise<boolean> {
    return this.require().has(key);
  }

  /** Entries of the current table. @throws as `View.iterate`. */
  iterate(options?: ViewIterateOptions): AsyncIterable<[key: string, value: T]> {
    return this.require().iterate(options);
  }

  /** Closes the current view (and its own aliases reader). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    await this.starting?.catch(() => {});
    await this.switching.catch(() => {});
    await this.current?.close();
    if (this.ownAliases) await this.aliases.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private viewOf(table: string): View<T> {
    const { client, logger } = this.connection;
    return new View({ client, logger, table, codec: this.options.codec, storage: this.storage });
  }

  private require(): View<T> {
    if (!this.current) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "the aliased view is not started; await start() first",
        {
          topic: this.options.defaultTable,
        },
      );
    }
    return this.current;
  }
}
