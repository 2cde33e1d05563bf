import { type Storage, WindowStore, windowTableStorage } from "@toka/state-store";
import type { AnyWindowedAggregate } from "./windowed-aggregate.js";
import { WindowKind } from "./windows.js";

/**
 * The local layout of a windowed table or of the timers table: a `WindowStore` (key and
 * window start encoded, an index by end) under the storage a `PartitionTable` writes. The
 * owner's flushes, a restore and a standby that follows the table all keep this layout, so
 * that a promoted standby's storage is the owner's.
 */
export function windowedTableStorage(
  raw: Storage,
  { endsChange = false }: { endsChange?: boolean } = {},
): { store: WindowStore; storage: Storage } {
  const store = new WindowStore(raw);
  return { store, storage: windowTableStorage(store, { endsChange }) };
}

/** Whether a window's end moves as records arrive (sessions merge and grow). */
export function windowEndsChange(definition: AnyWindowedAggregate): boolean {
  return definition.windows.kind === WindowKind.Session;
}
