import { Partitioners } from "kafkajs";

const partitioner = Partitioners.DefaultPartitioner();

/**
 * The partition Kafka's default partitioner (murmur2, as in the Java client and kafkajs)
 * picks for `key` among `partitions` partitions. The in-memory tester uses it so a key
 * lands on the same partition in unit tests as in production.
 */
export function defaultPartition(key: string | Uint8Array, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));
  return partitioner({
    topic: "",
    partitionMetadata,
    message: { key: typeof key === "string" ? key : Buffer.from(key), value: null },
  });
}
