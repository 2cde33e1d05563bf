import type { Codec } from "@toka/codec";
import {
  defineGroup,
  type GroupGraph,
  output,
  persist,
  TokaError,
  TokaErrorCode,
} from "@toka/processor";
import { type EventLogOptions, eventLog } from "./event-log.js";
import type { Fold } from "./fold.js";
import { EventHeader } from "./headers.js";
import {
  isRejection,
  type Rejection,
  RejectionCode,
  type RejectionRecord,
  reject,
  rejectionCodec,
} from "./rejection.js";
import { type AggregateSnapshot, snapshotCodec } from "./snapshot-codec.js";
import { commandsTopic, eventsTopic, rejectionsTopic } from "./topic-names.js";

/** What `decide` knows besides the command and the state. */
export interface DecideContext {
  /** The aggregate ID (the command's key). */
  readonly id: string;
  /** The aggregate's version: events applied so far, 0 for one that has none. */
  readonly version: number;
  /** The command's message ID (`toka-id`). */
  readonly commandId: string;
  /** The command's Kafka timestamp (ms). Use it rather than the clock: decide must be deterministic. */
  readonly timestamp: number;
}

/** What {@link defineAggregate} takes. */
export interface AggregateDefinition<C, E, S> {
  /** The aggregate type's name: its group and the prefix of its topics, e.g. `account`. */
  readonly name: string;
  /** Codec of the commands topic. */
  readonly commands: Codec<C>;
  /** Codec of the event log. */
  readonly events: Codec<E>;
  /** Codec of the state in the aggregate's table. */
  readonly state: Codec<S>;
  /** The state before the first event. */
  readonly initialState: () => S;
  /**
   * Decides what a command does: the events to append (may be none) or a rejection
   * ({@link reject}). Must be deterministic: a command processed again after a crash
   * must decide the same. A throw is a failure handled by the error policy, not a rejection.
   */
  readonly decide: (command: C, state: S, context: DecideContext) => readonly E[] | Rejection;
  /** Applies an event to the state; pure. */
  readonly evolve: (state: S, event: E) => S;
  /**
   * The version a command expects, when commands carry it in their body. The
   * `toka-expected-version` header (see `CommandSender`) takes precedence.
   */
  readonly expectedVersion?: (command: C) => number | undefined;
  /** Topic names. Defaults: `<name>-commands`, `<name>-events`, `<name>-rejections`. */
  readonly topics?: {
    readonly commands?: string;
    readonly events?: string;
    readonly rejections?: string;
  };
  /** Event type, schema version and upcasting of the event log; see {@link EventLogOptions}. */
  readonly eventLog?: EventLogOptions<E>;
}

/** A defined aggregate: its topics, its group graph and its fold. */
export interface Aggregate<C, E, S> extends Fold<AggregateSnapshot<S>, E> {
  readonly kind: "aggregate";
  readonly definition: AggregateDefinition<C, E, S>;
  readonly commandsTopic: string;
  readonly eventsTopic: string;
  readonly rejectionsTopic: string;
  /** `<name>-table`: the snapshots (state and version) per aggregate ID. */
  readonly tableTopic: string;
  readonly commands: Codec<C>;
  /** The group run by a `Processor` (see `startAggregate`). */
  readonly graph: GroupGraph<AggregateSnapshot<S>>;
}

/**
 * Defines an aggregate: a group that consumes commands, decides events, appends them
 * to its event log and keeps each aggregate's state (and version) in its table.
 *
 * Per command (key = aggregate ID): the current snapshot (or version 0 with
 * `initialState()`); if the command expects a version (header `toka-expected-version`
 * or `expectedVersion(command)`) other than the current one, it is rejected with code
 * `version-conflict`; else `decide` runs. Events are emitted to the event log with IDs
 * derived from the command's ID and the headers `toka-event-type`,
 * `toka-aggregate-version`, `toka-event-version`, `toka-command-id` and
 * `toka-command-events`, and folded with `evolve` into the new snapshot. A rejection is
 * written to the rejections topic as a `RejectionRecord`.
 *
 * @throws TokaError `TOKA_INVALID_CONFIG` for invalid names (see `defineGroup`).
 */
export function defineAggregate<C, E, S>(
  definition: AggregateDefinition<C, E, S>,
): Aggregate<C, E, S> {
  const { name, decide, evolve, initialState } = definition;
  const topics = {
    commands: definition.topics?.commands ?? commandsTopic(name),
    events: definition.topics?.events ?? eventsTopic(name),
    rejections: definition.topics?.rejections ?? rejectionsTopic(name),
  };
  if (new Set(Object.values(topics)).size !== 3) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `aggregate "${name}": the commands, events and rejections topics must differ`,
      { group: name },
    );
  }
  const log = eventLog(topics.events, definition.events, definition.eventLog);
  const snapshots = snapshotCodec(definition.state);
  const schemaVersion = String(log.schemaVersion);

  const graph = defineGroup(name, {
    persist: persist(snapshots),
    outputs: [output(topics.events, definition.events), output(topics.rejections, rejectionCodec)],
    inputs: ({ input }) => [
      input(topics.commands, definition.commands, (ctx, command) => {
        const current = ctx.value() ?? { version: 0, state: initialState() };
        const expected =
          expectedVersionOf(ctx.headers[EventHeader.ExpectedVersion]) ??
          definition.expectedVersion?.(command);
        const rejectWith = (rejection: Rejection) => {
          const record: RejectionRecord = {
            commandId: ctx.id,
            reason: rejection.reason,
            code: rejection.code,
            version: current.version,
            ...(expected === undefined || Number.isNaN(expected)
              ? {}
              : { expectedVersion: expected }),
          };
          // biome-ignore lint/suspicious/noExplicitAny: the outputs are keyed by runtime names
          (ctx.emit as any)(topics.rejections, ctx.key, record, {
            headers: { [EventHeader.CommandId]: ctx.id },
          });
        };
        if (expected !== undefined && expected !== current.version) {
          rejectWith(
            reject(
              Number.isNaN(expected)
                ? `the expected version "${ctx.headers[EventHeader.ExpectedVersion]}" is not a non-negative integer`
                : `expected version ${expected}, but the aggregate is at version ${current.version}`,
              RejectionCode.VersionConflict,
            ),
          );
          return;
        }
        const decided = decide(command, current.state, {
          id: ctx.key,
          version: current.version,
          commandId: ctx.id,
          timestamp: ctx.timestamp,
        });
        if (isRejection(decided)) {
          rejectWith(decided);
          return;
        }
        if (decided.length === 0) return;
        let { state, version } = current;
        const count = String(decided.length);
        for (const event of decided) {
          state = evolve(state, event);
          version += 1;
          // biome-ignore lint/suspicious/noExplicitAny: the outputs are keyed by runtime names
          (ctx.emit as any)(topics.events, ctx.key, event, {
            headers: {
              [EventHeader.Type]: log.eventType(event),
              [EventHeader.AggregateVersion]: String(version),
              [EventHeader.SchemaVersion]: schemaVersion,
              [EventHeader.CommandId]: ctx.id,
              [EventHeader.CommandEvents]: count,
            },
          });
        }
        ctx.setValue({ version, state });
      }),
    ],
  });

  return {
    kind: "aggregate",
    name,
    definition,
    commandsTopic: topics.commands,
    eventsTopic: topics.events,
    rejectionsTopic: topics.rejections,
    tableTopic: graph.tableTopic,
    commands: definition.commands,
    log,
    table: snapshots,
    graph: graph as GroupGraph<AggregateSnapshot<S>>,
    step(current, event) {
      const base = current ?? { version: 0, state: initialState() };
      return { version: base.version + 1, state: evolve(base.state, event) };
    },
  };
}

/** `undefined` without a header, `NaN` for one that is not a non-negative integer. */
function expectedVersionOf(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  return /^\d{1,15}$/.test(header) ? Number(header) : Number.NaN;
}
