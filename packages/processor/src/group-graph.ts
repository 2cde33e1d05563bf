import type { Codec } from "@toka/codec";
import type { Context, FiredTimer, TimerClock } from "./context.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import {
  deadLetterTopic,
  type GroupName,
  loopTopic,
  type TopicName,
  tableTopic,
  timersTopic,
  windowsTopic,
} from "./topic-names.js";
import {
  type AnyWindowedAggregate,
  checkWindowed,
  type WindowedAggregate,
} from "./windowed-aggregate.js";

// biome-ignore lint/suspicious/noExplicitAny: a context of any group, for storage in edges
export type AnyContext = Context<any, any, any, any, any, any>;

/** A callback: may be async; the messages of a partition are processed one at a time. */
export type Callback<C, M> = (ctx: C, message: M) => void | Promise<void>;

/** Consumes `topic` with `codec` and calls `callback` for each message. */
export interface InputEdge<C = AnyContext, M = unknown> {
  readonly kind: "input";
  readonly topic: TopicName;
  readonly codec: Codec<M>;
  readonly callback: Callback<C, M>;
  /** The message's event time; its Kafka timestamp when absent. */
  readonly eventTime?: EventTimeExtractor<M>;
}

/**
 * A message's event time in milliseconds since the epoch (an integer >= 0), read from the
 * decoded message or its record (`timestamp` is the Kafka timestamp). A message whose
 * extractor throws or answers anything else is handled by the error policy.
 */
export type EventTimeExtractor<M> = (
  message: M,
  record: {
    readonly key: string;
    readonly timestamp: number;
    readonly headers: Readonly<Record<string, string>>;
  },
) => number;

/** Options of an {@link input}. */
export interface InputOptions<M> {
  /** Where a message's event time comes from (default: its Kafka timestamp). */
  readonly eventTime?: EventTimeExtractor<M>;
}

/** Consumes the group's own loop topic (`<group>-loop`). */
export interface LoopEdge<C = AnyContext, M = unknown> {
  readonly kind: "loop";
  readonly callback: Callback<C, M>;
}

/** Calls `callback` for each timer of the group that fires (see `ctx.schedule`). */
export interface TimerEdge<C = AnyContext> {
  readonly kind: "timer";
  readonly callback: Callback<C, FiredTimer>;
}

/** A time-to-live of the group table's entries. */
export interface TableTtl {
  /** How long after its last change a key is deleted. */
  readonly ms: number;
  /** Counted in stream time (default) or on the wall clock. */
  readonly clock?: TimerClock;
}

/** Options of {@link persist}. */
export interface PersistOptions {
  /**
   * Deletes a key once `ttl.ms` passed since its last change (a set or a delete by a
   * callback), on a timer of its own: table entries that expire, kept bounded.
   */
  readonly ttl?: TableTtl;
}

/** Declares the group table's codec: the group keeps one value of this type per key. */
export interface PersistEdge<T> {
  readonly kind: "persist";
  readonly codec: Codec<T>;
  readonly ttl?: TableTtl;
}

/** Declares the codec of the loop topic `<group>-loop`. */
export interface LoopDeclaration<T> {
  readonly kind: "loop-declaration";
  readonly codec: Codec<T>;
}

/** Declares an output topic the callbacks may emit to, with its value codec. */
export interface OutputEdge<N extends string = string, T = unknown> {
  readonly kind: "output";
  readonly topic: N;
  readonly codec: Codec<T>;
}

/** Declares a co-partitioned table read with `ctx.join(table)`. */
export interface JoinEdge<N extends string = string, T = unknown> {
  readonly kind: "join";
  readonly table: N;
  readonly codec: Codec<T>;
}

/** Declares any table read with `await ctx.lookup(table, key)`. */
export interface LookupEdge<N extends string = string, T = unknown> {
  readonly kind: "lookup";
  readonly table: N;
  readonly codec: Codec<T>;
}

/** Maps a tuple of named edges to `{ name: valueType }`. */
export type EdgeMap<E, NameKey extends string> = {
  [X in E extends readonly (infer U)[] ? U : never as X extends Record<
    NameKey,
    infer N extends string
  >
    ? N
    : never]: X extends { codec: Codec<infer T> } ? T : never;
};

/** Maps a tuple of windowed aggregates to `{ name: aggregateType }`. */
export type WindowedMap<W> = {
  [X in W extends readonly (infer U)[] ? U : never as X extends WindowedAggregate<
    infer N extends string,
    infer _A
  >
    ? N
    : never]: X extends WindowedAggregate<infer _N, infer A> ? A : never;
};

/** The context type of a group with these declarations. */
export type GroupContext<P, O, L, J, K, W = []> = Context<
  P,
  EdgeMap<O, "topic">,
  L,
  EdgeMap<J, "table">,
  EdgeMap<K, "table">,
  WindowedMap<W>
>;

/** Edge builders handed to `inputs`, typed with the group's context. */
export interface EdgeBuilders<C, L> {
  /**
   * Consumes `topic`, decoding values with `codec`; `options.eventTime` says where a
   * message's event time comes from.
   */
  input<M>(
    topic: string,
    codec: Codec<M>,
    callback: Callback<C, M>,
    options?: InputOptions<M>,
  ): InputEdge<C, M>;
  /** Consumes the loop topic declared with `loop: loop(codec)`. */
  loop(callback: Callback<C, L>): LoopEdge<C, L>;
  /** Gets the group's timers when they fire (`ctx.schedule(name, at)`). */
  timer(callback: Callback<C, FiredTimer>): TimerEdge<C>;
}

/** What {@link defineGroup} takes. */
export interface GroupDefinition<P, O, L, J, K, W = []> {
  /** The group table's codec; omit for a stateless group (no `<group>-table`). */
  readonly persist?: PersistEdge<P>;
  /** Topics the callbacks may emit to. */
  readonly outputs?: O;
  /** Co-partitioned tables read with `ctx.join`. */
  readonly joins?: J;
  /** Tables read with `ctx.lookup`. */
  readonly lookups?: K;
  /** The codec of `<group>-loop`, when callbacks use `ctx.loopback`. */
  readonly loop?: LoopDeclaration<L>;
  /** Windowed aggregates the callbacks fold messages into with `ctx.aggregate`. */
  readonly windows?: W;
  /** The group's inputs, loop and timer callbacks, built with typed edge builders. */
  readonly inputs: (
    edges: EdgeBuilders<GroupContext<P, O, L, J, K, W>, L>,
  ) => readonly GroupEdge<GroupContext<P, O, L, J, K, W>, L>[];
}

/** What `inputs` returns: inputs (each with its own message type), the loop, the timer. */
export type GroupEdge<C, L> =
  // biome-ignore lint/suspicious/noExplicitAny: each input has its own message type
  InputEdge<C, any> | LoopEdge<C, L> | TimerEdge<C>;

/**
 * A validated group graph: everything a {@link Processor} needs to know about a group.
 * The type parameters carry the table type and the declared outputs for static checks.
 */
export interface GroupGraph<P = unknown, OM = Record<string, unknown>, L = unknown> {
  readonly name: GroupName;
  readonly inputs: readonly InputEdge[];
  readonly loop:
    | { readonly codec: Codec<unknown>; readonly callback: Callback<AnyContext, never> }
    | undefined;
  readonly persist: Codec<P> | undefined;
  /** The table's time-to-live, when it has one. */
  readonly ttl: Required<TableTtl> | undefined;
  /** The timer callback, when the group has one. */
  readonly timer: Callback<AnyContext, FiredTimer> | undefined;
  /** Where the group's timers are kept: with a timer callback or a table TTL. */
  readonly timersTopic: TopicName | undefined;
  readonly outputs: ReadonlyMap<TopicName, Codec<unknown>>;
  readonly joins: ReadonlyMap<TopicName, Codec<unknown>>;
  readonly lookups: ReadonlyMap<TopicName, Codec<unknown>>;
  /** The windowed aggregates by name, and the topics holding their windows. */
  readonly windows: ReadonlyMap<string, WindowedAggregate>;
  readonly windowTopics: ReadonlyMap<string, TopicName>;
  readonly tableTopic: TopicName;
  readonly loopTopic: TopicName;
  readonly deadLetterTopic: TopicName;
  /** Type-level only: the output value types by topic and the loop type. */
  readonly __types?: { outputs: OM; loop: L };
}

/** The table value type of a group graph. */
export type TableValue<G> = G extends GroupGraph<infer P, infer _O, infer _L> ? P : never;

/** Declares the group table's codec. */
export function persist<T>(codec: Codec<T>, options: PersistOptions = {}): PersistEdge<T> {
  return options.ttl ? { kind: "persist", codec, ttl: options.ttl } : { kind: "persist", codec };
}

/** Declares an output topic and the codec of its values. */
export function output<const N extends string, T>(topic: N, codec: Codec<T>): OutputEdge<N, T> {
  return { kind: "output", topic, codec };
}

/** Declares the loop topic's codec (see `EdgeBuilders.loop` for its callback). */
export function loop<T>(codec: Codec<T>): LoopDeclaration<T> {
  return { kind: "loop-declaration", codec };
}

/** Declares a co-partitioned table read with `ctx.join(table)`. */
export function join<const N extends string, T>(table: N, codec: Codec<T>): JoinEdge<N, T> {
  return { kind: "join", table, codec };
}

/** Declares a table read with `await ctx.lookup(table, key)`. */
export function lookup<const N extends string, T>(table: N, codec: Codec<T>): LookupEdge<N, T> {
  return { kind: "lookup", table, codec };
}

/**
 * An input edge outside `defineGroup`, with an explicitly given context type.
 * Inside `defineGroup`, use the typed `input` handed to `inputs`.
 */
export function input<C = AnyContext, M = unknown>(
  topic: string,
  codec: Codec<M>,
  callback: Callback<C, M>,
  options: InputOptions<M> = {},
): InputEdge<C, M> {
  return options.eventTime
    ? { kind: "input", topic, codec, callback, eventTime: options.eventTime }
    : { kind: "input", topic, codec, callback };
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Defines a group: its inputs, table, outputs, loop, joins and lookups, validated as a
 * whole. `ctx.value()` is statically the persisted type; `ctx.emit` accepts only
 * declared outputs with their value type.
 *
 * Rules (each violation throws a `TokaError` `TOKA_INVALID_CONFIG` saying what to change):
 * - the group name and every topic are valid Kafka topic names;
 * - at least one input; no input topic twice;
 * - no input, output, join or lookup is the group's own table, loop or dead-letter topic;
 * - no topic is both an input and an output (that would be a loop: use `loop`);
 * - no output twice, no join or lookup table twice, no table both joined and looked up;
 * - a loop callback needs `loop: loop(codec)` and a declared loop needs its callback;
 * - windowed aggregates have distinct names, tumbling, hopping or session windows (sessions
 *   with a `merge`) and, when they emit, a declared output.
 *
 * @throws TokaError `TOKA_INVALID_CONFIG`.
 */
export function defineGroup<
  P = never,
  const O extends readonly OutputEdge[] = [],
  L = never,
  const J extends readonly JoinEdge[] = [],
  const K extends readonly LookupEdge[] = [],
  const W extends readonly AnyWindowedAggregate[] = [],
>(
  name: string,
  definition: GroupDefinition<P, O, L, J, K, W>,
): GroupGraph<P, EdgeMap<O, "topic">, L> {
  const fail = (what: string): never => {
    throw new TokaError(TokaErrorCode.InvalidConfig, `group "${name}": ${what}`, { group: name });
  };
  if (!TOPIC_NAME.test(name)) {
    fail("the name must be 1-249 characters of a-z, A-Z, 0-9, '.', '_' or '-'");
  }
  const own = new Set([
    tableTopic(name),
    loopTopic(name),
    deadLetterTopic(name),
    timersTopic(name),
  ]);
  const checkTopic = (topic: string, role: string) => {
    if (!TOPIC_NAME.test(topic)) {
      fail(`${role} "${topic}" is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`);
    }
    if (own.has(topic)) {
      fail(`${role} "${topic}" is one of the group's own topics; rename it`);
    }
  };

  const builders: EdgeBuilders<AnyContext, unknown> = {
    input: (topic, codec, callback, options) => input(topic, codec, callback, options),
    loop: (callback) => ({ kind: "loop", callback }),
    timer: (callback) => ({ kind: "timer", callback }),
  };
  const edges = definition.inputs(builders as never);
  const inputs: InputEdge[] = [];
  let loopCallback: Callback<AnyContext, L> | undefined;
  let timerCallback: Callback<AnyContext, FiredTimer> | undefined;
  for (const edge of edges) {
    if (edge.kind === "timer") {
      if (timerCallback) fail("the timer callback is declared twice; keep one");
      if (typeof edge.callback !== "function") fail("the timer callback must be a function");
      timerCallback = edge.callback as Callback<AnyContext, FiredTimer>;
      continue;
    }
    if (edge.kind === "loop") {
      if (loopCallback) fail("the loop callback is declared twice; keep one");
      loopCallback = edge.callback as Callback<AnyContext, L>;
      continue;
    }
    checkTopic(edge.topic, "input");
    if (inputs.some((i) => i.topic === edge.topic)) {
      fail(`input "${edge.topic}" is declared twice; give each topic one callback`);
    }
    if (edge.eventTime !== undefined && typeof edge.eventTime !== "function") {
      fail(`input "${edge.topic}": eventTime must be a function (message, record) => milliseconds`);
    }
    inputs.push(edge as InputEdge);
  }
  if (inputs.length === 0) fail("it needs at least one input topic");
  if (loopCallback && !definition.loop) {
    fail("it has a loop callback but no loop codec; add `loop: loop(codec)`");
  }
  if (definition.loop && !loopCallback) {
    fail("it declares a loop but no loop callback; add `loop((ctx, msg) => ...)` to inputs");
  }

  const outputs = new Map<TopicName, Codec<unknown>>();
  for (const edge of definition.outputs ?? []) {
    checkTopic(edge.topic, "output");
    if (outputs.has(edge.topic)) fail(`output "${edge.topic}" is declared twice`);
    if (inputs.some((i) => i.topic === edge.topic)) {
      fail(`"${edge.topic}" is both an input and an output; use loop() to feed the group itself`);
    }
    outputs.set(edge.topic, edge.codec);
  }
  const tables = (list: readonly (JoinEdge | LookupEdge)[] | undefined, role: string) => {
    const map = new Map<TopicName, Codec<unknown>>();
    for (const edge of list ?? []) {
      checkTopic(edge.table, `${role} table`);
      if (map.has(edge.table)) fail(`${role} table "${edge.table}" is declared twice`);
      map.set(edge.table, edge.codec);
    }
    return map;
  };
  const joins = tables(definition.joins, "join");
  const lookups = tables(definition.lookups, "lookup");
  for (const table of joins.keys()) {
    if (lookups.has(table)) fail(`table "${table}" is both joined and looked up; declare it once`);
  }
  const windows = new Map<string, WindowedAggregate>();
  const windowTopics = new Map<string, TopicName>();
  for (const aggregate of definition.windows ?? []) {
    checkWindowed(aggregate, new Set(outputs.keys()), fail);
    if (windows.has(aggregate.name))
      fail(`windowed aggregate "${aggregate.name}" is declared twice`);
    const topic = windowsTopic(name, aggregate.name);
    if (topic.length > 249)
      fail(`the topic "${topic}" is too long; shorten the group or aggregate name`);
    windows.set(aggregate.name, aggregate);
    windowTopics.set(aggregate.name, topic);
  }

  const ttl = definition.persist?.ttl;
  if (ttl !== undefined) {
    if (!Number.isSafeInteger(ttl.ms) || ttl.ms <= 0) {
      fail(`persist ttl: "ms" must be a positive integer (milliseconds), got ${String(ttl.ms)}`);
    }
    if (ttl.clock !== undefined && ttl.clock !== "stream" && ttl.clock !== "wall") {
      fail(`persist ttl: "clock" must be "stream" or "wall", got ${String(ttl.clock)}`);
    }
  }
  return {
    name,
    inputs,
    loop:
      definition.loop && loopCallback
        ? { codec: definition.loop.codec, callback: loopCallback }
        : undefined,
    persist: definition.persist?.codec,
    ttl: ttl && { ms: ttl.ms, clock: ttl.clock ?? "stream" },
    timer: timerCallback,
    timersTopic: timerCallback || ttl ? timersTopic(name) : undefined,
    outputs,
    joins,
    lookups,
    windows,
    windowTopics,
    tableTopic: tableTopic(name),
    loopTopic: loopTopic(name),
    deadLetterTopic: deadLetterTopic(name),
  };
}
