import { randomUUID } from "node:crypto";
import type {
  ClientConsumer,
  ConsumerOptions,
  IncomingRecord,
  LogBatch,
  LogReadRequest,
  LogRecord,
} from "./kafka-client.js";

/**
 * `KafkaClient.readLog` through a client's consumer, for clients without a faster
 * reader (kafkajs with SASL, the in-memory tester): a consumer group of its own
 * (`toka-reader-<uuid>`, which commits nothing) seeks each partition to its range's
 * start and pauses it at its end.
 */
export async function readLogWithConsumer(
  consumer: (options: ConsumerOptions) => ClientConsumer,
  request: LogReadRequest,
  onBatch: (batch: LogBatch) => Promise<void>,
): Promise<void> {
  const { topic } = request;
  const ranges = new Map(
    request.ranges.map((r) => [r.partition, { position: BigInt(r.start), end: BigInt(r.end) }]),
  );
  const isDone = () => [...ranges.values()].every((r) => r.position >= r.end);
  if (isDone()) return;
  const reader = consumer({
    groupId: `toka-reader-${randomUUID()}`,
    copartitioned: false,
    readCommitted: request.readCommitted,
    fromBeginning: true,
    maxBytesPerPartition: request.maxBytesPerPartition,
    concurrency: Math.max(1, ranges.size),
    sessionTimeoutMs: 30_000,
  });
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {}); // awaited below; a failure before that is not unhandled
  const onAbort = () => settle.reject(request.signal?.reason);
  request.signal?.addEventListener("abort", onAbort, { once: true });
  if (request.signal?.aborted) onAbort();
  try {
    await reader.connect();
    await reader.subscribe([topic]);
    await reader.run({
      onAssignment: (assignment) => {
        for (const tp of assignment) {
          const range = ranges.get(tp.partition);
          if (!range || range.position >= range.end) reader.pause([tp]);
          else reader.seek({ ...tp, offset: range.position.toString() });
        }
      },
      onBatch: async (batch) => {
        const range = ranges.get(batch.partition);
        if (!range || range.position >= range.end) return false;
        const records = batch.records.filter((r) => {
          const offset = BigInt(r.offset);
          return offset >= range.position && offset < range.end;
        });
        const last = records.at(-1);
        const next = last ? BigInt(last.offset) + 1n : range.position;
        try {
          if (records.length > 0) {
            await onBatch({
              topic,
              partition: batch.partition,
              records: records.map((r) => new ConsumedLogRecord(r)),
              nextOffset: next.toString(),
            });
          }
        } catch (error) {
          settle.reject(error);
          throw error;
        }
        range.position = next;
        return true;
      },
      onBatchDone: (tp, lastOffset) => {
        const range = ranges.get(tp.partition);
        if (!range) return;
        // Past control records too, which take offsets but are no records.
        const next = BigInt(lastOffset) + 1n;
        if (next > range.position) range.position = next > range.end ? range.end : next;
        if (range.position >= range.end) {
          reader.pause([tp]);
          if (isDone()) settle.resolve();
        }
      },
      onCrash: (error) => settle.reject(error),
    });
    await done;
  } finally {
    request.signal?.removeEventListener("abort", onAbort);
    await reader.disconnect().catch(() => {});
  }
}

/** An {@link IncomingRecord} as a {@link LogRecord}. */
class ConsumedLogRecord implements LogRecord {
  private static readonly utf8 = new TextDecoder();

  constructor(private readonly record: IncomingRecord) {}

  get topic() {
    return this.record.topic;
  }
  get partition() {
    return this.record.partition;
  }
  get offset() {
    return this.record.offset;
  }
  get offsetNumber() {
    return Number(this.record.offset);
  }
  get key() {
    return this.record.key;
  }
  get value() {
    return this.record.value;
  }
  get headers() {
    return this.record.headers;
  }
  get timestamp() {
    return this.record.timestamp;
  }
  keyText(): string {
    return this.record.key ? ConsumedLogRecord.utf8.decode(this.record.key) : "";
  }
  get keyIsNull() {
    return this.record.key === null;
  }
  get byteLength() {
    return (this.record.key?.byteLength ?? 0) + (this.record.value?.byteLength ?? 0);
  }
  header(name: string): string | undefined {
    return this.record.headers[name];
  }
  headerBytes(name: string): Uint8Array | undefined {
    const text = this.record.headers[name];
    return text === undefined ? undefined : Buffer.from(text, "utf8");
  }
}
