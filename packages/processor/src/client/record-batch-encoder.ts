import crc32c from "crc-32/crc32c.js";

/** A record as written into a batch: key, value and headers already bytes or text. */
export interface EncodableRecord {
  readonly key: string | Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string | Uint8Array>>;
}

/** Bytes of the batch header before the first record. */
const BATCH_HEADER_BYTES = 61;
/** Where the CRC-32C starts covering: the attributes after the CRC field. */
const CRC_FROM = 21;

/**
 * Encodes records as one uncompressed record batch (format 2) for a non-idempotent,
 * non-transactional producer: producer ID, epoch and base sequence are -1, and every
 * record has the batch's timestamp.
 */
export function encodeRecordBatch(records: readonly EncodableRecord[], timestamp: number): Buffer {
  let size = BATCH_HEADER_BYTES;
  const bodies = records.map((r, i) => {
    const body = recordBodySize(r, i);
    size += varintSize(body) + body;
    return body;
  });
  const out = Buffer.allocUnsafe(size);
  const writer = new ByteWriter(out);
  writer.int64(0); // base offset: the broker assigns offsets
  writer.int32(size - 12); // batch length
  writer.int32(-1); // partition leader epoch
  writer.int8(2); // magic
  writer.at += 4; // CRC, written last
  writer.int16(0); // attributes: no compression, create time, not transactional
  writer.int32(records.length - 1); // last offset delta
  writer.int64(timestamp);
  writer.int64(timestamp);
  writer.int64(-1); // producer ID
  writer.int16(-1); // producer epoch
  writer.int32(-1); // base sequence
  writer.int32(records.length);
  records.forEach((record, i) => {
    writer.varint(bodies[i]!);
    writer.int8(0); // record attributes
    writer.varint(0); // timestamp delta
    writer.varint(i); // offset delta
    writer.bytesOrText(record.key);
    writer.bytesOrText(record.value);
    const headers = Object.entries(record.headers);
    writer.varint(headers.length);
    for (const [name, value] of headers) {
      writer.bytesOrText(name);
      writer.bytesOrText(value);
    }
  });
  out.writeUInt32BE(crc32c.buf(out.subarray(CRC_FROM)) >>> 0, 17);
  return out;
}

/**
 * Bytes of a record batch holding only `record`, uncompressed: what a broker compares
 * with a topic's `max.message.bytes` when the record is sent on its own.
 */
export function recordBatchSize(record: EncodableRecord): number {
  const body = recordBodySize(record, 0);
  return BATCH_HEADER_BYTES + varintSize(body) + body;
}

/** Bytes of a record after its length prefix; `index` is its offset delta. */
function recordBodySize(record: EncodableRecord, index: number): number {
  // attributes, timestamp delta 0, offset delta, key, value, header count, headers
  let size = 1 + 1 + varintSize(index) + bytesSize(record.key) + bytesSize(record.value);
  const headers = Object.entries(record.headers);
  size += varintSize(headers.length);
  for (const [name, value] of headers) size += bytesSize(name) + bytesSize(value);
  return size;
}

function bytesSize(part: string | Uint8Array | null): number {
  if (part === null) return varintSize(-1);
  const length = typeof part === "string" ? Buffer.byteLength(part) : part.byteLength;
  return varintSize(length) + length;
}

function varintSize(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag >>>= 7;
    size += 1;
  }
  return size;
}

class ByteWriter {
  at = 0;
  constructor(private readonly out: Buffer) {}
  int8(value: number) {
    this.at = this.out.writeInt8(value, this.at);
  }
  int16(value: number) {
    this.at = this.out.writeInt16BE(value, this.at);
  }
  int32(value: number) {
    this.at = this.out.writeInt32BE(value, this.at);
  }
  int64(value: number) {
    this.at = this.out.writeBigInt64BE(BigInt(value), this.at);
  }
  varint(value: number) {
    let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
    while (zigzag >= 0x80) {
      this.out[this.at++] = (zigzag & 0x7f) | 0x80;
      zigzag >>>= 7;
    }
    this.out[this.at++] = zigzag;
  }
  bytesOrText(part: string | Uint8Array | null) {
    if (part === null) {
      this.varint(-1);
    } else if (typeof part === "string") {
      const length = Buffer.byteLength(part);
      this.varint(length);
      this.at += this.out.write(part, this.at, length, "utf8");
    } else {
      this.varint(part.byteLength);
      this.out.set(part, this.at);
      this.at += part.byteLength;
    }
  }
}
