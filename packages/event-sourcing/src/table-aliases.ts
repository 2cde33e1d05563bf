import { jsonCodec } from "@toka/codec";
import { Emitter, TokaError, TokaErrorCode, View, type ViewUpdate } from "@toka/processor";
import { z } from "zod";
import { type Connection, type ConnectionOptions, resolveConnection } from "./connection.js";
import { ensureTopics } from "./event-topics.js";
import { ALIASES_TOPIC } from "./topic-names.js";

/** The value of an alias in `toka-table-aliases`. */
export const AliasRecord = z.object({
  /** The table topic the alias names now. */
  table: z.string(),
  /** The table it named before, if any. */
  previous: z.string().optional(),
  /** When it was switched, ms since the epoch. */
  switchedAt: z.number(),
});
/** The value of an alias in `toka-table-aliases`. */
export type AliasRecord = z.infer<typeof AliasRecord>;

const aliasCodec = jsonCodec(AliasRecord, { name: "json(AliasRecord)" });

/** Options of {@link TableAliases}. */
export interface TableAliasesOptions extends ConnectionOptions {
  /** The compacted topic of the aliases (1 partition, created when missing). Default `toka-table-aliases`. */
  readonly topic?: string;
  /** Timeout of {@link TableAliases.set} waiting to see its own write, in ms. Default 30 000. */
  readonly timeoutMs?: number;
}

/**
 * Names for tables, kept in a small compacted topic (`toka-table-aliases`): an alias
 * such as `balances` names the table readers should serve, e.g. `balances-table` or,
 * after a replay, `balances-replay-1-table`. Switching an alias is one record; every
 * {@link AliasedView} following it re-points to the new table.
 *
 * Lifecycle: `start()` (creates the topic when missing and reads it), `close()`.
 */
export class TableAliases {
  readonly topic: string;
  private readonly connection: Connection;
  private readonly view: View<AliasRecord>;
  private readonly emitter: Emitter<AliasRecord>;
  private readonly timeoutMs: number;
  private starting: Promise<void> | undefined;

  /** @throws TokaError `TOKA_INVALID_CONFIG` without brokers or client. */
  constructor(options: TableAliasesOptions) {
    this.connection = resolveConnection("table aliases", options);
    this.topic = options.topic ?? ALIASES_TOPIC;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const { client, logger } = this.connection;
    this.view = new View({ client, logger, table: this.topic, codec: aliasCodec });
    this.emitter = new Emitter({ client, logger, topic: this.topic, codec: aliasCodec });
  }

  /**
   * Creates the aliases topic when missing and reads it. Idempotent.
   * @throws TokaError when Kafka fails.
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await ensureTopics(this.connection, [{ topic: this.topic, kind: "table" }], 1);
      await this.view.start();
    })();
    return this.starting;
  }

  /**
   * The table `alias` names, or `undefined`.
   * @throws TokaError `TOKA_INVALID_STATE` before `start()`.
   */
  async get(alias: string): Promise<string | undefined> {
    return (await this.view.get(alias))?.table;
  }

  /** Every alias and its record. */
  async list(): Promise<Map<string, AliasRecord>> {
    const all = new Map<string, AliasRecord>();
    for await (const [alias, record] of this.view.iterate()) all.set(alias, record);
    return all;
  }

  /**
   * Points `alias` at `table`; resolves once this instance reads the new record back.
   * @throws TokaError `TOKA_INVALID_STATE` before `start()`, `TOKA_PRODUCE_FAILED`,
   * `TOKA_TIMEOUT`.
   */
  async set(alias: string, table: string): Promise<AliasRecord> {
    if (!this.starting) {
      throw new TokaError(TokaErrorCode.InvalidState, "call start() before set()", {
        topic: this.topic,
        key: alias,
      });
    }
    await this.starting;
    const previous = await this.get(alias);
    const record: AliasRecord = {
      table,
      switchedAt: Date.now(),
      ...(previous && previous !== table ? { previous } : {}),
    };
    await this.emitter.emit(alias, record);
    await this.view.waitForKey(
      alias,
      (r) => r?.switchedAt === record.switchedAt && r.table === table,
      {
        timeoutMs: this.timeoutMs,
      },
    );
    return record;
  }

  /** Calls `listener` with every alias change read after start. */
  onChange(listener: (alias: string, record: AliasRecord | undefined) => void): () => void {
    const handler = (update: ViewUpdate<AliasRecord>) => listener(update.key, update.value);
    this.view.on("view.updated", handler);
    return () => this.view.off("view.updated", handler);
  }

  /** Closes the reader and the writer. Idempotent. */
  async close(): Promise<void> {
    await this.starting?.catch(() => {});
    await this.emitter.close().catch(() => {});
    await this.view.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
