import type { Codec } from "@toka/codec";
import { TokaError, TokaErrorCode } from "@toka/processor";
import { appliedOffset, decodeDedup, encodeDedup } from "@toka/processor/dedup";

/**
 * What a replay keeps of one key: its folded value and the exactly-once bookkeeping its
 * table record carries. A class, so that every entry has one shape; offsets stay numbers
 * until a table record needs their text.
 */
export class ReplayKeyEntry<V> {
  value: V | undefined = undefined;
  /** Recent event IDs, oldest first (parallel to `times`; two arrays allocate less than pairs). */
  ids: string[] = [];
  /** The timestamps of `ids`. */
  times: number[] = [];
  /** Offset of the last event applied; -1 before the first. */
  applied = -1;
  lastId = "";
  duplicates = 0;
  /** A table record of the key was produced (a later delete needs a tombstone). */
  written = false;
  /** Changed since the last flush: listed once in its partition's dirty keys. */
  dirty = false;

  constructor(readonly key: string) {}

  /** Remembers an applied event's ID, forgetting the oldest past `window` IDs. */
  remember(id: string, timestamp: number, window: number): void {
    this.ids.push(id);
    this.times.push(timestamp);
    if (this.ids.length > window) {
      this.ids.shift();
      this.times.shift();
    }
  }
}

// Spilled layout, version 1 (binary; the first replays wrote the bookkeeping as JSON):
//
//   entry   = version:0x01 flags:byte dedup-length:uint32 dedup last-id-length:uint32
//             last-id:UTF-8 value:rest
//   flags   = 0x01 a table record was written, 0x02 the key has a value (`value` holds it)
//   dedup   = the dedup record of the table record's header (encodeDedup), holding every
//             remembered ID, the applied offset under the name "" and the duplicates
//
// A replay clears its storage before it spills and reads back only what it wrote itself,
// so no spilled entry outlives the run that wrote it: the format needs no older versions.
const SPILL_FORMAT_VERSION = 1;
const WRITTEN = 0x01;
const HAS_VALUE = 0x02;
const utf8 = new TextEncoder();

/** The bytes a replay spills to storage for `entry`. */
export function encodeSpilledEntry<V>(entry: ReplayKeyEntry<V>, codec: Codec<V>): Uint8Array {
  const dedup = encodeDedup({
    applied: entry.applied < 0 ? {} : { "": String(entry.applied) },
    ids: entry.ids.map((id, i) => [id, entry.times[i]!]),
    duplicates: entry.duplicates,
  });
  const lastId = utf8.encode(entry.lastId);
  const value = entry.value === undefined ? undefined : codec.encode(entry.value);
  const out = new Uint8Array(
    10 + dedup.byteLength + lastId.byteLength + (value ? value.byteLength : 0),
  );
  const view = new DataView(out.buffer);
  out[0] = SPILL_FORMAT_VERSION;
  out[1] = (entry.written ? WRITTEN : 0) | (value ? HAS_VALUE : 0);
  view.setUint32(2, dedup.byteLength);
  out.set(dedup, 6);
  let at = 6 + dedup.byteLength;
  view.setUint32(at, lastId.byteLength);
  out.set(lastId, at + 4);
  at += 4 + lastId.byteLength;
  if (value) out.set(value, at);
  return out;
}

/**
 * Reads back what {@link encodeSpilledEntry} wrote.
 * @throws TokaError `TOKA_DECODE_FAILED` when the bytes or the value do not decode.
 */
export function decodeSpilledEntry<V>(
  bytes: Uint8Array,
  key: string,
  codec: Codec<V>,
  group: string | undefined,
): ReplayKeyEntry<V> {
  const failed = (cause?: unknown) =>
    new TokaError(
      TokaErrorCode.DecodeFailed,
      "a value the replay spilled to storage does not decode",
      { group, key, cause },
    );
  if (bytes[0] !== SPILL_FORMAT_VERSION || bytes.byteLength < 10) throw failed();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[1]!;
  const dedupEnd = 6 + view.getUint32(2);
  const dedup = decodeDedup(bytes.subarray(6, dedupEnd));
  if (!dedup || dedupEnd + 4 > bytes.byteLength) throw failed();
  const lastIdEnd = dedupEnd + 4 + view.getUint32(dedupEnd);
  const entry = new ReplayKeyEntry<V>(key);
  entry.lastId = new TextDecoder().decode(bytes.subarray(dedupEnd + 4, lastIdEnd));
  entry.applied = Number(appliedOffset(dedup, "") ?? -1);
  entry.duplicates = dedup.duplicates;
  entry.written = (flags & WRITTEN) !== 0;
  for (const [id, time] of dedup.ids) {
    entry.ids.push(id);
    entry.times.push(time);
  }
  if ((flags & HAS_VALUE) !== 0) {
    try {
      entry.value = codec.decode(bytes.subarray(lastIdEnd));
    } catch (cause) {
      throw failed(cause);
    }
  }
  return entry;
}
