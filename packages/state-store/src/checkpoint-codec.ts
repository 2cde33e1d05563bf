import { isValidKey } from "./key-range.js";
import type { Checkpoint } from "./storage.js";

/**
 * Binary form of a {@link Checkpoint}, stored under a reserved key next to the values
 * it describes. Layout (version 1), lengths as unsigned LEB128 varints:
 *
 * ```
 * u8      version (1)
 * varint  length, ASCII    tableOffset
 * varint  count            inputs, then per input:
 *   varint length, UTF-8     topic
 *   varint length, ASCII     offset
 * u8      flags            bit 0: metadata present, bit 1: stream time present
 * varint  length, bytes    metadata (only when bit 0 is set)
 * varint  length, ASCII    streamTime in decimal milliseconds (only when bit 1 is set)
 * ```
 *
 * A checkpoint without stream time is written as before bit 1 existed.
 *
 * Offsets stay decimal strings: Kafka offsets are int64, beyond a JS number's exact range.
 */
const VERSION = 1;
const FLAG_METADATA = 1;
const FLAG_STREAM_TIME = 2;
const KNOWN_FLAGS = FLAG_METADATA | FLAG_STREAM_TIME;

/** Canonical decimal int64: no leading zeros, no `+`, no `-0`. */
const DECIMAL = /^(?:0|-?[1-9][0-9]{0,18})$/;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Whether `value` is a canonical decimal string of a Kafka int64 offset. */
export function isOffset(value: unknown): value is string {
  if (typeof value !== "string" || !DECIMAL.test(value)) return false;
  if (value.length < 19) return true;
  const n = BigInt(value);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/**
 * Why `checkpoint` cannot be stored, or `undefined` when it can. The message names the
 * field and says what it must be.
 */
export function checkpointProblem(checkpoint: unknown): string | undefined {
  if (typeof checkpoint !== "object" || checkpoint === null) {
    return "the checkpoint must be an object { tableOffset, inputOffsets, metadata? }";
  }
  const { tableOffset, inputOffsets, metadata } = checkpoint as Record<string, unknown>;
  if (!isOffset(tableOffset)) {
    return `checkpoint.tableOffset must be a decimal int64 string such as "42", got ${describe(tableOffset)}`;
  }
  if (typeof inputOffsets !== "object" || inputOffsets === null || Array.isArray(inputOffsets)) {
    return `checkpoint.inputOffsets must be an object of topic → decimal offset string, got ${describe(inputOffsets)}`;
  }
  for (const [topic, offset] of Object.entries(inputOffsets)) {
    if (topic === "" || !isValidKey(topic)) {
      return `checkpoint.inputOffsets has an invalid topic name ${JSON.stringify(topic)}`;
    }
    if (!isOffset(offset)) {
      return `checkpoint.inputOffsets[${JSON.stringify(topic)}] must be a decimal int64 string such as "42", got ${describe(offset)}`;
    }
  }
  if (metadata !== undefined && !(metadata instanceof Uint8Array)) {
    return `checkpoint.metadata must be a Uint8Array or absent, got ${describe(metadata)}`;
  }
  const { streamTime } = checkpoint as Record<string, unknown>;
  if (streamTime !== undefined && !isStreamTime(streamTime)) {
    return `checkpoint.streamTime must be milliseconds since the epoch (a safe integer >= 0) or absent, got ${describe(streamTime)}`;
  }
  return undefined;
}

/** Encodes a checkpoint that {@link checkpointProblem} accepted. */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const parts: number[] = [VERSION];
  const chunks: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    if (parts.length > 0) {
      chunks.push(Uint8Array.from(parts));
      size += parts.length;
      parts.length = 0;
    }
  };
  const bytes = (data: Uint8Array): void => {
    pushVarint(parts, data.length);
    flush();
    chunks.push(data);
    size += data.length;
  };
  bytes(utf8Encoder.encode(checkpoint.tableOffset));
  const inputs = Object.entries(checkpoint.inputOffsets);
  pushVarint(parts, inputs.length);
  for (const [topic, offset] of inputs) {
    bytes(utf8Encoder.encode(topic));
    bytes(utf8Encoder.encode(offset));
  }
  const { metadata, streamTime } = checkpoint;
  parts.push(
    (metadata === undefined ? 0 : FLAG_METADATA) |
      (streamTime === undefined ? 0 : FLAG_STREAM_TIME),
  );
  if (metadata !== undefined) bytes(metadata);
  if (streamTime !== undefined) bytes(utf8Encoder.encode(String(streamTime)));
  flush();
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Decodes what {@link encodeCheckpoint} wrote. The result owns its bytes (`metadata` is a
 * copy).
 * @throws Error describing the first malformed field; callers report it as corruption.
 */
export function decodeCheckpoint(data: Uint8Array): Checkpoint {
  let at = 0;
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = data[at++];
      if (byte === undefined) throw new Error("checkpoint record is truncated");
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error("checkpoint record has an overlong length");
  };
  const bytes = (): Uint8Array => {
    const length = varint();
    if (at + length > data.length) throw new Error("checkpoint record is truncated");
    const out = data.subarray(at, at + length);
    at += length;
    return out;
  };
  const offset = (field: string): string => {
    const text = utf8Decoder.decode(bytes());
    if (!isOffset(text)) throw new Error(`checkpoint ${field} is not a decimal offset`);
    return text;
  };

  const version = data[at++];
  if (version !== VERSION) {
    throw new Error(`checkpoint record has version ${String(version)}, expected ${VERSION}`);
  }
  const tableOffset = offset("tableOffset");
  const count = varint();
  const inputs: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const topic = utf8Decoder.decode(bytes());
    inputs.push([topic, offset(`input offset of ${JSON.stringify(topic)}`)]);
  }
  const flags = data[at++];
  if (flags === undefined) throw new Error("checkpoint record is truncated");
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new Error(`checkpoint record has unknown flags ${flags}`);
  // A plain copy: `data` may be a Buffer, whose slice() is a view, not a copy.
  const metadata = (flags & FLAG_METADATA) !== 0 ? new Uint8Array(bytes()) : undefined;
  let streamTime: number | undefined;
  if ((flags & FLAG_STREAM_TIME) !== 0) {
    const text = utf8Decoder.decode(bytes());
    streamTime = /^(?:0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : Number.NaN;
    if (!isStreamTime(streamTime)) throw new Error("checkpoint streamTime is not a time");
  }
  if (at !== data.length) throw new Error("checkpoint record has trailing bytes");
  // fromEntries defines own properties, so a topic named "__proto__" stays a plain key.
  const inputOffsets: Record<string, string> = Object.fromEntries(inputs);
  return {
    tableOffset,
    inputOffsets,
    ...(metadata === undefined ? {} : { metadata }),
    ...(streamTime === undefined ? {} : { streamTime }),
  };
}

/** Milliseconds since the epoch as a checkpoint keeps them: a safe integer, not negative. */
function isStreamTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return `${typeof value} ${String(value)}`;
}
