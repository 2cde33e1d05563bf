import { TokaError, TokaErrorCode } from "./errors.js";

/**
 * Exactly-once bookkeeping of one key, kept with its value locally and in the table
 * record's `toka-dedup` header, so that it travels through Kafka with the state
 * (ARCHITECTURE §6, EO-4).
 */
export interface KeyDedup {
  /** Per input topic: the highest input offset applied to this key. */
  applied: Record<string, string>;
  /** The most recent message IDs applied to this key with their timestamps (ms). */
  ids: [id: string, timestamp: number][];
  /** Duplicate inputs of this key skipped so far. */
  duplicates: number;
}

/** Header of table records that carries {@link KeyDedup}. */
export const DEDUP_HEADER = "toka-dedup";

/** A locally stored table entry: the encoded value (absent once deleted) and its dedup. */
export interface TableEntry {
  readonly value: Uint8Array | undefined;
  readonly dedup: KeyDedup | undefined;
}

// Stored layout: one flag byte, then for FLAG_DEDUP a 4-byte big-endian length and the
// dedup JSON, then the encoded value (absent with FLAG_DELETED).
const FLAG_PLAIN = 0;
const FLAG_DEDUP = 1;
const FLAG_DELETED = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes an entry for local storage; `dedupJson` is `entry.dedup` already serialized
 * (the table record's header carries the same text).
 */
export function encodeTableEntry(entry: TableEntry, dedupJson?: string): Uint8Array {
  if (!entry.dedup) {
    const out = new Uint8Array(1 + (entry.value?.byteLength ?? 0));
    out[0] = FLAG_PLAIN;
    if (entry.value) out.set(entry.value, 1);
    return out;
  }
  const dedup = encoder.encode(dedupJson ?? JSON.stringify(entry.dedup));
  const out = new Uint8Array(5 + dedup.byteLength + (entry.value?.byteLength ?? 0));
  out[0] = entry.value ? FLAG_DEDUP : FLAG_DEDUP | FLAG_DELETED;
  new DataView(out.buffer).setUint32(1, dedup.byteLength);
  out.set(dedup, 5);
  if (entry.value) out.set(entry.value, 5 + dedup.byteLength);
  return out;
}

/**
 * Decodes a locally stored entry.
 * @throws TokaError `TOKA_STORAGE_FAILED` when the bytes are not an entry (wipe the
 * local state: it is rebuilt from the table topic).
 */
export function decodeTableEntry(bytes: Uint8Array): TableEntry {
  const flag = bytes[0];
  if (flag === FLAG_PLAIN) return { value: bytes.subarray(1), dedup: undefined };
  if (flag === FLAG_DEDUP || flag === (FLAG_DEDUP | FLAG_DELETED)) {
    const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
    const dedup = parseDedup(decoder.decode(bytes.subarray(5, 5 + length)));
    const value = flag === FLAG_DEDUP ? bytes.subarray(5 + length) : undefined;
    if (dedup) return { value, dedup };
  }
  throw new TokaError(
    TokaErrorCode.StorageFailed,
    "a locally stored table entry is unreadable; delete the local state directory of this partition, it is rebuilt from the table topic",
  );
}

/** Parses the dedup header or stored JSON; `undefined` when it is not valid. */
export function parseDedup(text: string | undefined): KeyDedup | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<KeyDedup>;
    if (typeof value !== "object" || value === null || !Array.isArray(value.ids)) return undefined;
    return { applied: value.applied ?? {}, ids: value.ids, duplicates: value.duplicates ?? 0 };
  } catch {
    return undefined;
  }
}

/** Compares two non-negative decimal offsets. */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `offset + n` for decimal int64 offsets. */
export function addToOffset(offset: string, n: number): string {
  return (BigInt(offset) + BigInt(n)).toString();
}
