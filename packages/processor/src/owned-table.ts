import type { Codec } from "@toka/codec";
import { compareKeys, type Storage, StorageStatus } from "@toka/state-store";
import { TokaError, TokaErrorCode } from "./errors.js";
import { ProcessorStatus } from "./events.js";
import type { KeyLocation } from "./query-forwarding.js";
import type { QueryOwnership } from "./query-ownership.js";
import type { QueryableView } from "./query-service.js";
import { decodeTableEntry } from "./table-entry.js";
import { type ViewIterateOptions, ViewStatus } from "./view.js";

/** What an {@link OwnedTable} reads of its processor. */
export interface OwnedTableSource {
  readonly group: string;
  /** The group table's topic. */
  readonly table: string;
  readonly codec: Codec<unknown>;
  status(): ProcessorStatus;
  readonly ownership: QueryOwnership;
  /** The local storage of `partition` while it is recovered and processed here. */
  runningStorage(partition: number): Storage | undefined;
  /** The partitions recovered and processed here. */
  runningPartitions(): readonly number[];
}

/** How a processor's status reads as a view's, for the query service. */
const AS_VIEW_STATUS: Readonly<Record<ProcessorStatus, ViewStatus>> = {
  [ProcessorStatus.Idle]: ViewStatus.Idle,
  [ProcessorStatus.Starting]: ViewStatus.Starting,
  // Partitions still recovering answer 503 each (see `locate`); the others can be read.
  [ProcessorStatus.Recovering]: ViewStatus.Running,
  [ProcessorStatus.Running]: ViewStatus.Running,
  [ProcessorStatus.Closing]: ViewStatus.Closing,
  [ProcessorStatus.Closed]: ViewStatus.Closed,
  [ProcessorStatus.Failed]: ViewStatus.Failed,
};

/**
 * A processor's group table as this instance holds it, for `serveViews`: the partitions
 * it owns, read from their local storage (what the last flush wrote: at most
 * `commitIntervalMs` behind the callbacks). Keys of other partitions are located through
 * the owners the group advertises, so that the query service forwards them; listings
 * cover this instance's partitions only.
 */
export class OwnedTable implements QueryableView {
  constructor(protected readonly source: OwnedTableSource) {}

  get status(): ViewStatus {
    return AS_VIEW_STATUS[this.source.status()];
  }

  locate(key: string): KeyLocation {
    const { group, ownership } = this.source;
    const partition = ownership.partitionOf(key);
    if (partition === undefined) {
      return {
        kind: "unavailable",
        reason: `this instance of group "${group}" has not joined the group yet; retry`,
        retriable: true,
      };
    }
    if (this.source.runningStorage(partition))
      return { kind: "local", instance: ownership.address };
    const owners = ownership.owners;
    if (!owners) {
      return {
        kind: "unavailable",
        reason: `group "${group}" is rebalancing: the owner of partition ${partition} (key "${key}") is not known yet; retry`,
        retriable: true,
      };
    }
    const address = owners.addresses.get(partition);
    if (address === undefined) {
      return {
        kind: "unavailable",
        reason: `partition ${partition} (key "${key}") of group "${group}" is owned by an instance that advertises no query address; give every instance the processor option queryAddress`,
        retriable: false,
      };
    }
    if (address === ownership.address) {
      return {
        kind: "unavailable",
        reason: `partition ${partition} (key "${key}") of group "${group}" is being recovered on this instance; retry`,
        retriable: true,
      };
    }
    return { kind: "remote", address };
  }

  /**
   * The value of `key`, read here: call it for keys `locate` finds `local`.
   * @throws TokaError `TOKA_STORAGE_FAILED` when the key's partition is not (or no
   * longer: a rebalance moved it) processed here, which is retriable, or its storage
   * cannot be read; `TOKA_DECODE_FAILED` for a stored value the codec rejects.
   */
  async get(key: string): Promise<unknown> {
    const partition = this.source.ownership.partitionOf(key);
    const storage = partition === undefined ? undefined : this.source.runningStorage(partition);
    if (!storage) throw this.moved(partition, key);
    return this.decoded(key, await this.read(storage, key));
  }

  /** The entries of the partitions held here, in key order. */
  async *iterate(options: ViewIterateOptions = {}): AsyncGenerator<[key: string, value: unknown]> {
    const { limit = Number.POSITIVE_INFINITY, ...range } = options;
    if (limit <= 0) return;
    // Each partition's first `limit` values hold the merged first `limit`.
    const entries: [string, Uint8Array][] = [];
    for (const partition of this.source.runningPartitions()) {
      const storage = this.source.runningStorage(partition);
      if (!storage) continue;
      let values = 0;
      for await (const [key, bytes] of storage.iterate(range)) {
        const entry = decodeTableEntry(bytes);
        // A deleted key keeps its entry for exactly-once dedup; it is no value.
        if (!entry.value) continue;
        entries.push([key, entry.value]);
        if (++values >= limit) break;
      }
    }
    entries.sort(([a], [b]) => compareKeys(a, b));
    for (const [key, value] of entries.slice(0, limit)) yield [key, this.decodedValue(key, value)];
  }

  private async read(storage: Storage, key: string): Promise<Uint8Array | undefined> {
    if (storage.status !== StorageStatus.Open) throw this.moved(storage.partition, key);
    try {
      return await storage.get(key);
    } catch (cause) {
      if (storage.status !== StorageStatus.Open) throw this.moved(storage.partition, key, cause);
      throw new TokaError(TokaErrorCode.StorageFailed, "reading the local table failed", {
        group: this.source.group,
        topic: this.source.table,
        partition: storage.partition,
        key,
        cause,
      });
    }
  }

  protected moved(partition: number | undefined, key: string, cause?: unknown): TokaError {
    return new TokaError(
      TokaErrorCode.StorageFailed,
      "the key's partition is not processed here (a rebalance moved it, or it is recovering); retry",
      {
        group: this.source.group,
        topic: this.source.table,
        partition,
        key,
        cause,
        retriable: true,
      },
    );
  }

  private decoded(key: string, bytes: Uint8Array | undefined): unknown {
    const value = bytes && decodeTableEntry(bytes).value;
    return value ? this.decodedValue(key, value) : undefined;
  }

  protected decodedValue(key: string, value: Uint8Array): unknown {
    try {
      return this.source.codec.decode(value);
    } catch (cause) {
      throw new TokaError(TokaErrorCode.DecodeFailed, "a stored table value does not decode", {
        group: this.source.group,
        topic: this.source.table,
        key,
        cause,
      });
    }
  }
}
