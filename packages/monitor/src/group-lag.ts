import { streamTimeOfMetadata } from "@toka/processor";
import type { ClientAdmin } from "@toka/processor/kafka";

/** One partition's position of a consumer group. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** `undefined` when the group committed nothing for the partition. */
  readonly committed: string | undefined;
  readonly end: string;
  /**
   * Records between the committed offset (or the start) and the end. The end counts
   * transaction markers too, so a group reading a transactional topic shows a lag of
   * one marker per partition when it is done.
   */
  readonly lag: number;
  /**
   * The partition's stream time (ms since the epoch) the group committed with its offset:
   * the highest event time it processed; `undefined` for a group of another client, or
   * before toka committed one.
   */
  readonly streamTime: number | undefined;
}

/**
 * How far a consumer group (a toka group) is behind on each partition of `topics`
 * (default: every topic it committed offsets for), in topic and partition order. Empty
 * when the group committed nothing.
 */
export async function groupLag(
  admin: ClientAdmin,
  group: string,
  topics?: readonly string[],
): Promise<PartitionLag[]> {
  const committed = topics
    ? new Map(
        await Promise.all(
          topics.map(async (t) => [t, await admin.committedOffsets(group, t)] as const),
        ),
      )
    : await admin.groupOffsets(group);
  const rows: PartitionLag[] = [];
  for (const [topic, offsets] of committed) {
    const ends = await admin.watermarks(topic);
    const metadata = await admin.committedMetadata(group, topic);
    for (const { partition, high, low } of ends) {
      const from = offsets.get(partition);
      const lag = Number(BigInt(high) - BigInt(from ?? low));
      rows.push({
        topic,
        partition,
        committed: from,
        end: high,
        lag: Math.max(0, lag),
        streamTime: streamTimeOfMetadata(metadata.get(partition)),
      });
    }
  }
  return rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}
