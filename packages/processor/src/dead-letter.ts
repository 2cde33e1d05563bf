import type { IncomingRecord, OutgoingRecord } from "./client/kafka-client.js";
import { recordBatchSize } from "./client/record-batch-encoder.js";
import type { TokaError } from "./errors.js";

/** Headers toka adds to a dead letter (**contract**). */
export const DeadLetterHeader = {
  ErrorCode: "toka-error-code",
  /** The error's message, cut to {@link MAX_ERROR_MESSAGE_BYTES}. */
  ErrorMessage: "toka-error-message",
  SourceTopic: "toka-source-topic",
  SourcePartition: "toka-source-partition",
  SourceOffset: "toka-source-offset",
  /** `"true"` when the letter did not fit the dead-letter topic and was cut. */
  Truncated: "toka-error-truncated",
  /** Set when the value was cut: its original length; the letter holds its start. */
  OriginalValueBytes: "toka-original-value-bytes",
  /** Set when the original headers were left out: their bytes (names and values). */
  OriginalHeaderBytes: "toka-original-header-bytes",
  /** Set when the key was left out (the letter has a null key): its length. */
  OriginalKeyBytes: "toka-original-key-bytes",
} as const;

/**
 * Most bytes of the error message header. An error message repeats the key, which can be
 * as long as the record; bounded, the error headers fit in {@link DEAD_LETTER_HEADROOM}.
 */
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/**
 * Bytes a dead-letter topic allows beyond its inputs' `max.message.bytes`: toka's headers
 * (the error message at most {@link MAX_ERROR_MESSAGE_BYTES}, a topic name at most 249
 * characters) fit with room to spare, so a letter of an input that fit its topic fits too.
 */
export const DEAD_LETTER_HEADROOM = 16 * 1024;

/**
 * The dead letter of `record`: its key, value and headers unchanged, plus the error
 * headers. When that is larger than `maxBytes` (the dead-letter topic's
 * `max.message.bytes`; an input may be compressed, or the topic was created smaller),
 * the value is cut to what fits, then, if still too large, the original headers and
 * the key are left out, and headers say what was cut: a letter that does not fit would
 * fail its produce and stop the partition.
 */
export function deadLetter(
  record: IncomingRecord,
  error: TokaError,
  topic: string,
  maxBytes: number,
): OutgoingRecord {
  const errorHeaders: Record<string, string> = {
    [DeadLetterHeader.ErrorCode]: error.code,
    [DeadLetterHeader.ErrorMessage]: cutText(error.message, MAX_ERROR_MESSAGE_BYTES),
    [DeadLetterHeader.SourceTopic]: record.topic,
    [DeadLetterHeader.SourcePartition]: String(record.partition),
    [DeadLetterHeader.SourceOffset]: record.offset,
  };
  // Assigned onto an object without a prototype: a header named "__proto__" stays one.
  const headers = Object.assign(Object.create(null), record.headers, errorHeaders);
  const letter: OutgoingRecord = { topic, key: record.key, value: record.value, headers };
  if (recordBatchSize(letter) <= maxBytes) return letter;

  const value = record.value ?? new Uint8Array(0);
  const cut: Record<string, string> = {
    ...errorHeaders,
    [DeadLetterHeader.Truncated]: "true",
    [DeadLetterHeader.OriginalValueBytes]: String(value.byteLength),
  };
  let kept = Object.assign(Object.create(null), record.headers, cut);
  let key = record.key;
  if (fixedSize(key, kept) > maxBytes) {
    cut[DeadLetterHeader.OriginalHeaderBytes] = String(headerBytes(record.headers));
    kept = cut;
  }
  if (fixedSize(key, kept) > maxBytes && key !== null) {
    cut[DeadLetterHeader.OriginalKeyBytes] = String(key.byteLength);
    key = null;
  }
  // With the value, its length prefix and the record's grow by at most 5 bytes each.
  const room = Math.max(0, maxBytes - fixedSize(key, kept) - 10);
  return {
    topic,
    key,
    value: record.value === null ? null : value.subarray(0, room),
    headers: kept,
  };
}

/** Bytes of a lone record with this key and headers and an empty value. */
function fixedSize(key: Uint8Array | null, headers: Readonly<Record<string, string>>): number {
  return recordBatchSize({ key, value: new Uint8Array(0), headers });
}

function headerBytes(headers: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

/** `text` cut to at most `maxBytes` of UTF-8, marked with "…" when cut. */
function cutText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  // Decoding a cut-off character drops it (U+FFFD would be 3 bytes, so it is trimmed).
  const start = Buffer.from(text)
    .subarray(0, maxBytes - 3)
    .toString();
  return `${start.replace(/\uFFFD$/, "")}…`;
}
