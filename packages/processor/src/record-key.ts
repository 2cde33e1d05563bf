import type { IncomingRecord } from "./client/kafka-client.js";
import type { Logger } from "./logger.js";
import { isLogRecord } from "./record-parts.js";

/**
 * Keys are UTF-8 strings (ARCHITECTURE §7). A record whose key is null or not valid
 * UTF-8 has no key toka can name: decoding it leniently would merge it into another key
 * (null into `""`, invalid bytes into U+FFFD), so such a key is refused instead.
 */

// fatal: invalid bytes throw instead of becoming U+FFFD. ignoreBOM: a leading U+FEFF is
// part of the key, or "\uFEFFa" and "a" would be one key.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Key bytes shown in a message: enough to find the record, never the whole of a huge key. */
const SHOWN_KEY_BYTES = 64;

/** The key as text; `undefined` when it is null or not valid UTF-8. */
export function keyText(key: Uint8Array | null): string | undefined {
  if (key === null) return undefined;
  try {
    return strictUtf8.decode(key);
  } catch {
    return undefined;
  }
}

/**
 * A record's key as text, as {@link keyText} decides it, through a fetched record's cheap
 * decoding when it has one: a lenient decode can only differ from the strict one where it
 * produced U+FFFD, and only then is the key decoded strictly.
 */
export function recordKey(record: IncomingRecord): string | undefined {
  if (!isLogRecord(record)) return keyText(record.key);
  if (record.keyIsNull) return undefined;
  const text = record.keyText();
  return text.includes("\uFFFD") ? keyText(record.key) : text;
}

/**
 * What is wrong with a key {@link keyText} refused, for an error or log message: that it
 * is null, or its bytes in hex (the first {@link SHOWN_KEY_BYTES}), and the decoder's error.
 */
export function invalidKey(key: Uint8Array | null): { description: string; cause?: unknown } {
  if (key === null) return { description: "the key is null" };
  const shown = Buffer.from(key.buffer, key.byteOffset, Math.min(key.byteLength, SHOWN_KEY_BYTES));
  const more = key.byteLength > SHOWN_KEY_BYTES ? `… (${key.byteLength} bytes)` : "";
  let cause: unknown;
  try {
    strictUtf8.decode(key);
  } catch (error) {
    cause = error;
  }
  return { description: `the key is not valid UTF-8 (hex ${shown.toString("hex")}${more})`, cause };
}

/**
 * Logs a table record whose key {@link keyText} refused, which the caller then skips:
 * tables are written by toka with UTF-8 keys, so such a record was written by something
 * else, and applying it as key `""` would silently change another key.
 */
export function warnInvalidTableKey(
  logger: Logger,
  record: IncomingRecord,
  group: string | undefined,
): void {
  logger.warn(
    "a table record without a valid UTF-8 key is skipped; something other than toka wrote it",
    {
      ...(group === undefined ? {} : { group }),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: invalidKey(record.key).description,
    },
  );
}
