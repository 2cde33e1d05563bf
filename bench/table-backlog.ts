import { type Kafka, Partitioners } from "kafkajs";

/** Records sent per request: well below the broker's 1 MiB per partition. */
const PER_REQUEST = 5_000;

/**
 * Creates a compacted table topic and an input topic of `partitions` partitions, and
 * writes `records` records of `{ count, sum }` JSON values to the table over keys
 * `k0`…`k<keys - 1>`, placed by Kafka's default partitioner as a processor expects.
 */
export async function createTableBacklog(
  kafka: Kafka,
  {
    table,
    input,
    partitions,
    records,
    keys,
  }: { table: string; input: string; partitions: number; records: number; keys: number },
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: table,
        numPartitions: partitions,
        configEntries: [{ name: "cleanup.policy", value: "compact" }],
      },
      { topic: input, numPartitions: partitions },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let from = 0; from < records; from += PER_REQUEST) {
    const messages = [];
    for (let i = from; i < Math.min(records, from + PER_REQUEST); i++)
      messages.push({ key: `k${i % keys}`, value: JSON.stringify({ count: i, sum: i * 3 }) });
    await producer.send({ topic: table, acks: -1, messages });
  }
  await producer.disconnect();
}
