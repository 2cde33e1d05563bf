import { keyRecords } from "@toka/event-sourcing";
import { tableTopic } from "@toka/processor";
import { DEDUP_HEADER, decodeDedup } from "@toka/processor/dedup";
import type { KafkaClient } from "@toka/processor/kafka";
import { formatBytes } from "./format-value.js";

/** One record of a key in a group table. */
export interface TableRecord {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  /** The value shown as JSON when it is JSON, else text or hex; `null` for a delete. */
  readonly value: unknown;
  /** The dedup record toka carried in the record's header (exactly-once groups). */
  readonly dedup: unknown;
}

/** A key of a group table: its current value and every record of it still in the topic. */
export interface TableLookup {
  readonly table: string;
  readonly key: string;
  /** The newest record; `undefined` when the topic has none of the key. */
  readonly current: TableRecord | undefined;
  /** Oldest first; compaction keeps only the newest records of a key. */
  readonly history: readonly TableRecord[];
}

/**
 * Reads a key of `<group>-table` from Kafka, where the group itself wrote it, so it
 * works for any group without a view of its table (values are shown undecoded).
 */
export async function lookupTableKey(
  client: KafkaClient,
  group: string,
  key: string,
): Promise<TableLookup> {
  const table = tableTopic(group);
  const records = await keyRecords(table, key, { client });
  const history = records.map((r): TableRecord => {
    const dedup = r.headers[DEDUP_HEADER];
    return {
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      value: formatBytes(r.value, "auto"),
      // A header that is no dedup record is shown as its text.
      dedup: dedup === undefined ? undefined : (decodeDedup(dedup) ?? dedup),
    };
  });
  return { table, key, current: history.at(-1), history };
}
