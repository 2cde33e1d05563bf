import type { Codec } from "@toka/codec";
import type { IncomingRecord } from "./client/kafka-client.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import { ORIGIN_HEADER, originHeader } from "./record-origin.js";
import { ID_HEADER } from "./topic-names.js";
import { withTraceContext } from "./trace-context.js";
import type { TimeWindow } from "./windows.js";

/** Which clock a timer follows. */
export const TimerClock = {
  /** The partition's stream time: fires once a message moves it to the timer's time. */
  Stream: "stream",
  /** The wall clock: fires once the time has come, whether messages arrive or not. */
  Wall: "wall",
} as const;
export type TimerClock = (typeof TimerClock)[keyof typeof TimerClock];

/** Options of `ctx.schedule`. */
export interface ScheduleOptions {
  /** Default `stream`. */
  readonly clock?: TimerClock;
}

/** A timer as its callback gets it. */
export interface FiredTimer {
  readonly name: string;
  /** The time it was scheduled for, milliseconds since the epoch, on its clock. */
  readonly at: number;
  readonly clock: TimerClock;
}

/** A `ctx.schedule` or `ctx.cancel` call, applied once the callback returned. */
export type TimerChange =
  | {
      readonly kind: "schedule";
      readonly name: string;
      readonly at: number;
      readonly clock: TimerClock;
    }
  | { readonly kind: "cancel"; readonly name: string };

/** Options of `ctx.emit`. */
export interface EmitOptions {
  /** Extra headers; `toka-id` is set by toka. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * What a callback sees of one message and may do with it (**contract**). `P` is the
 * table type, `OM` the declared outputs, `L` the loop type, `JM`/`LM` the joined and
 * looked-up tables, `WM` the windowed aggregates. Effects (table change, emits,
 * loopbacks, aggregates) take effect only if the callback returns without throwing.
 */
export interface Context<P, OM, L, JM, LM, WM = Record<string, unknown>> {
  /** The message key (the table key). */
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset, a decimal string (int64). */
  readonly offset: string;
  /** Kafka timestamp in milliseconds since the epoch. */
  readonly timestamp: number;
  /**
   * The message's event time in milliseconds since the epoch: its input's `eventTime`
   * extractor's answer, else its Kafka timestamp.
   */
  readonly eventTime: number;
  /**
   * The partition's stream time: the highest event time of the messages its callbacks
   * have been given, this one included. It never goes back, and a restart or a new owner
   * of the partition continues from it.
   */
  readonly streamTime: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The message ID: its `toka-id` header, or `<topic>/<partition>/<offset>`. */
  readonly id: string;
  /** The table value of `key`, including changes made earlier in this batch. */
  value(): P | undefined;
  /** Sets the table value of `key`. @throws TokaError if the group has no table. */
  setValue(value: P): void;
  /** Deletes `key` from the table. @throws TokaError if the group has no table. */
  delete(): void;
  /**
   * Emits to a declared output. The message's ID is derived from this message's ID
   * (`<id>:<n>`), so a reprocessed input re-emits the same IDs.
   * @throws CodecError if the value does not encode.
   */
  emit<T extends keyof OM & string>(
    topic: T,
    key: string,
    value: OM[T],
    options?: EmitOptions,
  ): void;
  /** Sends a message to this group's loop topic, re-keyed to `key`. */
  loopback(key: string, value: L): void;
  /** The co-partitioned table's value for `ctx.key`. */
  join<T extends keyof JM & string>(table: T): JM[T] | undefined;
  /** Any table's value for `key`, read through a view kept by the processor. */
  lookup<T extends keyof LM & string>(table: T, key: string): Promise<LM[T] | undefined>;
  /**
   * Folds this message into the windows of the windowed aggregate `name` that hold its
   * event time: `update` gets each window's value so far (`initial()` for a new one) and
   * returns the next. Windows already closed are left as they are; a message whose
   * windows are all closed is late (dead-lettered with `TOKA_LATE_RECORD`).
   * @throws TokaError `TOKA_CONTEXT_MISUSE` for an undeclared aggregate.
   */
  aggregate<T extends keyof WM & string>(
    name: T,
    update: (value: WM[T], window: TimeWindow) => WM[T],
  ): void;
  /**
   * Schedules the timer `name` of this key for time `at` (milliseconds since the epoch)
   * on `options.clock` (default the stream time); the group's timer callback gets it
   * then, once. Scheduling a name again moves it; timers are kept with the state and
   * move with the partition.
   * @throws TokaError `TOKA_CONTEXT_MISUSE` in a group without a timer callback.
   */
  schedule(name: string, at: number, options?: ScheduleOptions): void;
  /** Cancels the timer `name` of this key, on both clocks; nothing when there is none. */
  cancel(name: string): void;
  /** Fails this message: handled by the group's error policy. */
  fail(error: unknown): never;
}

/** A `ctx.aggregate` call, applied once the callback returned. */
export interface AggregateCall {
  readonly name: string;
  readonly update: (value: unknown, window: TimeWindow) => unknown;
}

/** A record a callback produced, encoded, ready to send. */
export interface PendingRecord {
  readonly topic: string;
  readonly key: string;
  readonly value: Uint8Array;
  readonly headers: Record<string, string>;
}

/** The ID of a message without a `toka-id` header. */
export function messageId(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}

/** A context's records until it produces one: most messages produce none. */
const NO_RECORDS: readonly PendingRecord[] = Object.freeze([]);

/** The change a callback made to its key's table value. */
export type TableChange<P> =
  | { readonly kind: "set"; readonly value: P }
  | { readonly kind: "delete" };

/** What the context needs from the partition processing it. */
export interface ContextHost<P> {
  readonly group: string;
  readonly hasTable: boolean;
  readonly outputs: ReadonlyMap<string, Codec<unknown>>;
  readonly loop: { readonly topic: string; readonly codec: Codec<unknown> } | undefined;
  /** The names of the group's windowed aggregates. */
  readonly aggregates: ReadonlySet<string>;
  /** Whether the group has a timer callback: `schedule` needs one. */
  readonly hasTimers: boolean;
  /** Whether emitted records carry the trace context (see `tracingInstalled`). */
  readonly traced: boolean;
  /** The current value of the key (batch overlay first, then storage). */
  currentValue(key: string): P | undefined;
  join(table: string, key: string): unknown;
  lookup(table: string, key: string): Promise<unknown>;
}

/**
 * The context of one message. Collects its effects; the partition processor applies
 * them when the callback returned without error.
 */
export class MessageContext<P>
  implements
    Context<
      P,
      Record<string, unknown>,
      unknown,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>
    >
{
  /** Records to send, in the order the callback produced them. */
  records: readonly PendingRecord[] = NO_RECORDS;
  change: TableChange<P> | undefined;
  /** The `ctx.aggregate` calls, in order; none for most groups. */
  aggregates: AggregateCall[] | undefined;
  /** The `ctx.schedule` and `ctx.cancel` calls, in order. */
  timers: TimerChange[] | undefined;
  /** The trace context the callback ran in, once it returned. */
  traceHeaders: Readonly<Record<string, string>> | undefined;
  private derived = 0;

  /**
   * One per message, so it copies nothing it can read from the record when asked (its
   * headers are decoded only if the callback reads them).
   * @param key the record's key, decoded
   * @param offset the record's offset, read once
   * @param explicitId its `toka-id` header, if it has one
   * @param origin the source its produced records name in their `toka-origin` header
   *   (see `Origin`); none for a timer's firing, whose order is not its input's
   * @param eventTime its event time, extracted once
   * @param streamTime the partition's stream time with this message counted
   */
  constructor(
    private readonly host: ContextHost<P>,
    private readonly record: IncomingRecord,
    readonly key: string,
    readonly offset: string,
    private readonly explicitId: string | undefined,
    private readonly origin: string | undefined,
    readonly eventTime: number,
    readonly streamTime: number,
  ) {}

  get topic(): string {
    return this.record.topic;
  }

  get partition(): number {
    return this.record.partition;
  }

  get timestamp(): number {
    return this.record.timestamp;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.record.headers;
  }

  get id(): string {
    return this.explicitId ?? messageId(this.record.topic, this.record.partition, this.offset);
  }

  value(): P | undefined {
    if (this.change) return this.change.kind === "set" ? this.change.value : undefined;
    return this.host.hasTable ? this.host.currentValue(this.key) : undefined;
  }

  setValue(value: P): void {
    this.requireTable("setValue");
    this.change = { kind: "set", value };
  }

  delete(): void {
    this.requireTable("delete");
    this.change = { kind: "delete" };
  }

  emit(topic: string, key: string, value: unknown, options?: EmitOptions): void {
    const codec = this.host.outputs.get(topic);
    if (!codec) {
      throw this.misuse(
        `emit to "${topic}", which is not a declared output; add output("${topic}", codec) to the group`,
      );
    }
    this.push(topic, key, codec.encode(value), options?.headers);
  }

  loopback(key: string, value: unknown): void {
    const loop = this.host.loop;
    if (!loop) throw this.misuse("loopback without a loop; add `loop: loop(codec)` to the group");
    this.push(loop.topic, key, loop.codec.encode(value), undefined);
  }

  join(table: string): unknown {
    return this.host.join(table, this.key);
  }

  lookup(table: string, key: string): Promise<unknown> {
    return this.host.lookup(table, key);
  }

  aggregate(name: string, update: (value: unknown, window: TimeWindow) => unknown): void {
    if (!this.host.aggregates.has(name)) {
      throw this.misuse(
        `aggregate "${name}", which is not a declared windowed aggregate; add windowed("${name}", windows, codec, options) to the group's windows`,
      );
    }
    if (typeof update !== "function") {
      throw this.misuse(`aggregate "${name}" needs a function (value, window) => next value`);
    }
    if (this.aggregates === undefined) this.aggregates = [];
    this.aggregates.push({ name, update });
  }

  schedule(name: string, at: number, options: ScheduleOptions = {}): void {
    const { clock = TimerClock.Stream } = options;
    if (!this.host.hasTimers) {
      throw this.misuse(
        `schedule("${name}") in a group without a timer callback; add timer((ctx, timer) => ...) to its inputs`,
      );
    }
    if (typeof name !== "string" || name.length === 0 || name.includes("\u0000")) {
      throw this.misuse("a timer name must be a non-empty string without NUL characters");
    }
    if (!Number.isSafeInteger(at) || at < 0) {
      throw this.misuse(`timer "${name}": "at" must be milliseconds since the epoch, got ${at}`);
    }
    if (clock !== TimerClock.Stream && clock !== TimerClock.Wall) {
      throw this.misuse(`timer "${name}": clock must be "stream" or "wall", got ${String(clock)}`);
    }
    this.timerChange({ kind: "schedule", name, at, clock });
  }

  cancel(name: string): void {
    if (!this.host.hasTimers) {
      throw this.misuse(
        `cancel("${name}") in a group without a timer callback; add timer((ctx, timer) => ...) to its inputs`,
      );
    }
    this.timerChange({ kind: "cancel", name });
  }

  fail(error: unknown): never {
    throw error;
  }

  private timerChange(change: TimerChange): void {
    if (this.timers === undefined) this.timers = [];
    this.timers.push(change);
  }

  /** The ID of the `n`-th record this message produces: stable across reprocessing. */
  private nextDerivedId(): string {
    this.derived += 1;
    return `${this.id}:${this.derived}`;
  }

  private push(
    topic: string,
    key: string,
    value: Uint8Array,
    extra: Readonly<Record<string, string>> | undefined,
  ) {
    const id = this.nextDerivedId();
    const headers =
      this.origin === undefined
        ? { ...extra, [ID_HEADER]: id }
        : {
            ...extra,
            [ID_HEADER]: id,
            [ORIGIN_HEADER]: originHeader(this.origin, this.offset, this.derived),
          };
    if (this.records === NO_RECORDS) this.records = [];
    (this.records as PendingRecord[]).push({
      topic,
      key,
      value,
      // Pushed inside the message's span: the record continues its trace.
      headers: this.host.traced ? withTraceContext(headers) : headers,
    });
  }

  private requireTable(operation: string): void {
    if (!this.host.hasTable) {
      throw this.misuse(`${operation} in a group without a table; add persist(codec) to the group`);
    }
  }

  private misuse(message: string): TokaError {
    return new TokaError(TokaErrorCode.ContextMisuse, message, {
      group: this.host.group,
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      key: this.key,
    });
  }
}
