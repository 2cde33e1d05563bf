import type { WindowStore } from "@toka/state-store";
import { encodeDedup, type KeyDedup } from "./dedup-record.js";
import { decodeTableEntry, encodeTableEntry } from "./table-entry.js";
import type { WindowResult } from "./windowed-aggregate.js";

/*
 * A window's value as its windowed table topic and local window store keep it (after
 * the end the store keeps in front):
 *
 *   flags       1 byte: FINAL_EMITTED once the window's final result was emitted,
 *               MAX_RECORD when the next field is there
 *   max record  8 bytes, float64, sliding windows only: the latest event time folded in,
 *               which tells which windows a new record creates (as in Kafka Streams)
 *   entry       encodeTableEntry(aggregate, dedup): the aggregate, encoded by the
 *               aggregate's codec, and under exactly-once the input offsets applied
 *
 * The dedup state lives in every window, not only in its key's table entry, because a
 * window and its key's table entry are written to different topics: whichever of them a
 * crash left behind, a message applied to a window is recognized there when it is
 * delivered again.
 */

const FINAL_EMITTED = 1;
const MAX_RECORD = 2;
const MAX_RECORD_BYTES = 8;

/** A window's stored value, decoded but for the aggregate's codec. */
export interface WindowEntry {
  readonly aggregate: Uint8Array;
  readonly dedup: KeyDedup | undefined;
  /** The window's final result was emitted: it is closed, kept for queries only. */
  readonly finalEmitted: boolean;
  /** Sliding windows: the latest event time folded into the window. */
  readonly maxRecord?: number | undefined;
}

/** The stored value of a window. */
export function encodeWindowEntry(entry: WindowEntry): Uint8Array {
  const dedup = entry.dedup ? encodeDedup(entry.dedup) : undefined;
  const table = encodeTableEntry(entry.aggregate, dedup);
  const head = entry.maxRecord === undefined ? 1 : 1 + MAX_RECORD_BYTES;
  const out = new Uint8Array(head + table.length);
  out[0] =
    (entry.finalEmitted ? FINAL_EMITTED : 0) | (entry.maxRecord === undefined ? 0 : MAX_RECORD);
  if (entry.maxRecord !== undefined)
    new DataView(out.buffer, out.byteOffset).setFloat64(1, entry.maxRecord);
  out.set(table, head);
  return out;
}

/**
 * Decodes a window's stored value.
 * @throws TokaError `TOKA_STORAGE_FAILED` when the bytes are not a window entry.
 */
export function decodeWindowEntry(bytes: Uint8Array): WindowEntry {
  const flags = bytes[0]!;
  const hasMax = (flags & MAX_RECORD) !== 0;
  const table = decodeTableEntry(bytes.subarray(hasMax ? 1 + MAX_RECORD_BYTES : 1));
  return {
    aggregate: table.value ?? new Uint8Array(0),
    dedup: table.dedup,
    finalEmitted: (flags & FINAL_EMITTED) !== 0,
    maxRecord: hasMax
      ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1)
      : undefined,
  };
}

/**
 * The windows of `key` in `store` whose start lies in `[from, to]`, by start, their
 * aggregates decoded with `decode`: what window queries answer.
 */
export async function readWindows<A>(
  store: WindowStore,
  key: string,
  from: number,
  to: number,
  decode: (aggregate: Uint8Array) => A,
): Promise<WindowResult<A>[]> {
  const windows: WindowResult<A>[] = [];
  for await (const stored of store.fetch(key, from, to)) {
    const entry = decodeWindowEntry(stored.value);
    const value = decode(entry.aggregate);
    windows.push({ key, start: stored.start, end: stored.end, value, final: entry.finalEmitted });
  }
  return windows;
}
