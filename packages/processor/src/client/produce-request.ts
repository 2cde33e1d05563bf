/**
 * The Produce request (API key 0) in version 7, the last version without flexible
 * encoding (Kafka 4 answers versions 3-12): acks=all, no transaction.
 */
export const PRODUCE_API_KEY = 0;
export const PRODUCE_VERSION = 7;

/** One record batch for one partition. */
export interface PartitionBatch {
  readonly partition: number;
  readonly batch: Buffer;
}

export function encodeProduceRequest(
  topic: string,
  batches: readonly PartitionBatch[],
  timeoutMs: number,
): Buffer {
  const name = Buffer.from(topic);
  const head = Buffer.alloc(2 + 2 + 4 + 4 + 2 + name.byteLength + 4);
  let at = head.writeInt16BE(-1, 0); // transactional ID: none
  at = head.writeInt16BE(-1, at); // acks: all in-sync replicas
  at = head.writeInt32BE(timeoutMs, at);
  at = head.writeInt32BE(1, at); // one topic
  at = head.writeInt16BE(name.byteLength, at);
  at += name.copy(head, at);
  head.writeInt32BE(batches.length, at);
  const parts: Buffer[] = [head];
  for (const { partition, batch } of batches) {
    const prefix = Buffer.alloc(8);
    prefix.writeInt32BE(partition, 0);
    prefix.writeInt32BE(batch.byteLength, 4);
    parts.push(prefix, batch);
  }
  return Buffer.concat(parts);
}

/** Per partition of a Produce v7 response: its error code and the batch's base offset. */
export function decodeProduceResponse(
  body: Buffer,
): { partition: number; errorCode: number; baseOffset: number }[] {
  const out: { partition: number; errorCode: number; baseOffset: number }[] = [];
  let at = 0;
  const topics = body.readInt32BE(at);
  at += 4;
  for (let t = 0; t < topics; t++) {
    at += 2 + body.readInt16BE(at);
    const partitions = body.readInt32BE(at);
    at += 4;
    for (let p = 0; p < partitions; p++) {
      out.push({
        partition: body.readInt32BE(at),
        errorCode: body.readInt16BE(at + 4),
        baseOffset: Number(body.readBigInt64BE(at + 6)),
      });
      at += 4 + 2 + 8 + 8 + 8; // and the log append time and log start offset
    }
  }
  return out;
}
