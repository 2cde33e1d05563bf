import type { KafkaClient, LogRecord } from "@toka/processor/kafka";

/** Reads `[start, end)` of one partition, read_committed, without a consumer group. */
export async function readPartition(
  client: KafkaClient,
  topic: string,
  partition: number,
  start: bigint,
  end: bigint,
  onRecord: (record: LogRecord) => void,
): Promise<void> {
  await client.readLog(
    {
      topic,
      ranges: [{ partition, start: start.toString(), end: end.toString() }],
      readCommitted: true,
      maxBytesPerPartition: 4 * 1024 * 1024,
    },
    async (batch) => {
      for (const record of batch.records) onRecord(record);
    },
  );
}

/**
 * Whether `[start, end)` of a partition holds any record a read_committed consumer
 * sees: a transactional writer leaves commit markers, which take offsets but are no
 * records, so a consumer at `end - 1` may well be at the end.
 */
export async function holdsRecords(
  client: KafkaClient,
  topic: string,
  partition: number,
  start: bigint,
  end: bigint,
): Promise<boolean> {
  if (start >= end) return false;
  let found = false;
  await readPartition(client, topic, partition, start, end, () => {
    found = true;
  });
  return found;
}
