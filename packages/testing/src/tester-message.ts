import type { Codec } from "@toka/codec";
import { ID_HEADER } from "@toka/processor";
import { copyHeaders, type StoredRecord } from "./in-memory-broker.js";

/** A record of a topic as the tester shows it: decoded key and value, and where it landed. */
export interface TesterMessage<T> {
  readonly topic: string;
  readonly partition: number;
  /** Offset in its partition, a decimal string as everywhere in toka. */
  readonly offset: string;
  /** The key as UTF-8 text (invalid bytes as U+FFFD); `null` for a record without key. */
  readonly key: string | null;
  /** The key's bytes as stored; `null` for a record without key. */
  readonly keyBytes: Uint8Array | null;
  /** The decoded value; `null` for a tombstone. */
  readonly value: T | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch, from the tester's clock. */
  readonly timestamp: number;
  /** The message ID (`toka-id` header), if it has one. */
  readonly id: string | undefined;
}

/** Where a record the tester appended landed. */
export interface TesterPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

// ignoreBOM: a leading U+FEFF is part of a key, as it is to the processor.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The tester's view of a stored record.
 * @throws CodecError when the value does not decode with `codec`.
 */
export function toTesterMessage<T>(
  topic: string,
  partition: number,
  record: StoredRecord,
  codec: Codec<T> | undefined,
): TesterMessage<T> {
  let value: T | null = null;
  if (record.value !== null) {
    value = codec ? codec.decode(record.value) : (record.value.slice() as T);
  }
  return {
    topic,
    partition,
    offset: String(record.offset),
    key: record.key === null ? null : utf8.decode(record.key),
    keyBytes: record.key === null ? null : new Uint8Array(record.key),
    value,
    headers: copyHeaders(record.headers),
    timestamp: record.timestamp,
    id: record.headers[ID_HEADER],
  };
}

/** A short description of messages for error messages. */
export function describeMessages(messages: readonly TesterMessage<unknown>[], max = 5): string {
  const shown = messages.slice(0, max).map((m) => {
    let value: string;
    if (m.value instanceof Uint8Array) value = `<${m.value.byteLength} bytes>`;
    else {
      try {
        value = JSON.stringify(m.value) ?? String(m.value);
      } catch {
        value = String(m.value);
      }
    }
    return `${m.partition}/${m.offset} ${JSON.stringify(m.key)} → ${value}`;
  });
  const rest = messages.length > max ? `, … ${messages.length - max} more` : "";
  return `${shown.join("; ")}${rest}`;
}
