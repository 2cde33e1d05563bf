import type { OutgoingRecord } from "./kafka-client.js";

/**
 * An upper bound of a record's encoded size, for splitting produce requests: text
 * counted at 3 bytes a character (UTF-8's most for the characters JavaScript strings
 * hold in one unit), header names as ASCII.
 */
export function recordSize(record: OutgoingRecord): number {
  let size = 32 + (record.value?.byteLength ?? 0);
  size += typeof record.key === "string" ? record.key.length * 3 : (record.key?.byteLength ?? 0);
  for (const name in record.headers) {
    const value = record.headers[name]!;
    size += name.length + (typeof value === "string" ? value.length * 3 : value.byteLength);
  }
  return size;
}
