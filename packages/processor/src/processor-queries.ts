import type { Codec } from "@toka/codec";
import type { Storage, StorageFactory } from "@toka/state-store";
import { TokaError, TokaErrorCode } from "./errors.js";
import { PartitionState, type ProcessorStatus } from "./events.js";
import { OwnedTable } from "./owned-table.js";
import { OwnedWindows } from "./owned-windows.js";
import { normalizedQueryAddress, queryAddressProblem } from "./query-address.js";
import { QueryOwnership } from "./query-ownership.js";

/** What {@link ProcessorQueries} reads of its processor. */
export interface QueriedProcessor {
  readonly group: string;
  readonly tableTopic: string;
  /** The windowed aggregates' codecs and topics, by aggregate name. */
  readonly windows: ReadonlyMap<string, { readonly topic: string; readonly codec: Codec<unknown> }>;
  /** The persisted codec; undefined for a group without a table. */
  readonly codec: Codec<unknown> | undefined;
  /** The `queryAddress` option. */
  readonly queryAddress: string | (() => string) | undefined;
  status(): ProcessorStatus;
  /** The partitions assigned to this instance, with their states. */
  partitions(): Iterable<{ readonly partition: number; readonly state: PartitionState }>;
}

/**
 * A processor's part in queries across instances: the address it advertises, the
 * group's owners it learns at each assignment, and its own table for `serveViews`,
 * read from the local storage of the partitions it runs.
 */
export class ProcessorQueries {
  readonly ownership = new QueryOwnership();
  /** The latest storage created for each partition of the group table: the one in use. */
  private readonly tableStorages = new Map<number, Storage>();
  private table: OwnedTable | undefined;
  /** The latest storage of each partition of each windowed table topic, by topic. */
  private readonly windowStorages = new Map<string, Map<number, Storage>>();
  private readonly windowViews = new Map<string, OwnedWindows>();

  constructor(private readonly processor: QueriedProcessor) {
    for (const { topic } of processor.windows.values()) this.windowStorages.set(topic, new Map());
  }

  /** The storage factory, recording the group table's storages as they are created. */
  trackStorages(factory: StorageFactory): StorageFactory {
    const tracking = (topic: string, partition: number) => {
      const storage = factory(topic, partition);
      if (topic === this.processor.tableTopic) this.tableStorages.set(partition, storage);
      this.windowStorages.get(topic)?.set(partition, storage);
      return storage;
    };
    const { storedPartitions } = factory;
    return storedPartitions
      ? Object.assign(tracking, { storedPartitions: storedPartitions.bind(factory) })
      : tracking;
  }

  /**
   * The query address to advertise, checked (a function's result is checked here, when
   * the processor starts).
   * @throws TokaError `TOKA_INVALID_CONFIG` for an address that is not a base URL.
   */
  advertisedAddress(): string | undefined {
    const option = this.processor.queryAddress;
    const address: unknown = typeof option === "function" ? option() : option;
    if (address === undefined) return undefined;
    const problem =
      typeof address === "string" ? queryAddressProblem(address) : "expected a URL string";
    if (problem) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `invalid processor option "queryAddress": ${problem}`,
        { group: this.processor.group },
      );
    }
    this.ownership.address = normalizedQueryAddress(address as string);
    return this.ownership.address;
  }

  /** @throws TokaError `TOKA_INVALID_STATE` for a group that persists no table. */
  ownedTable(): OwnedTable {
    const { codec, group, tableTopic } = this.processor;
    if (!codec) {
      throw new TokaError(TokaErrorCode.InvalidState, "the group persists no table to query", {
        group,
      });
    }
    this.table ??= new OwnedTable({
      group,
      table: tableTopic,
      codec,
      ownership: this.ownership,
      status: () => this.processor.status(),
      runningStorage: (partition) =>
        this.runningPartitions().includes(partition)
          ? this.tableStorages.get(partition)
          : undefined,
      runningPartitions: () => this.runningPartitions(),
    });
    return this.table;
  }

  /**
   * The windowed aggregate `name` for `serveViews`.
   * @throws TokaError `TOKA_INVALID_STATE` for a name the group does not declare.
   */
  ownedWindows(name: string): OwnedWindows {
    const { group, windows } = this.processor;
    const aggregate = windows.get(name);
    if (!aggregate) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `the group has no windowed aggregate "${name}"; it declares ${[...windows.keys()].join(", ") || "none"}`,
        { group },
      );
    }
    const storages = this.windowStorages.get(aggregate.topic)!;
    let view = this.windowViews.get(name);
    if (!view) {
      view = new OwnedWindows({
        group,
        table: aggregate.topic,
        codec: aggregate.codec,
        ownership: this.ownership,
        status: () => this.processor.status(),
        runningStorage: (partition) =>
          this.runningPartitions().includes(partition) ? storages.get(partition) : undefined,
        runningPartitions: () => this.runningPartitions(),
      });
      this.windowViews.set(name, view);
    }
    return view;
  }

  private runningPartitions(): number[] {
    const running: number[] = [];
    for (const { partition, state } of this.processor.partitions())
      if (state === PartitionState.Running) running.push(partition);
    return running;
  }
}
