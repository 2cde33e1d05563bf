import type { Codec } from "@toka/codec";
import {
  type SessionWindows,
  type SlidingWindows,
  type TimeWindows,
  WindowKind,
} from "./windows.js";

/** When a windowed aggregate sends its results to its output. */
export const EmitMode = {
  /** After every message that changed a window: the window's value so far. */
  Update: "update",
  /** Once per window, when it closes (its end plus grace passed in stream time). */
  Final: "final",
} as const;
export type EmitMode = (typeof EmitMode)[keyof typeof EmitMode];

/** What a windowed aggregate emits for one window (its output's value type). */
export interface WindowResult<A> {
  /** The record key the window belongs to. */
  readonly key: string;
  /** The window's first millisecond. */
  readonly start: number;
  /** The millisecond after its last one: windows are `[start, end)`. */
  readonly end: number;
  readonly value: A;
  /** Whether the window is closed: always true in `final` mode. */
  readonly final: boolean;
}

/** Options of {@link windowed}. */
export interface WindowedOptions<A> {
  /** The value of a window before its first message. */
  readonly initial: () => A;
  /**
   * Session windows only: the value of two sessions a message joins into one, as Kafka
   * Streams' session merger. Required for sessions.
   */
  readonly merge?: (earlier: A, later: A) => A;
  /** Default `final`: one result per window, when it closes. */
  readonly emit?: EmitMode;
  /**
   * The declared output topic the results go to, keyed by the record key, its codec a
   * `Codec<WindowResult<A>>`. Without it, windows are only kept for queries.
   */
  readonly output?: string;
}

/**
 * A windowed aggregate of a group (declared with {@link windowed}): per record key and
 * window, one value of type `A` that callbacks fold messages into with `ctx.aggregate`.
 */
export interface WindowedAggregate<N extends string = string, A = unknown> {
  readonly kind: "windowed";
  readonly name: N;
  readonly windows: TimeWindows | SlidingWindows | SessionWindows;
  readonly codec: Codec<A>;
  readonly initial: () => A;
  readonly merge: ((earlier: A, later: A) => A) | undefined;
  readonly emit: EmitMode;
  readonly output: string | undefined;
}

/**
 * Declares a windowed aggregate: `ctx.aggregate(name, (value, window) => next)` folds the
 * message into every window of its key that holds the message's event time (tumbling,
 * hopping, and sliding windows, which it also creates as Kafka Streams does: one ending at
 * each record, one starting just after it once a later record falls there) or into its
 * key's session (merging the sessions it bridges). Its windows live
 * in the compacted topic `<group>-<name>-windows` and local storage, kept for
 * `windows.retentionMs`; a message for windows that are all closed is late and goes to
 * the dead-letter topic with code `TOKA_LATE_RECORD`.
 */
export function windowed<const N extends string, A>(
  name: N,
  windows: TimeWindows | SlidingWindows | SessionWindows,
  codec: Codec<A>,
  options: WindowedOptions<A>,
): WindowedAggregate<N, A> {
  return Object.freeze({
    kind: "windowed",
    name,
    windows,
    codec,
    initial: options.initial,
    merge: options.merge,
    emit: options.emit ?? EmitMode.Final,
    output: options.output,
  });
}

/** Any windowed aggregate, whatever its value type: what a group's `windows` list holds. */
// biome-ignore lint/suspicious/noExplicitAny: each aggregate has its own value type
export type AnyWindowedAggregate = WindowedAggregate<string, any>;

/** What {@link checkWindowed} reports to: throws with the group's name. */
type Fail = (what: string) => never;

const AGGREGATE_NAME = /^[a-zA-Z0-9._-]{1,100}$/;

/** Validates one aggregate of a group's graph; see `defineGroup`. */
export function checkWindowed(
  aggregate: WindowedAggregate,
  outputs: ReadonlySet<string>,
  fail: Fail,
): void {
  const { name, windows } = aggregate;
  if (aggregate.kind !== "windowed") fail(`windows: "${String(name)}" is not built by windowed()`);
  if (!AGGREGATE_NAME.test(name)) {
    fail(`windowed aggregate "${name}": the name must be 1-100 characters of a-z A-Z 0-9 . _ -`);
  }
  const kinds: string[] = Object.values(WindowKind);
  if (!kinds.includes(windows?.kind)) {
    fail(
      `windowed aggregate "${name}": windows must be tumbling(), hopping(), sliding() or session(), got ${String(windows?.kind)}`,
    );
  }
  if (typeof aggregate.initial !== "function") {
    fail(`windowed aggregate "${name}": "initial" must be a function returning the empty value`);
  }
  if (windows.kind === WindowKind.Session && typeof aggregate.merge !== "function") {
    fail(
      `windowed aggregate "${name}": session windows need "merge" (earlier, later) => value, for sessions a message joins`,
    );
  }
  if (aggregate.emit !== EmitMode.Final && aggregate.emit !== EmitMode.Update) {
    fail(`windowed aggregate "${name}": emit must be "final" or "update"`);
  }
  if (aggregate.output !== undefined && !outputs.has(aggregate.output)) {
    fail(
      `windowed aggregate "${name}": its output "${aggregate.output}" is not declared; add output("${aggregate.output}", codec) to the group's outputs`,
    );
  }
}
