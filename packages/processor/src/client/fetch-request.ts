/**
 * The Fetch request (API key 1) in version 11, the last version without flexible
 * encoding, which every broker since Kafka 2.3 answers (Kafka 4 removed versions 0-3
 * only). No fetch session: every request is a full fetch.
 */
export const FETCH_API_KEY = 1;
export const FETCH_VERSION = 11;
export const API_VERSIONS_API_KEY = 18;

/** One partition to fetch. */
export interface FetchPartition {
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
}

/** The partitions of one topic to fetch. */
export interface FetchTopic {
  readonly topic: string;
  readonly partitions: readonly FetchPartition[];
}

export interface FetchRequest {
  readonly topics: readonly FetchTopic[];
  readonly maxWaitMs: number;
  readonly maxBytes: number;
  readonly readCommitted: boolean;
}

/** A transaction aborted in the fetched range: its producer's records from `firstOffset` are skipped. */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
}

export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** The offset after the last replicated record. */
  readonly highWatermark: number;
  /** The offset after the last record that is not part of an open transaction. */
  readonly lastStableOffset: number;
  readonly abortedTransactions: readonly AbortedTransaction[];
  /** The record set (whole record batches, possibly one cut off at the end). */
  readonly records: Buffer;
}

export function encodeFetchRequest(request: FetchRequest): Buffer {
  const names = request.topics.map((t) => Buffer.from(t.topic));
  let size = 29 + 4 + 2;
  request.topics.forEach((t, i) => {
    size += 2 + names[i]!.byteLength + 4 + t.partitions.length * 28;
  });
  const out = Buffer.alloc(size);
  let at = 0;
  at = out.writeInt32BE(-1, at); // replica ID: a consumer
  at = out.writeInt32BE(request.maxWaitMs, at);
  at = out.writeInt32BE(1, at); // min bytes
  at = out.writeInt32BE(request.maxBytes, at);
  at = out.writeInt8(request.readCommitted ? 1 : 0, at);
  at = out.writeInt32BE(0, at); // session ID: none
  at = out.writeInt32BE(-1, at); // session epoch: a full fetch outside any session
  at = out.writeInt32BE(request.topics.length, at);
  request.topics.forEach((t, i) => {
    const name = names[i]!;
    at = out.writeInt16BE(name.byteLength, at);
    at += name.copy(out, at);
    at = out.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      at = out.writeInt32BE(p.partition, at);
      at = out.writeInt32BE(-1, at); // current leader epoch: unknown
      at = out.writeBigInt64BE(BigInt(p.offset), at);
      at = out.writeBigInt64BE(-1n, at); // log start offset: only followers send it
      at = out.writeInt32BE(p.maxBytes, at);
    }
  });
  at = out.writeInt32BE(0, at); // no forgotten topics
  out.writeInt16BE(0, at); // rack ID: empty (the field is not nullable)
  return out;
}

/** Decodes a Fetch v11 response body (after the correlation ID). */
export function decodeFetchResponse(body: Buffer): {
  readonly errorCode: number;
  readonly partitions: FetchedPartition[];
} {
  let at = 4; // throttle time
  const errorCode = body.readInt16BE(at);
  at += 2 + 4; // error code, session ID
  const partitions: FetchedPartition[] = [];
  const topics = body.readInt32BE(at);
  at += 4;
  for (let t = 0; t < topics; t++) {
    const nameLength = body.readInt16BE(at);
    const topic = body.toString("utf8", at + 2, at + 2 + nameLength);
    at += 2 + nameLength;
    const count = body.readInt32BE(at);
    at += 4;
    for (let i = 0; i < count; i++) {
      const partition = body.readInt32BE(at);
      const partitionError = body.readInt16BE(at + 4);
      const highWatermark = Number(body.readBigInt64BE(at + 6));
      const lastStableOffset = Number(body.readBigInt64BE(at + 14));
      at += 30; // and the log start offset

      const abortedCount = body.readInt32BE(at);
      at += 4;
      const abortedTransactions: AbortedTransaction[] = [];
      for (let a = 0; a < abortedCount; a++) {
        abortedTransactions.push({
          producerId: Number(body.readBigInt64BE(at)),
          firstOffset: Number(body.readBigInt64BE(at + 8)),
        });
        at += 16;
      }
      at += 4; // preferred read replica
      const length = body.readInt32BE(at);
      at += 4;
      // A null record set has length -1.
      const records = body.subarray(at, at + Math.max(0, length));
      at += records.byteLength;
      partitions.push({
        topic,
        partition,
        errorCode: partitionError,
        highWatermark,
        lastStableOffset,
        abortedTransactions,
        records,
      });
    }
  }
  return { errorCode, partitions };
}

/** The ApiVersions v0 response: the version range the broker answers for `apiKey`. */
export function supportedVersions(
  body: Buffer,
  apiKey: number,
): { min: number; max: number } | undefined {
  const count = body.readInt32BE(2);
  for (let i = 0, at = 6; i < count; i++, at += 6) {
    if (body.readInt16BE(at) === apiKey) {
      return { min: body.readInt16BE(at + 2), max: body.readInt16BE(at + 4) };
    }
  }
  return undefined;
}
