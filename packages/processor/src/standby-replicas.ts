import type { Storage, StorageFactory } from "@toka/state-store";
import type { ClientAdmin, KafkaClient } from "./client/kafka-client.js";
import type { ProcessorEvents } from "./events.js";
import type { Logger } from "./logger.js";
import { PartitionTable } from "./partition-table.js";
import { retrying, THROUGH_FAILOVER } from "./retry.js";
import { compareOffsets } from "./table-entry.js";
import type { TableValueFormat } from "./table-value-format.js";

/**
 * How long a standby waits before it asks again where its tables end, when it has read
 * everything. The delta a promoted standby reads is what its owner wrote in about this long.
 */
export const STANDBY_POLL_MS = 200;

/**
 * A table a partition's standby follows: the group's own, a co-partitioned joined one, a
 * windowed table or the timers.
 */
export interface StandbyTable {
  readonly topic: string;
  readonly format: TableValueFormat;
  /** The layout the owner keeps the table in over its raw storage; as is when absent. */
  readonly layout?: (raw: Storage) => Storage;
}

/** Per-partition figures of a standby replica, in `stats().standbys`. */
export interface StandbyStats {
  readonly partition: number;
  /** Next offset of the group table applied to the standby's local storage. */
  readonly tableOffset: string;
  /** The group table partition's high watermark when last asked; undefined before. */
  readonly highWatermark: string | undefined;
  /** Table records the standby is behind (all its tables together); undefined before known. */
  readonly lag: number | undefined;
}

export interface StandbyReplicasOptions {
  readonly group: string;
  /** The group's own table first (when it has one), then the others. */
  readonly tables: readonly StandbyTable[];
  readonly client: KafkaClient;
  readonly admin: ClientAdmin;
  readonly storage: StorageFactory;
  readonly logger: Logger;
  readonly emit: <E extends "standby.assigned" | "standby.progress" | "standby.released">(
    event: E,
    ...args: ProcessorEvents[E]
  ) => void;
  readonly pollMs?: number;
}

interface Replica {
  readonly partition: number;
  /** One per followed table, the group's own first. */
  readonly tables: PartitionTable[];
  readonly abort: AbortController;
  /** Each table's high watermark when last asked. */
  readonly highWatermarks: Map<string, string>;
  /** The lag `standby.progress` last reported. */
  reportedLag: number | undefined;
}

/**
 * The standby replicas an instance keeps (the processor option `standbyReplicas`): for
 * each partition the group gives it to stand by for, the partition's tables followed into
 * local storage with their checkpoints, through toka's log reader, without processing
 * inputs. When the partition is assigned here, {@link release} closes the standby and the
 * partition opens the same storage: its recovery reads only what the standby had not.
 *
 * One loop follows every replica: it asks where the tables end, reads each replica's
 * tables up to there (records of open transactions are read once committed), and waits
 * {@link STANDBY_POLL_MS} when nothing was new.
 */
export class StandbyReplicas {
  private readonly replicas = new Map<number, Replica>();
  private readonly pollMs: number;
  private loop: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private lastFailure = 0;

  constructor(private readonly options: StandbyReplicasOptions) {
    this.pollMs = options.pollMs ?? STANDBY_POLL_MS;
  }

  /** Follows exactly `partitions`: stops the replicas of others, opens the new ones. */
  async keep(partitions: readonly number[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Set(partitions);
    for (const partition of [...this.replicas.keys()])
      if (!wanted.has(partition)) await this.release(partition);
    for (const partition of wanted) if (!this.replicas.has(partition)) await this.open(partition);
    this.loop ??= this.follow();
    this.wake?.();
  }

  /**
   * Stops following `partition` and closes its storage, after the write in progress.
   * @returns the group table offset the standby reached; undefined when it kept none.
   */
  async release(partition: number): Promise<number | undefined> {
    const replica = this.replicas.get(partition);
    if (!replica) return undefined;
    this.replicas.delete(partition);
    replica.abort.abort();
    for (const table of replica.tables) await table.close().catch(() => {});
    const tableOffset = replica.tables[0]!.position;
    this.options.emit("standby.released", { partition, tableOffset });
    return Number(tableOffset);
  }

  /** The group table offset each standby reached. */
  positions(): Map<number, number> {
    return new Map(
      [...this.replicas.values()].map((r) => [r.partition, Number(r.tables[0]!.position)]),
    );
  }

  stats(): StandbyStats[] {
    return [...this.replicas.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((replica) => ({
        partition: replica.partition,
        tableOffset: replica.tables[0]!.position,
        highWatermark: replica.highWatermarks.get(replica.tables[0]!.topic),
        lag: lagOf(replica),
      }));
  }

  /** Stops following and closes every standby's storage. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    for (const replica of this.replicas.values()) replica.abort.abort();
    await this.loop?.catch(() => {});
    for (const partition of [...this.replicas.keys()]) await this.release(partition);
  }

  private async open(partition: number) {
    const { group, logger, storage } = this.options;
    const tables = this.options.tables.map(
      ({ topic, format, layout }) =>
        new PartitionTable({
          topic,
          partition,
          storage: layout ? layout(storage(topic, partition)) : storage(topic, partition),
          format,
          logger,
          group,
        }),
    );
    try {
      for (const table of tables) await table.open();
    } catch (error) {
      // Not fatal: the partition is restored from its topic if it ever moves here.
      logger.warn("cannot open the local storage of a standby replica; not keeping it", {
        group,
        partition,
        error,
      });
      for (const table of tables) await table.close().catch(() => {});
      return;
    }
    this.replicas.set(partition, {
      partition,
      tables,
      abort: new AbortController(),
      highWatermarks: new Map(),
      reportedLag: undefined,
    });
    this.options.emit("standby.assigned", { partition, tableOffset: tables[0]!.position });
  }

  private async follow() {
    while (!this.closed) {
      const caughtUp = await this.round();
      if (caughtUp && !this.closed) await this.idle();
    }
  }

  /**
   * Reads every replica's tables up to where they end now.
   * @returns whether no replica read anything (all caught up, or failing): wait then.
   */
  private async round(): Promise<boolean> {
    const replicas = [...this.replicas.values()];
    if (replicas.length === 0) return true;
    try {
      for (const { topic } of this.options.tables) {
        const marks = await retrying(() => this.options.admin.watermarks(topic), THROUGH_FAILOVER);
        for (const replica of replicas) {
          const high = marks.find((m) => m.partition === replica.partition)?.high;
          if (high !== undefined) replica.highWatermarks.set(topic, high);
        }
      }
    } catch (error) {
      this.warn("a standby cannot read where its tables end; asking again", undefined, error);
      return true;
    }
    const behind = replicas.filter((r) => (lagOf(r) ?? 0) > 0);
    for (const replica of replicas) this.report(replica);
    const followed = await Promise.all(behind.map((replica) => this.catchUp(replica)));
    return followed.every((ok) => !ok);
  }

  /** @returns whether the replica read up to its tables' ends. */
  private async catchUp(replica: Replica): Promise<boolean> {
    const { signal } = replica.abort;
    try {
      for (const table of replica.tables) {
        const high = replica.highWatermarks.get(table.topic);
        if (high === undefined || compareOffsets(table.position, high) >= 0) continue;
        table.recoverTo(high);
        if (!(await table.restore({ client: this.options.client, signal }))) return false;
      }
    } catch (error) {
      if (!signal.aborted && !this.closed)
        this.warn("a standby replica could not follow its tables; retrying", replica, error);
      return false;
    }
    this.report(replica);
    return true;
  }

  /** `standby.progress`, when the replica's lag changed since it was last reported. */
  private report(replica: Replica) {
    const lag = lagOf(replica);
    if (lag === undefined || lag === replica.reportedLag) return;
    replica.reportedLag = lag;
    this.options.emit("standby.progress", {
      partition: replica.partition,
      tableOffset: replica.tables[0]!.position,
      lag,
    });
  }

  /** Waits {@link pollMs}, or less when replicas change or the standbys close. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = undefined;
    });
  }

  /** A warning at most every few seconds: a broker away makes every round fail. */
  private warn(message: string, replica: Replica | undefined, error: unknown) {
    const now = Date.now();
    if (now - this.lastFailure < 5_000) return;
    this.lastFailure = now;
    this.options.logger.warn(message, {
      group: this.options.group,
      partition: replica?.partition,
      error,
    });
  }
}

/** Records behind the tables' ends, summed; undefined until every end is known. */
function lagOf(replica: Replica): number | undefined {
  let lag = 0;
  for (const table of replica.tables) {
    const high = replica.highWatermarks.get(table.topic);
    if (high === undefined) return undefined;
    lag += Math.max(0, Number(BigInt(high) - BigInt(table.position)));
  }
  return lag;
}
