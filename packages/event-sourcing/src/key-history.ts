import { ID_HEADER, isTokaError, TokaError, TokaErrorCode } from "@toka/processor";
import { defaultPartition } from "@toka/processor/kafka";
import { type ConnectionOptions, resolveConnection } from "./connection.js";
import { type EventLog, type EventMeta, type EventRecord, eventMeta } from "./event-log.js";
import type { Fold } from "./fold.js";
import { readPartition } from "./partition-reader.js";

/** Options of the readers of one key: {@link keyRecords}, {@link history}, {@link stateAt}. */
export interface KeyReadOptions extends ConnectionOptions {
  /**
   * Read only records written before the first record stamped later than this time
   * (ms since the epoch or a `Date`), found with the broker's offsets-for-time lookup.
   * Default: up to the high watermark when the read starts.
   */
  readonly until?: number | Date;
  /**
   * Which records of the key's partition belong to the key, by their record key. Default:
   * those whose record key is the key. A windowed table topic's records, keyed by window,
   * are found with a test of the key their window key holds.
   */
  readonly matches?: (recordKey: string) => boolean;
}

/** A raw record of one key. */
export interface KeyRecord extends EventRecord {
  /** `null` for a tombstone. */
  readonly value: Uint8Array | null;
}

/** One event of a key's history. */
export interface HistoryEntry<E> {
  readonly event: E;
  readonly meta: EventMeta;
}

/** The value of a key at a time, folded from its events. */
export interface StateAt<V> {
  /** `undefined` when the key had no value then. */
  readonly value: V | undefined;
  /** Events folded (repeated IDs dropped). */
  readonly events: number;
  /** The offset of the last event folded. */
  readonly offset: string | undefined;
  /** Its timestamp. */
  readonly timestamp: number | undefined;
}

/** Event IDs remembered per key to drop repeated events, as replays do. */
const DEDUP_WINDOW = 32;

/**
 * Every record of `key` in `topic`, in offset order: reads the key's partition (Kafka's
 * default murmur2 partitioner picks it) from its start up to the high watermark (or to
 * `until`). Costs a read of that whole partition; meant for tooling and audits, not for
 * the hot path.
 * @throws TokaError `TOKA_TOPIC_MISSING` for a missing topic, `TOKA_KAFKA_FAILED`.
 */
export async function keyRecords(
  topic: string,
  key: string,
  options: KeyReadOptions,
): Promise<KeyRecord[]> {
  const connection = resolveConnection("key reader", options, { topic, key });
  const { client } = connection;
  const admin = client.admin();
  await admin.connect();
  try {
    const count = (await admin.partitionCounts([topic])).get(topic);
    if (count === undefined) {
      throw new TokaError(TokaErrorCode.TopicMissing, `the topic "${topic}" does not exist`, {
        topic,
        key,
      });
    }
    const partition = defaultPartition(key, count);
    const marks = (await admin.watermarks(topic)).find((m) => m.partition === partition)!;
    let end = BigInt(marks.high);
    if (options.until !== undefined) {
      const until = typeof options.until === "number" ? options.until : options.until.getTime();
      const after = (await admin.offsetsForTime(topic, until + 1)).get(partition);
      if (after !== undefined && BigInt(after) < end) end = BigInt(after);
    }
    const start = BigInt(marks.low);
    const found: KeyRecord[] = [];
    if (start >= end) return found;
    await readPartition(connection.client, topic, partition, start, end, (record) => {
      const recordKey = record.keyText();
      if (!(options.matches?.(recordKey) ?? recordKey === key)) return;
      found.push({
        topic,
        partition,
        offset: record.offset,
        key: recordKey,
        timestamp: record.timestamp,
        headers: record.headers,
        value: record.value,
      });
    });
    return found;
  } catch (cause) {
    if (isTokaError(cause)) throw cause;
    throw new TokaError(TokaErrorCode.KafkaFailed, `reading the records of a key failed`, {
      topic,
      key,
      cause,
    });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The events of `key` in an event log, decoded (and upcast), in order.
 * @throws TokaError as {@link keyRecords}, and `TOKA_DECODE_FAILED` for an event that
 * does not decode.
 */
export async function history<E>(
  log: EventLog<E>,
  key: string,
  options: KeyReadOptions,
): Promise<HistoryEntry<E>[]> {
  const records = await keyRecords(log.topic, key, options);
  return records
    .filter((r) => r.value !== null)
    .map((r) => ({ event: log.decode(r.value!, r), meta: eventMeta(r) }));
}

/**
 * The value `key` had at `time` in the table a fold builds (an aggregate's snapshot or
 * a projection's read model), computed from the event log: the fold of the key's events
 * written before the first event stamped later than `time`. Events repeated in the log
 * (the same `toka-id`) are folded once, as the live exactly-once group does.
 * @throws TokaError as {@link history}.
 */
export async function stateAt<V, E>(
  fold: Fold<V, E>,
  key: string,
  time: number | Date,
  options: ConnectionOptions,
): Promise<StateAt<V>> {
  const records = await keyRecords(fold.log.topic, key, { ...options, until: time });
  let value: V | undefined;
  let events = 0;
  let last: KeyRecord | undefined;
  const seen: string[] = [];
  for (const record of records) {
    const id = record.headers[ID_HEADER] ?? `${record.topic}/${record.partition}/${record.offset}`;
    if (seen.includes(id)) continue;
    seen.push(id);
    if (seen.length > DEDUP_WINDOW) seen.shift();
    if (record.value === null) continue;
    value = fold.step(value, fold.log.decode(record.value, record), eventMeta(record));
    events += 1;
    last = record;
  }
  return { value, events, offset: last?.offset, timestamp: last?.timestamp };
}
