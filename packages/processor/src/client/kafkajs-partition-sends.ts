import type { Admin, IHeaders, Kafka, Message, RecordMetadata } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import { defaultPartition } from "./default-partitioner.js";
import type { OutgoingRecord, ProducedBatch } from "./kafka-client.js";
import { hasKafkaErrorKind, KafkaErrorKind } from "./kafka-error-codes.js";
import { recordSize } from "./record-size.js";

/**
 * Records of one partition per kafkajs send, because kafkajs's produce retry cannot be
 * trusted with more: after a failed request it resends only to the brokers that have
 * not answered yet, so partitions whose leader moved to a broker that already answered
 * are never sent and the send still resolves; and a broker whose answer arrives after
 * the retry began is written twice under new sequence numbers (tulios/kafkajs#1798).
 * With one partition per send, a retry resends exactly that request with its own
 * sequence numbers (which the broker deduplicates), and the answer must name the
 * partition before the records count as written.
 */

/** A kafkajs `sendBatch` of a producer or a transaction. */
export type SendBatch = (batch: {
  acks: number;
  topicMessages: { topic: string; messages: Message[] }[];
}) => Promise<RecordMetadata[]>;

/** Records bound for one partition, in order. */
export interface PartitionRecords {
  readonly topic: string;
  readonly partition: number;
  readonly records: OutgoingRecord[];
}

/**
 * A record batch above the broker's `message.max.bytes` (1 MiB by default) is refused:
 * a partition's records are sent in requests of at most this many bytes and records.
 */
const MAX_REQUEST_BYTES = 512 * 1024;
const MAX_REQUEST_RECORDS = 5_000;

/** Partition counts of topics, looked up once per topic through an admin client. */
export class PartitionCounts {
  private admin: Promise<Admin> | undefined;
  private readonly counts = new Map<string, number>();

  constructor(private readonly kafka: Kafka) {}

  async of(topic: string): Promise<number> {
    const known = this.counts.get(topic);
    if (known !== undefined) return known;
    this.admin ??= this.connect();
    const admin = await this.admin;
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = meta.topics[0]?.partitions.length ?? 0;
    if (count === 0) {
      throw new TokaError(TokaErrorCode.ProduceFailed, "the topic's partitions are not known yet", {
        topic,
        retriable: true,
      });
    }
    this.counts.set(topic, count);
    return count;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect().catch(() => {});
  }

  private async connect(): Promise<Admin> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (error) {
      this.admin = undefined;
      throw error;
    }
    return admin;
  }
}

/** The records grouped by the partition each goes to: its own, or murmur2 of its key. */
export async function byPartition(
  records: readonly OutgoingRecord[],
  counts: PartitionCounts,
): Promise<PartitionRecords[]> {
  const groups = new Map<string, PartitionRecords>();
  for (const record of records) {
    const partition =
      record.partition ?? defaultPartition(record.key ?? "", await counts.of(record.topic));
    const id = `${record.topic}\0${partition}`;
    let group = groups.get(id);
    if (!group) {
      group = { topic: record.topic, partition, records: [] };
      groups.set(id, group);
    }
    group.records.push(record);
  }
  return [...groups.values()];
}

/**
 * Sends one partition's records in order, request by request; resolves with where they
 * landed once the broker acknowledged every request for this very partition. `attempt`
 * wraps each request (an idempotent producer retries it there: kafkajs resends it with
 * the same sequence numbers, so the broker drops a copy it already has).
 */
export async function sendPartition(
  send: SendBatch,
  { topic, partition, records }: PartitionRecords,
  attempt: <T>(request: () => Promise<T>) => Promise<T> = (request) => request(),
): Promise<ProducedBatch> {
  let baseOffset: bigint | undefined;
  let nextOffset = 0n;
  for (const chunk of requests(records)) {
    const messages = chunk.map((r) => toMessage(r, partition));
    const ack = await attempt(async () => {
      const answer = await send({ acks: -1, topicMessages: [{ topic, messages }] });
      const ack = answer.find((m) => m.topicName === topic && m.partition === partition);
      if (ack?.errorCode !== 0 || ack.baseOffset === undefined) {
        throw new TokaError(
          TokaErrorCode.ProduceFailed,
          "the broker's answer does not acknowledge the partition's records",
          { topic, partition, retriable: true },
        );
      }
      return ack;
    });
    const base = BigInt(ack.baseOffset!);
    baseOffset ??= base;
    nextOffset = base + BigInt(chunk.length);
  }
  return {
    topic,
    partition,
    baseOffset: String(baseOffset ?? -1n),
    nextOffset: String(nextOffset),
  };
}

/** Splits one partition's records into requests within the broker's batch size limit. */
function requests(records: readonly OutgoingRecord[]): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordSize(record);
    if (
      current.length > 0 &&
      (current.length >= MAX_REQUEST_RECORDS || bytes + size > MAX_REQUEST_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function toMessage(record: OutgoingRecord, partition: number): Message {
  return {
    key: typeof record.key === "string" || record.key === null ? record.key : asBuffer(record.key),
    value: record.value === null ? null : asBuffer(record.value),
    headers: headersOut(record.headers),
    partition,
  };
}

/** kafkajs writes a header value that is a string or a Buffer, not any Uint8Array. */
function headersOut(headers: OutgoingRecord["headers"]): IHeaders {
  let out: IHeaders | undefined;
  for (const name in headers) {
    const value = headers[name]!;
    if (typeof value === "string" || Buffer.isBuffer(value)) continue;
    out ??= Object.assign(Object.create(null), headers) as IHeaders;
    out[name] = asBuffer(value);
  }
  return out ?? (headers as IHeaders);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Whether a send failed because the broker no longer accepts the producer's sequence
 * numbers (e.g. after a broker restart lost the producer's state): a new producer is
 * needed, not a stop.
 */
export function needsNewProducer(error: unknown): boolean {
  return hasKafkaErrorKind(error, KafkaErrorKind.ProducerState);
}

/** Whether sending the same records again cannot succeed (too large, not authorized). */
export function isPermanent(error: unknown): boolean {
  return hasKafkaErrorKind(error, KafkaErrorKind.Refused, KafkaErrorKind.Authorization);
}
