import type { ClientAdmin, GroupMemberDescription } from "@toka/processor/kafka";
import { groupLag, type PartitionLag } from "./group-lag.js";
import type { InstanceSnapshot, RecoveryProgress, WatchedStandby } from "./processor-watch.js";
import type { ThroughputSeries } from "./throughput-window.js";

/** A partition of a group: who owns it, how far behind it is, what it is doing. */
export interface PartitionOverview {
  readonly partition: number;
  /** The member it is assigned to; `undefined` while unassigned (no instance, a rebalance). */
  readonly owner: { readonly clientId: string; readonly host: string } | undefined;
  /** Its state on an instance in this process; `undefined` when another process owns it. */
  readonly state: string | undefined;
  /** Records of its inputs between the committed offsets and the ends. */
  readonly lag: number;
  /** Per input topic: committed offset and end. */
  readonly inputs: readonly Omit<PartitionLag, "partition">[];
  /** Table restore progress, known for partitions of instances in this process. */
  readonly recovery: RecoveryProgress | undefined;
  /** The standby replicas instances in this process keep of it, with their lag. */
  readonly standbys: readonly Omit<WatchedStandby, "partition">[];
}

/** Everything the monitor shows of one group but its dead letters and table. */
export interface GroupOverview {
  readonly group: string;
  /** The group coordinator's state: `Stable`, `PreparingRebalance`, `Empty`, ... */
  readonly state: string;
  readonly members: readonly GroupMemberDescription[];
  readonly partitions: readonly PartitionOverview[];
  readonly throughput: ThroughputSeries;
  /** Where the throughput comes from: this process's instances, or committed offsets. */
  readonly throughputSource: "instances" | "commits";
}

/**
 * The overview of a group from the cluster (members, assignment, committed offsets
 * against ends), completed by the snapshots of its instances in this process (partition
 * state, recovery). `throughput` is the local instances' when there are any, else
 * `fromCommits`, measured by whoever polls the committed offsets.
 */
export async function groupOverview(
  admin: ClientAdmin,
  group: string,
  local: readonly InstanceSnapshot[],
  fromCommits: (committedTotal: bigint) => ThroughputSeries,
): Promise<GroupOverview> {
  const [description, lags] = await Promise.all([
    admin.describeGroup(group),
    groupLag(admin, group),
  ]);
  const numbers = new Set(lags.map((l) => l.partition));
  for (const instance of local) for (const p of instance.partitions) numbers.add(p.partition);
  const partitions = [...numbers]
    .sort((a, b) => a - b)
    .map((partition): PartitionOverview => {
      const inputs = lags
        .filter((l) => l.partition === partition)
        .map(({ partition: _, ...rest }) => rest);
      const owner = description.members.find((m) =>
        Object.values(m.assignment).some((ps) => ps.includes(partition)),
      );
      const watched = local.flatMap((i) => i.partitions).find((p) => p.partition === partition);
      return {
        partition,
        owner: owner ? { clientId: owner.clientId, host: owner.host } : undefined,
        state: watched?.state,
        lag: inputs.reduce((sum, i) => sum + i.lag, 0),
        inputs,
        recovery: watched?.recovery,
        standbys: local
          .flatMap((i) => i.standbys)
          .filter((s) => s.partition === partition)
          .map(({ lag }) => ({ lag })),
      };
    });
  const committedTotal = lags.reduce((sum, l) => sum + BigInt(l.committed ?? 0), 0n);
  const commits = fromCommits(committedTotal);
  return {
    group,
    state: description.state,
    members: description.members,
    partitions,
    ...(local.length > 0
      ? { throughput: sumSeries(local.map((i) => i.throughput)), throughputSource: "instances" }
      : { throughput: commits, throughputSource: "commits" }),
  };
}

/** Bucket-wise sum of series of the same window. */
function sumSeries(series: readonly ThroughputSeries[]): ThroughputSeries {
  const first = series[0]!;
  return {
    start: first.start,
    bucketMs: first.bucketMs,
    counts: first.counts.map((_, i) => series.reduce((sum, s) => sum + (s.counts[i] ?? 0), 0)),
    perSecond: series.reduce((sum, s) => sum + s.perSecond, 0),
  };
}
