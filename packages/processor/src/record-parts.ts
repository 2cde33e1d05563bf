import type { IncomingRecord, LogRecord } from "./client/kafka-client.js";

/**
 * Parts of an incoming record read without decoding the rest of it, when the record is
 * one toka fetched itself (a {@link LogRecord}); a record from another client (the
 * kafkajs consumer, the in-memory tester) has them decoded already.
 */

export function isLogRecord(record: IncomingRecord): record is LogRecord {
  return typeof (record as Partial<LogRecord>).header === "function";
}

/** The first value of one header (an ASCII name). */
export function headerOf(record: IncomingRecord, name: string): string | undefined {
  return isLogRecord(record) ? record.header(name) : record.headers[name];
}

/** The record's key and value bytes together. */
export function recordBytes(record: IncomingRecord): number {
  if (isLogRecord(record)) return record.byteLength;
  return (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0);
}
