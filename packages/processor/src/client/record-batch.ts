import type { LogRecord } from "./kafka-client.js";

/**
 * Kafka's record batch format (magic 2), read without copying: a record keeps the
 * fetched bytes and the positions of its parts, and decodes a part (key text, headers)
 * only when asked. kafkajs decodes every record into objects with a Buffer per key,
 * value and header and a Long per offset; for a log read end to end (a replay) that
 * decoding is most of the cost.
 */

/** The batch-level fields a reader needs to filter and to advance. */
export interface RecordBatchHeader {
  readonly baseOffset: number;
  /** The offset after the batch's last record (records may have been compacted away). */
  readonly nextOffset: number;
  readonly baseTimestamp: number;
  /** 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  readonly compression: number;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly producerId: number;
  readonly recordCount: number;
  /** The bytes holding the records: compressed when `compression` is not 0. */
  readonly records: Uint8Array;
}

/** Byte length of a record batch's header up to its first record. */
const BATCH_HEADER_BYTES = 61;
/** Offset and length fields that precede every batch. */
const BATCH_PREFIX_BYTES = 12;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const PRODUCER_ID_AT = 43;
const RECORD_COUNT_AT = 57;

/** A record batch the reader cannot use. */
export class RecordBatchError extends Error {
  override readonly name = "RecordBatchError";
}

/**
 * Splits a fetched partition's record set into its batches. A fetch response may end in
 * a batch cut off by the size limit, which is dropped (the next fetch returns it whole).
 */
export function readBatchHeaders(bytes: Uint8Array): RecordBatchHeader[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const batches: RecordBatchHeader[] = [];
  let at = 0;
  while (at + BATCH_HEADER_BYTES <= bytes.byteLength) {
    const length = view.getInt32(at + 8);
    const end = at + BATCH_PREFIX_BYTES + length;
    if (end > bytes.byteLength) break;
    const magic = view.getInt8(at + MAGIC_AT);
    if (magic !== 2) {
      throw new RecordBatchError(
        `record batch format ${magic} at offset ${int64(view, at)} is not supported (only format 2, Kafka 0.11+)`,
      );
    }
    const attributes = view.getInt16(at + ATTRIBUTES_AT);
    const baseOffset = int64(view, at);
    batches.push({
      baseOffset,
      nextOffset: baseOffset + view.getInt32(at + LAST_OFFSET_DELTA_AT) + 1,
      baseTimestamp: int64(view, at + BASE_TIMESTAMP_AT),
      compression: attributes & 0x07,
      transactional: (attributes & 0x10) !== 0,
      control: (attributes & 0x20) !== 0,
      producerId: int64(view, at + PRODUCER_ID_AT),
      recordCount: view.getInt32(at + RECORD_COUNT_AT),
      records: bytes.subarray(at + BATCH_HEADER_BYTES, end),
    });
    at = end;
  }
  return batches;
}

/** A signed 64-bit integer as a number: offsets, timestamps and producer IDs fit in 2^53. */
function int64(view: DataView, at: number): number {
  return view.getInt32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
}

/** Whether a control batch marks the abort (not the commit) of its producer's transaction. */
export function isAbortMarker(batch: RecordBatchHeader): boolean {
  // One record whose key is: version int16, type int16 (0 abort, 1 commit).
  const reader = new VarintReader(batch.records);
  reader.varint(); // record length
  reader.at += 1; // attributes
  reader.varlong(); // timestamp delta
  reader.varint(); // offset delta
  const keyLength = reader.varint();
  if (keyLength < 4) return false;
  const bytes = batch.records;
  return bytes[reader.at + 2] === 0 && bytes[reader.at + 3] === 0;
}

/** Reads Kafka's zigzag varints. */
class VarintReader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** A 32-bit zigzag varint. */
  varint(): number {
    const bytes = this.bytes;
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[this.at++]!;
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return (value >>> 1) ^ -(value & 1);
  }

  /** A 64-bit zigzag varint, exact up to 2^53. */
  varlong(): number {
    const bytes = this.bytes;
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = bytes[this.at++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** Skips a varint-length-prefixed byte string. */
  skipBytes(): void {
    const length = this.varint();
    if (length > 0) this.at += length;
  }
}

/** The records in `[fromOffset, toOffset)` of one batch, `records` already decompressed. */
export function readRecords(
  topic: string,
  partition: number,
  batch: RecordBatchHeader,
  records: Uint8Array,
  fromOffset: number,
  toOffset: number,
  out: BatchRecord[],
): void {
  const bytes = asBuffer(records);
  const reader = new VarintReader(bytes);
  for (let i = 0; i < batch.recordCount && reader.at < bytes.byteLength; i++) {
    const length = reader.varint();
    const end = reader.at + length;
    reader.at += 1; // attributes: unused
    const timestamp = batch.baseTimestamp + reader.varlong();
    const offset = batch.baseOffset + reader.varint();
    const keyLength = reader.varint();
    const keyAt = reader.at;
    if (keyLength > 0) reader.at += keyLength;
    const valueLength = reader.varint();
    const valueAt = reader.at;
    if (valueLength > 0) reader.at += valueLength;
    if (offset >= toOffset) return;
    if (offset >= fromOffset) {
      out.push(
        new BatchRecord(
          topic,
          partition,
          offset,
          timestamp,
          bytes,
          keyAt,
          keyLength,
          valueAt,
          valueLength,
          reader.at,
          end,
        ),
      );
    }
    reader.at = end;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One record of a fetched batch: `key`, `value`, `offset` and `headers` are computed on
 * use, and `keyText` and `header` read the key and one header without decoding the rest.
 */
export class BatchRecord implements LogRecord {
  private decodedHeaders: Record<string, string> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offsetNumber: number,
    readonly timestamp: number,
    private readonly bytes: Buffer,
    private readonly keyAt: number,
    private readonly keyLength: number,
    private readonly valueAt: number,
    private readonly valueLength: number,
    private readonly headersAt: number,
    private readonly end: number,
  ) {}

  get offset(): string {
    return String(this.offsetNumber);
  }

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : this.bytes.subarray(this.keyAt, this.keyAt + this.keyLength);
  }

  get keyIsNull(): boolean {
    return this.keyLength < 0;
  }

  get byteLength(): number {
    return Math.max(0, this.keyLength) + Math.max(0, this.valueLength);
  }

  keyText(): string {
    return this.keyLength <= 0
      ? ""
      : this.bytes.toString("utf8", this.keyAt, this.keyAt + this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0
      ? null
      : this.bytes.subarray(this.valueAt, this.valueAt + this.valueLength);
  }

  get headers(): Readonly<Record<string, string>> {
    if (this.decodedHeaders) return this.decodedHeaders;
    // No prototype: a header named "__proto__" is an ordinary property, and `header()`
    // finds no inherited member for a name the record lacks ("constructor").
    const headers: Record<string, string> = Object.create(null);
    this.eachHeader((nameAt, nameLength, valueAt, valueLength) => {
      const name = this.bytes.toString("utf8", nameAt, nameAt + nameLength);
      // A header repeated keeps its first value, as the kafkajs client does.
      if (Object.hasOwn(headers, name)) return;
      headers[name] = this.text(valueAt, valueLength);
    });
    this.decodedHeaders = headers;
    return headers;
  }

  header(name: string): string | undefined {
    if (this.decodedHeaders) return this.decodedHeaders[name];
    const reader = this.findHeader(name);
    if (reader === undefined) return undefined;
    const length = reader.varint();
    return this.text(reader.at, length);
  }

  headerBytes(name: string): Uint8Array | undefined {
    const reader = this.findHeader(name);
    if (reader === undefined) return undefined;
    const length = Math.max(0, reader.varint());
    return this.bytes.subarray(reader.at, reader.at + length);
  }

  /**
   * A reader at the value length of the first header named `name` (ASCII), or undefined.
   * Asked once per message (its `toka-id`), so it allocates nothing but the reader.
   */
  private findHeader(name: string): VarintReader | undefined {
    const bytes = this.bytes;
    const reader = new VarintReader(bytes);
    reader.at = this.headersAt;
    const count = reader.varint();
    for (let i = 0; i < count && reader.at < this.end; i++) {
      const nameLength = reader.varint();
      const nameAt = reader.at;
      reader.at += nameLength;
      if (nameLength === name.length && sameAscii(bytes, nameAt, name)) return reader;
      const valueLength = reader.varint();
      if (valueLength > 0) reader.at += valueLength;
    }
    return undefined;
  }

  private text(at: number, length: number): string {
    return length <= 0 ? "" : this.bytes.toString("utf8", at, at + length);
  }

  private eachHeader(
    visit: (nameAt: number, nameLength: number, valueAt: number, valueLength: number) => void,
  ): void {
    const reader = new VarintReader(this.bytes);
    reader.at = this.headersAt;
    const count = reader.varint();
    for (let i = 0; i < count && reader.at < this.end; i++) {
      const nameLength = reader.varint();
      const nameAt = reader.at;
      reader.at += nameLength;
      const valueLength = reader.varint();
      const valueAt = reader.at;
      if (valueLength > 0) reader.at += valueLength;
      visit(nameAt, nameLength, valueAt, valueLength);
    }
  }
}

/** Whether the bytes at `at` spell `name` (ASCII), which they are as long as. */
function sameAscii(bytes: Buffer, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (bytes[at + i] !== name.charCodeAt(i)) return false;
  return true;
}
