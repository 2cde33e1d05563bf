import { decodeDedup, type KeyDedup } from "./dedup-record.js";
import { TokaError, TokaErrorCode } from "./errors.js";

/** A locally stored table entry: the encoded value (absent once deleted) and its dedup. */
export interface TableEntry {
  readonly value: Uint8Array | undefined;
  readonly dedup: KeyDedup | undefined;
}

// Stored layout: one flag byte, then for FLAG_DEDUP a 4-byte big-endian length and the
// dedup record (dedup-record.ts: any of its versions, so stores of an older toka read),
// then the encoded value (absent with FLAG_DELETED).
const FLAG_PLAIN = 0;
const FLAG_DEDUP = 1;
const FLAG_DELETED = 2;

/**
 * Encodes an entry for local storage. `dedup` is the key's dedup record as
 * `encodeDedup` wrote it: the table record's header carries the same bytes.
 */
export function encodeTableEntry(
  value: Uint8Array | undefined,
  dedup: Uint8Array | undefined,
): Uint8Array {
  if (!dedup) {
    const out = new Uint8Array(1 + (value?.byteLength ?? 0));
    out[0] = FLAG_PLAIN;
    if (value) out.set(value, 1);
    return out;
  }
  const out = new Uint8Array(5 + dedup.byteLength + (value?.byteLength ?? 0));
  const length = dedup.byteLength;
  out[0] = value ? FLAG_DEDUP : FLAG_DEDUP | FLAG_DELETED;
  // Byte by byte: a DataView per entry costs more than the rest of the encoding.
  out[1] = length >>> 24;
  out[2] = (length >>> 16) & 0xff;
  out[3] = (length >>> 8) & 0xff;
  out[4] = length & 0xff;
  out.set(dedup, 5);
  if (value) out.set(value, 5 + dedup.byteLength);
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
  if ((flag === FLAG_DEDUP || flag === (FLAG_DEDUP | FLAG_DELETED)) && bytes.byteLength >= 5) {
    const length = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
    const dedup = decodeDedup(bytes.subarray(5, 5 + length));
    const value = flag === FLAG_DEDUP ? bytes.subarray(5 + length) : undefined;
    if (dedup) return { value, dedup };
  }
  throw new TokaError(
    TokaErrorCode.StorageFailed,
    "a locally stored table entry is unreadable; delete the local state directory of this partition, it is rebuilt from the table topic",
  );
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
