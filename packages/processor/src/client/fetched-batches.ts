import kafkajs, { type CompressionTypes } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { AbortedTransaction, FetchedPartition } from "./fetch-request.js";
import {
  type BatchRecord,
  isAbortMarker,
  type RecordBatchHeader,
  readBatchHeaders,
  readRecords,
} from "./record-batch.js";

/** The record batches of a fetched partition to read, and the position past them. */
export interface KeptBatches {
  readonly batches: RecordBatchHeader[];
  /** Past every batch looked at, control and aborted ones included (at most `end`). */
  readonly nextOffset: number;
}

/**
 * The batches of a fetched partition to read from `position` on: control batches and
 * (read_committed) batches of aborted transactions are skipped, as the Java consumer
 * does, and so are batches at or past `end`.
 */
export function keptBatches(
  partition: FetchedPartition,
  position: number,
  end: number,
  readCommitted: boolean,
): KeptBatches {
  const aborted = [...partition.abortedTransactions].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedProducers = new Set<number>();
  const batches: RecordBatchHeader[] = [];
  let nextOffset = position;
  for (const batch of readBatchHeaders(partition.records)) {
    if (batch.nextOffset <= nextOffset) continue;
    if (readCommitted && batch.producerId >= 0) {
      takeAbortedUpTo(aborted, batch.nextOffset - 1, abortedProducers);
      if (batch.control) {
        if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
      } else if (batch.transactional && abortedProducers.has(batch.producerId)) {
        nextOffset = Math.min(batch.nextOffset, end);
        continue;
      }
    }
    if (!batch.control) batches.push(batch);
    nextOffset = Math.min(batch.nextOffset, end);
    if (nextOffset >= end) break;
  }
  return { batches, nextOffset };
}

/** Moves the aborted transactions starting at or before `offset` into `producers`. */
function takeAbortedUpTo(
  aborted: AbortedTransaction[],
  offset: number,
  producers: Set<number>,
): void {
  while (aborted.length > 0 && aborted[0]!.firstOffset <= offset) {
    producers.add(aborted.shift()!.producerId);
  }
}

/**
 * Appends the records of `batch` in `[from, to)` to `out`: at once for an uncompressed
 * batch (no promise to wait for on the hot path), after decompression otherwise.
 */
export function readBatch(
  topic: string,
  partition: number,
  batch: RecordBatchHeader,
  from: number,
  to: number,
  out: BatchRecord[],
): Promise<void> | undefined {
  if (batch.compression === 0) {
    readRecords(topic, partition, batch, batch.records, from, to, out);
    return undefined;
  }
  return decompressRecords(batch, topic, partition).then((bytes) =>
    readRecords(topic, partition, batch, bytes, from, to, out),
  );
}

/** The records of a compressed batch, uncompressed with kafkajs's codecs. */
export async function decompressRecords(
  batch: RecordBatchHeader,
  topic: string,
  partition: number,
): Promise<Uint8Array> {
  if (batch.compression === 0) return batch.records;
  const name = ["none", "gzip", "snappy", "lz4", "zstd"][batch.compression] ?? "unknown";
  // Kafka's attribute values are kafkajs's CompressionTypes (GZIP 1 ... ZSTD 4). A
  // default import: kafkajs is CommonJS and Node does not see this named export.
  const codec = kafkajs.CompressionCodecs[batch.compression as Exclude<CompressionTypes, 0>] as
    | (() => { decompress(bytes: Buffer): Promise<Buffer> })
    | undefined;
  if (!codec) {
    throw new TokaError(
      TokaErrorCode.KafkaFailed,
      `the batch at offset ${batch.baseOffset} is ${name}-compressed and kafkajs has no ${name} codec; register one (kafkajs CompressionCodecs) as for any kafkajs consumer`,
      { topic, partition, offset: String(batch.baseOffset) },
    );
  }
  return codec().decompress(Buffer.from(batch.records)) as Promise<Buffer>;
}
