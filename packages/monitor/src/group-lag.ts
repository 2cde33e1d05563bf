import type { Admin } from "kafkajs";

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
}

/**
 * How far a consumer group (a toka group) is behind on each partition of `topics`
 * (default: every topic it committed offsets for), in topic and partition order. Empty
 * when the group committed nothing.
 */
export async function groupLag(
  admin: Admin,
  group: string,
  topics?: readonly string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({
    groupId: group,
    ...(topics ? { topics: [...topics] } : {}),
  });
  const rows: PartitionLag[] = [];
  for (const { topic, partitions } of committed) {
    const ends = await admin.fetchTopicOffsets(topic);
    for (const { partition, high, low } of ends) {
      const at = partitions.find((p) => p.partition === partition)?.offset;
      const from = at === undefined || at === "-1" ? undefined : at;
      const lag = Number(BigInt(high) - BigInt(from ?? low));
      rows.push({ topic, partition, committed: from, end: high, lag: Math.max(0, lag) });
    }
  }
  return rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}
