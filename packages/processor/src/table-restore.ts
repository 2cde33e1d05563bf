import type { KafkaClient, LogRecord } from "./client/kafka-client.js";
import type { Logger } from "./logger.js";
import { keyText, warnInvalidTableKey } from "./record-key.js";
import { compareOffsets } from "./table-entry.js";
import type { TableValueFormat } from "./table-value-format.js";

/** Bytes fetched per request while restoring: large, since a restore reads a backlog. */
export const RESTORE_FETCH_BYTES = 4 * 1024 * 1024;

/**
 * Table records coalesced into one local write: a key written many times in the backlog
 * is stored once per write, and a write's fixed cost (LevelDB's batch, the checkpoint) is
 * paid once per this many records rather than once per fetch.
 */
export const RESTORE_WRITE_RECORDS = 50_000;

/** What a restore writes at once: the keys' latest entries and the table offset after them. */
export interface RestoredChunk {
  readonly puts: Map<string, Uint8Array>;
  readonly deletes: Set<string>;
  /** The table offset after these records (past transaction markers too). */
  readonly nextOffset: string;
  /** Table records read for this chunk. */
  readonly records: number;
}

export interface TableRestore {
  readonly client: KafkaClient;
  readonly topic: string;
  readonly partition: number;
  /** The table offset local storage holds everything before. */
  readonly from: string;
  /** Where the restore ends: the partition's high watermark when it started. */
  readonly to: string;
  /** How a record is stored: the table's bytes, or an entry with its dedup state. */
  readonly format: TableValueFormat;
  /** The group the local copy belongs to, for log lines; none for a view. */
  readonly group: string | undefined;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Writes one chunk to local storage, atomically with its offset. */
  readonly write: (chunk: RestoredChunk) => Promise<void>;
}

/**
 * Restores a partition of a table from its topic into local storage: toka's log
 * reader reads `[from, to)` committed records (read_committed: aborted transactions of a
 * previous owner are skipped), keys stay undecoded bytes until they are stored, and
 * records are coalesced per key into writes of {@link RESTORE_WRITE_RECORDS}.
 */
export async function restoreTable(restore: TableRestore): Promise<void> {
  const { topic, partition, from, to } = restore;
  if (compareOffsets(from, to) >= 0) return;
  let chunk = emptyChunk(from);
  let written = from;
  const flush = async () => {
    if (chunk.nextOffset === written) return;
    const full = chunk;
    chunk = emptyChunk(full.nextOffset);
    await restore.write(full);
    written = full.nextOffset;
  };
  await restore.client.readLog(
    {
      topic,
      ranges: [{ partition, start: from, end: to }],
      readCommitted: true,
      maxBytesPerPartition: RESTORE_FETCH_BYTES,
      signal: restore.signal,
    },
    async (batch) => {
      for (const record of batch.records) apply(chunk, record, restore);
      chunk.nextOffset = batch.nextOffset;
      chunk.records += batch.records.length;
      if (chunk.records >= RESTORE_WRITE_RECORDS) await flush();
    },
  );
  // The whole range was read: what lies after the last record are transaction markers,
  // which a reader through a consumer cannot report in a batch.
  chunk.nextOffset = to;
  await flush();
}

type PendingChunk = { -readonly [K in keyof RestoredChunk]: RestoredChunk[K] };

function emptyChunk(nextOffset: string): PendingChunk {
  return { puts: new Map(), deletes: new Set(), nextOffset, records: 0 };
}

/** One table record into the chunk: its key's latest stored bytes, or its deletion. */
function apply(chunk: PendingChunk, record: LogRecord, restore: TableRestore) {
  const key = keyText(record.key);
  if (key === undefined) {
    warnInvalidTableKey(restore.logger, record, restore.group);
    return;
  }
  const stored = restore.format.stored(record);
  if (stored === undefined) {
    chunk.puts.delete(key);
    chunk.deletes.add(key);
  } else {
    chunk.deletes.delete(key);
    chunk.puts.set(key, stored);
  }
}
