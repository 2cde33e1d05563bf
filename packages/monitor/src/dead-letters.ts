import { DeadLetterHeader } from "@toka/processor";
import type { KafkaClient, LogRecord } from "@toka/processor/kafka";

/** A dead letter of `<group>-dlq` as the monitor and the CLI show it. */
export interface DeadLetter {
  /** Its position in the dead-letter topic. */
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly key: string | null;
  readonly error: { readonly code: string | undefined; readonly message: string | undefined };
  /** Where the failed message was read: its input topic, partition and offset. */
  readonly source: {
    readonly topic: string | undefined;
    readonly partition: number | undefined;
    readonly offset: string | undefined;
  };
  /** The letter was cut to fit the dead-letter topic: it is not the original message. */
  readonly truncated: boolean;
  readonly record: LogRecord;
}

/** The error, source and key of a dead-letter record, from toka's `toka-error-*` headers. */
export function deadLetterOf(record: LogRecord): DeadLetter {
  const h = (name: string) => record.header(name);
  const partition = h(DeadLetterHeader.SourcePartition);
  return {
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : Buffer.from(record.key).toString("utf8"),
    error: { code: h(DeadLetterHeader.ErrorCode), message: h(DeadLetterHeader.ErrorMessage) },
    source: {
      topic: h(DeadLetterHeader.SourceTopic),
      partition: partition === undefined ? undefined : Number(partition),
      offset: h(DeadLetterHeader.SourceOffset),
    },
    truncated: h(DeadLetterHeader.Truncated) === "true",
    record,
  };
}

/** Options of {@link readDeadLetters}. */
export interface ReadDeadLettersOptions {
  /**
   * Only the newest letters: at most this many of each partition, read from the end.
   * Default: every letter.
   */
  readonly lastPerPartition?: number;
}

/**
 * Reads a dead-letter topic, read_committed, in partition and offset order.
 * @returns `undefined` when the topic does not exist (the group never started).
 */
export async function readDeadLetters(
  client: KafkaClient,
  topic: string,
  options: ReadDeadLettersOptions = {},
): Promise<DeadLetter[] | undefined> {
  const admin = client.admin();
  await admin.connect();
  let ranges: { partition: number; start: string; end: string }[];
  try {
    const counts = await admin.partitionCounts([topic]);
    if (!counts.has(topic)) return undefined;
    const last = options.lastPerPartition;
    ranges = (await admin.watermarks(topic)).map((w) => {
      const newest = last === undefined ? undefined : BigInt(w.high) - BigInt(last);
      const start = newest !== undefined && newest > BigInt(w.low) ? String(newest) : w.low;
      return { partition: w.partition, start, end: w.high };
    });
  } finally {
    await admin.disconnect();
  }
  const letters: DeadLetter[] = [];
  await client.readLog(
    { topic, ranges, readCommitted: true, maxBytesPerPartition: 1024 * 1024 },
    async (batch) => {
      for (const record of batch.records) letters.push(deadLetterOf(record));
    },
  );
  return letters.sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
}

/** The start of a value as text, for lists: `(null)` for none, `…` where it was cut. */
export function valuePreview(value: Uint8Array | null, chars: number): string {
  if (value === null) return "(null)";
  const text = Buffer.from(value).toString("utf8");
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}
