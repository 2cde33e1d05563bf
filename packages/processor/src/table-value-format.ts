import type { IncomingRecord, LogRecord } from "./client/kafka-client.js";
import { DEDUP_HEADER, decodeDedup } from "./dedup-record.js";
import { encodeTableEntry } from "./table-entry.js";

/**
 * How a table record is kept in local storage. A group's own table keeps its dedup state
 * beside the value (exactly-once), joined tables and views keep the table's bytes as
 * they are: the one difference between the local copies of a table partition.
 */
export interface TableValueFormat {
  /** The bytes to store for a table record, or `undefined` when its key is deleted. */
  stored(record: IncomingRecord | LogRecord): Uint8Array | undefined;
}

/** The table's value bytes as they are; a tombstone deletes its key. */
export const rawTableValues: TableValueFormat = {
  stored: (record) => record.value ?? undefined,
};

/**
 * A group's own table: `encodeTableEntry` entries. Under exactly-once a record's dedup
 * header is kept with its value (ARCHITECTURE §6, EO-4), and a tombstone that carries one
 * keeps the key's dedup state instead of deleting it. The header's bytes are stored as
 * they are (whatever version they are in), once read as a dedup record: a header that is
 * not one is ignored.
 */
export function tableEntryValues(exactlyOnce: boolean): TableValueFormat {
  return {
    stored(record) {
      // Only toka's log reader gives a header's bytes; a record fetched as text headers
      // has no dedup state to keep.
      let dedup =
        exactlyOnce && "headerBytes" in record ? record.headerBytes(DEDUP_HEADER) : undefined;
      if (dedup && !decodeDedup(dedup)) dedup = undefined;
      if (record.value === null && !dedup) return undefined;
      return encodeTableEntry(record.value ?? undefined, dedup);
    },
  };
}
