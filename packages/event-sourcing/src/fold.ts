import type { Codec } from "@toka/codec";
import type { EventLog, EventMeta } from "./event-log.js";

/**
 * A table as a left fold of an event log, per key: what aggregates and projections have
 * in common, and all that replays, `stateAt` and `history` need of them.
 */
export interface Fold<V, E> {
  /** The name of the live group whose table this fold builds. */
  readonly name: string;
  /** The event log folded. */
  readonly log: EventLog<E>;
  /** The codec of the table's values. */
  readonly table: Codec<V>;
  /**
   * The key's next value after `event`; `undefined` deletes the key. Must be pure
   * (depend on its arguments only) for a replay to equal the live table.
   */
  step(current: V | undefined, event: E, meta: EventMeta): V | undefined;
}
