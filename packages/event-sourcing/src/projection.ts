import { bytesCodec, type Codec } from "@toka/codec";
import { defineGroup, type GroupGraph, persist } from "@toka/processor";
import { type EventLog, type EventMeta, eventMeta } from "./event-log.js";
import type { Fold } from "./fold.js";

/** What {@link defineProjection} takes. */
export interface ProjectionDefinition<E, R> {
  /** The projection's name: its group, so its table is `<name>-table`. */
  readonly name: string;
  /** The event log it reads: an aggregate (its `log`) or an {@link EventLog}. */
  readonly source: EventLog<E> | { readonly log: EventLog<E> };
  /** Codec of the read model's values. */
  readonly state: Codec<R>;
  /**
   * The read model of the event's key after the event; `undefined` deletes it. Must be
   * pure for a replay to equal the live table.
   */
  readonly project: (current: R | undefined, event: E, meta: EventMeta) => R | undefined;
}

/** A defined projection: a fold of an event log into a table, keyed like the log. */
export interface Projection<E, R> extends Fold<R, E> {
  readonly kind: "projection";
  readonly definition: ProjectionDefinition<E, R>;
  /** `<name>-table`. */
  readonly tableTopic: string;
  /** The live group: input the event log, table the read model. */
  readonly graph: GroupGraph<R>;
  /** The same group under another name, e.g. the group that continues a replay. */
  graphFor(group: string): GroupGraph<R>;
}

/**
 * Defines a projection: a group whose input is an event log and whose table is a read
 * model, one value per aggregate ID. Events are read as bytes and decoded with the
 * log's codec and upcaster, so events of old schema versions reach `project` upcast.
 *
 * @throws TokaError `TOKA_INVALID_CONFIG` for invalid names (see `defineGroup`).
 */
export function defineProjection<E, R>(definition: ProjectionDefinition<E, R>): Projection<E, R> {
  const log = "log" in definition.source ? definition.source.log : definition.source;
  const { project } = definition;
  const graphFor = (group: string): GroupGraph<R> =>
    defineGroup(group, {
      persist: persist(definition.state),
      inputs: ({ input }) => [
        input(log.topic, bytesCodec, (ctx, bytes) => {
          const record = {
            topic: ctx.topic,
            partition: ctx.partition,
            offset: ctx.offset,
            key: ctx.key,
            timestamp: ctx.timestamp,
            headers: ctx.headers,
          };
          const current = ctx.value();
          const next = project(current, log.decode(bytes, record), eventMeta(record));
          if (next !== undefined) ctx.setValue(next);
          else if (current !== undefined) ctx.delete();
        }),
      ],
    }) as GroupGraph<R>;
  const graph = graphFor(definition.name);
  return {
    kind: "projection",
    name: definition.name,
    definition,
    log,
    table: definition.state,
    tableTopic: graph.tableTopic,
    graph,
    graphFor,
    step: (current, event, meta) => project(current, event, meta),
  };
}
