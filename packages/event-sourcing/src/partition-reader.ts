import { randomUUID } from "node:crypto";
import type { IncomingRecord, KafkaClient } from "@toka/processor";

/**
 * Reads `[start, end)` of one partition, read_committed, with a consumer group of its
 * own that commits nothing.
 */
export async function readPartition(
  client: KafkaClient,
  topic: string,
  partition: number,
  start: bigint,
  end: bigint,
  onRecord: (record: IncomingRecord) => void,
): Promise<void> {
  const consumer = client.consumer({
    groupId: `toka-reader-${randomUUID()}`,
    copartitioned: false,
    readCommitted: true,
    fromBeginning: true,
    maxBytesPerPartition: 4 * 1024 * 1024,
    concurrency: 1,
    sessionTimeoutMs: 30_000,
  });
  let position = start;
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {}); // awaited below; a crash before that is not unhandled
  try {
    await consumer.connect();
    await consumer.subscribe([topic]);
    await consumer.run({
      onAssignment: (assignment) => {
        const others = assignment.filter((tp) => tp.partition !== partition);
        if (others.length > 0) consumer.pause(others);
        if (assignment.some((tp) => tp.partition === partition)) {
          consumer.seek({ topic, partition, offset: position.toString() });
        }
      },
      onBatch: async (batch) => {
        if (batch.partition !== partition) return false;
        for (const record of batch.records) {
          const offset = BigInt(record.offset);
          if (offset >= position && offset < end) onRecord(record);
        }
        return true;
      },
      onBatchDone: (tp, lastOffset) => {
        if (tp.partition !== partition) return;
        const next = BigInt(lastOffset) + 1n;
        if (next > position) position = next;
        if (position >= end) settle.resolve();
      },
      onCrash: (error) => settle.reject(error),
    });
    await done;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
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
