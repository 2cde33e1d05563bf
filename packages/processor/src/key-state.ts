import type { Codec } from "@toka/codec";
import type { OutgoingRecord } from "./client/kafka-client.js";
import { messageId } from "./context.js";
import { DEDUP_HEADER, encodeDedup, type KeyDedup } from "./dedup-record.js";
import { decodeTableEntry, encodeTableEntry } from "./table-entry.js";
import { ID_HEADER } from "./topic-names.js";

/**
 * The value of one key while its partition processes: read once from local storage,
 * changed in memory by the batches, written once per flush (one table record, one local
 * entry).
 */
export interface KeyState {
  value: unknown;
  /** `value` encoded with the table's codec; undefined once changed, until written. */
  encoded: Uint8Array | undefined;
  dedup: KeyDedup | undefined;
  /** Changed since the last flush: written to the table and to storage. */
  dirty: boolean;
  /**
   * The last message that changed it, for the table record's `toka-id`: where it was
   * read and its explicit ID (the ID is derived at the flush, not per message).
   */
  lastTopic: string | undefined;
  lastOffset: string | undefined;
  lastExplicitId: string | undefined;
  /** The trace context of that message, for the table record's headers. */
  lastTrace: Readonly<Record<string, string>> | undefined;
  /** `dedup` encoded for the table record's header, reused as is for local storage. */
  dedupRecord: Uint8Array | undefined;
}

/**
 * A key's state from its local storage entry (or none). The value is decoded with the
 * table's codec, which throws for bytes it cannot read; the dedup state is decoded afresh,
 * since a batch changes it in place.
 */
export function storedKeyState(stored: Uint8Array | undefined, codec: Codec<unknown>): KeyState {
  const entry = stored ? decodeTableEntry(stored) : undefined;
  return {
    value: entry?.value ? codec.decode(entry.value) : undefined,
    encoded: entry?.value,
    dedup: entry?.dedup,
    dirty: false,
    lastTopic: undefined,
    lastOffset: undefined,
    lastExplicitId: undefined,
    lastTrace: undefined,
    dedupRecord: undefined,
  };
}

/**
 * The table record of a changed key (the table is compacted: the last value wins), its
 * value encoded now if a callback changed it. Its `toka-id` derives from the last message
 * that changed the key; its dedup header is the key's dedup state, kept encoded for the
 * local entry.
 */
export function keyTableRecord(
  key: string,
  state: KeyState,
  codec: Codec<unknown>,
  table: string,
  partition: number,
): OutgoingRecord {
  if (state.value !== undefined && state.encoded === undefined)
    state.encoded = codec.encode(state.value);
  const headers: Record<string, string | Uint8Array> = {};
  if (state.lastTrace) Object.assign(headers, state.lastTrace);
  if (state.lastTopic !== undefined && state.lastOffset !== undefined)
    headers[ID_HEADER] =
      `${state.lastExplicitId ?? messageId(state.lastTopic, partition, state.lastOffset)}:table`;
  if (state.dedup) {
    state.dedupRecord = encodeDedup(state.dedup);
    headers[DEDUP_HEADER] = state.dedupRecord;
  }
  return { topic: table, partition, key, value: state.encoded ?? null, headers };
}

/**
 * A written key's local storage entry, or undefined when the key is gone: deleted, and
 * with no dedup state to keep.
 */
export function keyStorageEntry(state: KeyState): Uint8Array | undefined {
  if (state.encoded === undefined && !state.dedup) return undefined;
  return encodeTableEntry(
    state.encoded,
    state.dedup && (state.dedupRecord ?? encodeDedup(state.dedup)),
  );
}
