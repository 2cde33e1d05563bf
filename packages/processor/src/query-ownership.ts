import { defaultPartition } from "./client/default-partitioner.js";
import type { PartitionOwners } from "./client/member-user-data.js";

/**
 * What a processor instance knows of its group's query addresses: the address it
 * advertises, and who owns which partition in the current assignment (from the leader's
 * assignment, see `member-user-data.ts`). Owners are unknown during a rebalance; the
 * partition count stays known, since a group's partitions do not change while it runs.
 */
export class QueryOwnership {
  private current: PartitionOwners | undefined;
  private partitionCount: number | undefined;

  /** @param address the query address this instance advertises, once known */
  constructor(public address: string | undefined = undefined) {}

  /** The owners of the current assignment; undefined until known (joining, rebalancing). */
  get owners(): PartitionOwners | undefined {
    return this.current;
  }

  update(owners: PartitionOwners | undefined): void {
    this.current = owners;
    if (owners) this.partitionCount = owners.partitionCount;
  }

  /** The group's partition count, known from its inputs when it starts. */
  knowPartitions(count: number): void {
    this.partitionCount = count;
  }

  /** The partition of `key` (murmur2, as producers pick it); undefined before the first assignment. */
  partitionOf(key: string): number | undefined {
    return this.partitionCount === undefined
      ? undefined
      : defaultPartition(key, this.partitionCount);
  }

  /** The query address of the instance that owns `key` now; undefined when unknown or not advertised. */
  ownerOf(key: string): string | undefined {
    const partition = this.partitionOf(key);
    return partition === undefined ? undefined : this.current?.addresses.get(partition);
  }
}
