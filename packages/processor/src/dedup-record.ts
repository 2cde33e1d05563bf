import type { Origin } from "./record-origin.js";

export { ORIGIN_HEADER, type Origin, parseOrigin } from "./record-origin.js";

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
  /**
   * Per input topic and origin, the last record applied to this key of those that toka
   * groups produce (their `toka-origin` header, see {@link Origin}); absent until the key
   * applies one.
   */
  origins?: AppliedOrigin[];
}

/** An entry of {@link KeyDedup.origins}: `source`'s record at `offset`, `index` applied last from `topic`. */
export type AppliedOrigin = [topic: string, source: string, offset: number, index: number];

/** Whether a record of `origin` read from `topic` is at or before the last one the key applied from its source. */
export function appliedFromOrigin(dedup: KeyDedup, topic: string, origin: Origin): boolean {
  const entry = originEntry(dedup, topic, origin.source);
  if (entry === undefined) return false;
  const [, , offset, index] = entry;
  return origin.offset < offset || (origin.offset === offset && origin.index <= index);
}

/** Records `origin` as the last record the key applied from its source through `topic`. */
export function setAppliedFromOrigin(dedup: KeyDedup, topic: string, origin: Origin): void {
  const entry = originEntry(dedup, topic, origin.source);
  if (entry === undefined) {
    dedup.origins ??= [];
    dedup.origins.push([topic, origin.source, origin.offset, origin.index]);
  } else {
    entry[2] = origin.offset;
    entry[3] = origin.index;
  }
}

function originEntry(dedup: KeyDedup, topic: string, source: string): AppliedOrigin | undefined {
  const { origins } = dedup;
  if (origins === undefined) return undefined;
  for (let i = 0; i < origins.length; i++) {
    const entry = origins[i]!;
    if (entry[1] === source && entry[0] === topic) return entry;
  }
  return undefined;
}

/** Header of table records that carries {@link KeyDedup}, as {@link encodeDedup} writes it. */
export const DEDUP_HEADER = "toka-dedup";

/** A key's dedup record before its first input. */
export function emptyDedup(): KeyDedup {
  return { applied: {}, ids: [], duplicates: 0 };
}

/**
 * `applied[topic]`, if the key has one: a topic named like a member of objects
 * (`constructor`, `__proto__`) finds nothing inherited.
 */
export function appliedOffset(dedup: KeyDedup, topic: string): string | undefined {
  const offset: unknown = dedup.applied[topic];
  return typeof offset === "string" ? offset : undefined;
}

/**
 * Sets `applied[topic]`. A topic may be named `__proto__`: assigned, that name would set
 * the object's prototype; it becomes an own property like any other name instead. (A
 * prototype-less `applied` would do too, but such objects are dictionaries to V8, and
 * enumerating one cost more than the rest of the encoding.)
 */
export function setApplied(dedup: KeyDedup, topic: string, offset: string): void {
  if (topic === "__proto__" && !Object.hasOwn(dedup.applied, topic)) {
    Object.defineProperty(dedup.applied, topic, {
      value: offset,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    dedup.applied[topic] = offset;
  }
}

/** Whether message `id` was applied to the key within `maxAgeMs` before `now`. */
export function seenRecently(dedup: KeyDedup, id: string, now: number, maxAgeMs: number): boolean {
  const oldest = now - maxAgeMs;
  return dedup.ids.some(([seen, at]) => seen === id && at >= oldest);
}

/** Records message `id` as applied to the key, keeping the newest `idsPerKey` IDs. */
export function rememberId(
  dedup: KeyDedup,
  id: string,
  timestamp: number,
  idsPerKey: number,
): void {
  dedup.ids.push([id, timestamp]);
  const excess = dedup.ids.length - idsPerKey;
  if (excess > 0) dedup.ids.splice(0, excess);
}

/** A copy of `dedup`, for a window whose aggregate is copied from another's. */
export function copyDedup(dedup: KeyDedup): KeyDedup {
  return {
    applied: { ...dedup.applied },
    ids: dedup.ids.map(([id, at]) => [id, at]),
    duplicates: dedup.duplicates,
    ...(dedup.origins && { origins: dedup.origins.map((entry) => [...entry] as AppliedOrigin) }),
  };
}

/** The first byte of the current format; {@link decodeDedup} reads every version listed here. */
export const DEDUP_FORMAT_VERSION = 2;
/** The first byte of a record without origins, which is still written in version 1. */
export const DEDUP_FORMAT_WITHOUT_ORIGINS = 1;

// The dedup record, version 2: the same bytes are the table record's header value and
// part of the locally stored entry (table-entry.ts), so a flushed key is encoded once.
//
//   record    = version:0x02 duplicates:uint applied-count:uint (topic:str offset:uint)*
//               id-count:uint (id:str timestamp-delta:sint)*
//               origin-count:uint (topic:str source:str offset:uint index:uint)*
//   str       = byte-length:uint UTF-8-bytes
//   uint      = 6 bits a byte, least significant first; 0x40 marks that a byte follows
//   sint      = uint of the zigzag of the difference to the previous ID's timestamp
//               (the first ID's to 0): IDs arrive in about time order, so deltas are short
//
// Every byte outside the strings is below 0x80, so a record is valid UTF-8 whenever its
// strings are (they are decoded header text or topic names). A client that hands header
// values over as text (kafkajs's consumer, the in-memory tester) therefore keeps it
// intact, and `decodeDedup` of that text reads it back.
//
// Version 1 is version 2 without the origins. A key that applied no record with an
// origin is still written in version 1, so a group whose inputs no toka group produced
// writes what an older toka reads.
//
// Version 0 is the JSON text of `KeyDedup` that toka wrote before: its first byte is
// "{", which no binary version uses, and `decodeDedup` still reads it (table topics and
// local stores written by an older toka).
const JSON_START = 0x7b; // "{"
const MORE = 0x40;
const LOW_BITS = 0x3f;
/** Most bytes a uint below 2^53 takes: 53 bits in groups of 6. */
const MAX_UINT_BYTES = 9;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a key's dedup record in the current binary format (version
 * {@link DEDUP_FORMAT_VERSION}): the header value of its table record and, as is, the
 * dedup part of its locally stored entry.
 * @throws RangeError when an applied offset is not a decimal integer below 2^53, or a
 * count or timestamp is not a safe integer.
 */
export function encodeDedup(dedup: KeyDedup): Uint8Array {
  const { applied, ids, origins } = dedup;
  // Sized exactly first, so that the record is written once into its own bytes.
  let size = 1 + uintSize(dedup.duplicates);
  let topics = 0;
  for (const topic in applied) {
    size += stringSize(topic) + uintSize(offsetNumber(applied[topic]!));
    topics += 1;
  }
  size += uintSize(topics) + uintSize(ids.length);
  let previous = 0;
  for (let i = 0; i < ids.length; i++) {
    const [id, timestamp] = ids[i]!;
    size += stringSize(id) + uintSize(zigzag(timestamp - previous));
    previous = timestamp;
  }
  if (origins) {
    size += uintSize(origins.length);
    for (const [topic, source, offset, index] of origins)
      size += stringSize(topic) + stringSize(source) + uintSize(offset) + uintSize(index);
  }
  // From Node's pool: a record is small, and an ArrayBuffer of its own costs more.
  const out = Buffer.allocUnsafe(size);
  out[0] = origins ? DEDUP_FORMAT_VERSION : DEDUP_FORMAT_WITHOUT_ORIGINS;
  let at = writeUint(out, 1, dedup.duplicates);
  at = writeUint(out, at, topics);
  for (const topic in applied) {
    at = writeString(out, at, topic);
    at = writeUint(out, at, Number(applied[topic]));
  }
  at = writeUint(out, at, ids.length);
  previous = 0;
  for (let i = 0; i < ids.length; i++) {
    const [id, timestamp] = ids[i]!;
    at = writeString(out, at, id);
    at = writeUint(out, at, zigzag(timestamp - previous));
    previous = timestamp;
  }
  if (origins) {
    at = writeUint(out, at, origins.length);
    for (const [topic, source, offset, index] of origins) {
      at = writeString(out, at, topic);
      at = writeString(out, at, source);
      at = writeUint(out, at, offset);
      at = writeUint(out, at, index);
    }
  }
  return out;
}

/**
 * Decodes a dedup record of any version: the current binary format, or the JSON text
 * of version 0. A string is a header value that a client decoded as UTF-8.
 * @returns `undefined` when it is absent or not a dedup record (a header to ignore).
 */
export function decodeDedup(data: Uint8Array | string | undefined): KeyDedup | undefined {
  if (data === undefined) return undefined;
  if (typeof data === "string") {
    return data.charCodeAt(0) === JSON_START
      ? parseJson(data)
      : decodeBinary(Buffer.from(data, "utf8"));
  }
  if (data[0] !== JSON_START) return decodeBinary(data);
  try {
    return parseJson(utf8Decoder.decode(data));
  } catch {
    return undefined; // not UTF-8
  }
}

/** Version 0, checked field by field: the record is re-encoded in version 1. */
function parseJson(text: string): KeyDedup | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { applied = {}, ids, duplicates = 0 } = value as Record<string, unknown>;
  if (!Array.isArray(ids) || !Number.isSafeInteger(duplicates)) return undefined;
  if (typeof applied !== "object" || applied === null) return undefined;
  const dedup = emptyDedup();
  dedup.duplicates = duplicates as number;
  for (const [topic, offset] of Object.entries(applied)) {
    if (typeof offset !== "string" || !/^\d+$/.test(offset)) return undefined;
    if (!Number.isSafeInteger(Number(offset))) return undefined;
    setApplied(dedup, topic, offset);
  }
  for (const entry of ids) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Number.isSafeInteger(entry[1]))
      return undefined;
    dedup.ids.push([entry[0], entry[1] as number]);
  }
  return dedup;
}

/** Thrown inside the decoder when the bytes end early or break the format. */
const MALFORMED = Symbol("malformed dedup record");

function decodeBinary(bytes: Uint8Array): KeyDedup | undefined {
  const version = bytes[0];
  if (version !== DEDUP_FORMAT_VERSION && version !== DEDUP_FORMAT_WITHOUT_ORIGINS)
    return undefined;
  const reader = new Reader(bytes);
  try {
    const dedup = emptyDedup();
    dedup.duplicates = reader.uint();
    for (let n = reader.uint(); n > 0; n--) {
      const topic = reader.topic();
      setApplied(dedup, topic, String(reader.uint()));
    }
    let timestamp = 0;
    for (let n = reader.uint(); n > 0; n--) {
      const id = reader.text(reader.uint());
      const delta = reader.uint();
      timestamp += delta % 2 === 0 ? delta / 2 : -(delta + 1) / 2;
      dedup.ids.push([id, timestamp]);
    }
    if (version === DEDUP_FORMAT_VERSION) {
      const origins: AppliedOrigin[] = [];
      for (let n = reader.uint(); n > 0; n--) {
        const topic = reader.topic();
        const source = reader.text(reader.uint());
        origins.push([topic, source, reader.uint(), reader.uint()]);
      }
      dedup.origins = origins;
    }
    return reader.at === bytes.byteLength ? dedup : undefined;
  } catch (error) {
    if (error === MALFORMED) return undefined;
    throw error;
  }
}

/**
 * The topic name decoded last, with its bytes: every record names the same few topics,
 * and reusing the string saves decoding it and V8 looking it up as a property name.
 */
let lastTopic = { bytes: new Uint8Array(), text: "" };

/** Reads the parts of a version 1 record after its version byte. */
class Reader {
  at = 1;
  private buffer: Buffer | undefined;
  constructor(private readonly bytes: Uint8Array) {}

  uint(): number {
    const { bytes } = this;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_UINT_BYTES; i++) {
      const byte = bytes[this.at++];
      if (byte === undefined || byte >= 0x80) throw MALFORMED;
      value += (byte & LOW_BITS) * scale;
      if ((byte & MORE) === 0) return value;
      scale *= 64;
    }
    throw MALFORMED;
  }

  /** `length` bytes of UTF-8. */
  text(length: number): string {
    const start = this.at;
    this.at += length;
    if (this.at > this.bytes.byteLength) throw MALFORMED;
    this.buffer ??= Buffer.isBuffer(this.bytes)
      ? this.bytes
      : Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.buffer.toString("utf8", start, this.at);
  }

  topic(): string {
    const length = this.uint();
    const { bytes, at } = this;
    const last = lastTopic;
    if (last.bytes.byteLength === length && at + length <= bytes.byteLength) {
      let i = 0;
      while (i < length && bytes[at + i] === last.bytes[i]) i++;
      if (i === length) {
        this.at = at + length;
        return last.text;
      }
    }
    const text = this.text(length);
    // A copy: `bytes` may be a fetched batch, which this must not keep.
    lastTopic = { bytes: new Uint8Array(bytes.subarray(at, at + length)), text };
    return text;
  }
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes of a uint. */
function uintSize(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`a dedup record holds integers from 0 to 2^53, not ${value}`);
  let size = 1;
  while (value > LOW_BITS) {
    value = Math.floor(value / 64);
    size += 1;
  }
  return size;
}

/** Writes a uint that {@link uintSize} accepted. */
function writeUint(out: Buffer, at: number, value: number): number {
  while (value > LOW_BITS) {
    out[at++] = (value % 64) | MORE;
    value = Math.floor(value / 64);
  }
  out[at++] = value;
  return at;
}

/** Bytes of a string with its length. */
function stringSize(text: string): number {
  const length = utf8Length(text);
  return uintSize(length) + length;
}

function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  }
  return text.length;
}

function writeString(out: Buffer, at: number, text: string): number {
  const length = utf8Length(text);
  at = writeUint(out, at, length);
  if (length !== text.length) return at + out.write(text, at, length, "utf8");
  for (let i = 0; i < length; i++) out[at++] = text.charCodeAt(i);
  return at;
}

function offsetNumber(offset: string): number {
  const value = Number(offset);
  if (offset === "" || !Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`a dedup record holds offsets from 0 to 2^53, not "${offset}"`);
  return value;
}
