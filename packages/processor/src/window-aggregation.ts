import type { Codec } from "@toka/codec";
import { type WindowStore, windowKey, windowRecordValue } from "@toka/state-store";
import type { OutgoingRecord } from "./client/kafka-client.js";
import {
  appliedFromOrigin,
  appliedOffset,
  copyDedup,
  emptyDedup,
  type KeyDedup,
  rememberId,
  seenRecently,
  setApplied,
  setAppliedFromOrigin,
} from "./dedup-record.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { Origin } from "./record-origin.js";
import { planSliding, type SlidingStep } from "./sliding-plan.js";
import { compareOffsets } from "./table-entry.js";
import { ID_HEADER } from "./topic-names.js";
import { decodeWindowEntry, encodeWindowEntry } from "./window-entry.js";
import { EmitMode, type WindowedAggregate, type WindowResult } from "./windowed-aggregate.js";
import {
  closesAt,
  isClosed,
  isLate,
  type SlidingWindows,
  sessionFor,
  type TimeWindow,
  WindowKind,
  windowsFor,
} from "./windows.js";

/** One window that may still change, in memory while its partition runs here. */
interface OpenWindow {
  readonly key: string;
  start: number;
  end: number;
  value: unknown;
  /** Under exactly-once: the input offsets applied to this window. */
  dedup: KeyDedup | undefined;
  finalEmitted: boolean;
  /** Sliding windows: the latest event time folded in (see `planSliding`). */
  maxRecord: number | undefined;
}

/** A sliding window in memory: its latest event time is always known. */
type SlidingOpenWindow = OpenWindow & { maxRecord: number };

/** A window written at the next flush: its new state, or its deletion. */
type WindowChange =
  | { readonly kind: "put"; readonly window: OpenWindow }
  | { readonly kind: "delete"; readonly key: string; readonly start: number };

/** Where a message is folded into an aggregate. */
export interface AggregateInput {
  readonly key: string;
  readonly eventTime: number;
  /** The partition's stream time, this message counted. */
  readonly streamTime: number;
  readonly topic: string;
  readonly offset: string;
  /** The message's ID, from which the IDs of its update results derive. */
  readonly id: string;
  /** Its `toka-id` header, which a repeat of it (an upstream retry) carries too. */
  readonly explicitId: string | undefined;
  /** Its `toka-origin` header, when a toka group produced it: a redo's copy carries it too. */
  readonly origin: Origin | undefined;
  /** Its Kafka timestamp: how old an explicit ID is, for the dedup window. */
  readonly timestamp: number;
}

/** What folding a message did. */
export type AggregateOutcome =
  | { readonly kind: "late" }
  /**
   * Already applied: a message delivered again after a crash, or a repeat of one (the
   * same explicit ID) under exactly-once.
   */
  | { readonly kind: "applied-before" }
  /** Ready: `commit` changes the windows and returns the results to emit (`update` mode). */
  | { readonly kind: "ready"; commit(): OutgoingRecord[] };

/** What a {@link WindowAggregation} needs to know of its group and partition. */
export interface WindowAggregationOptions {
  readonly group: string;
  readonly partition: number;
  /** The aggregate's windowed table topic. */
  readonly topic: string;
  readonly exactlyOnce: boolean;
  /** Explicit message IDs remembered per window, and for how long (the `dedup` option). */
  readonly dedupIdsPerKey: number;
  readonly dedupMaxAgeMs: number;
  /** The codec of the aggregate's output, when it has one. */
  readonly outputCodec: Codec<WindowResult<unknown>> | undefined;
}

/**
 * One windowed aggregate in one partition: the windows that can still change are kept in
 * memory (so that callbacks fold synchronously and reads never wait for storage), the
 * changed ones are written to the windowed table topic and the window store at each
 * flush, and closed ones leave memory (emitting their final result in `final` mode).
 * Memory holds the open windows only: keys × windows open at once, whatever the retention.
 */
export class WindowAggregation {
  readonly name: string;
  /** Whether {@link load} read the open windows since the last {@link reset}. */
  loaded = false;
  /** Open windows by record key, by ascending start. */
  private readonly open = new Map<string, OpenWindow[]>();
  private openCount = 0;
  /** No open window closes before this stream time. */
  private nextCloseAt = Number.POSITIVE_INFINITY;
  /** Changed since the last flush, by window key. */
  private readonly changes = new Map<string, WindowChange>();

  constructor(
    readonly definition: WindowedAggregate,
    readonly store: WindowStore,
    private readonly options: WindowAggregationOptions,
  ) {
    this.name = definition.name;
  }

  /** Windows held in memory. */
  get openWindows(): number {
    return this.openCount;
  }

  /** Whether a flush has windows to write. */
  get changed(): boolean {
    return this.changes.size > 0;
  }

  /**
   * Reads the windows that are still open at `streamTime` (and, in `final` mode, closed
   * ones whose result was not emitted yet) from the window store into memory.
   *
   * A window whose final result was emitted is read too while it is open at `streamTime`:
   * the stream time restored with the group table can be earlier than the one at which
   * the windows were last written (a crash between the two writes), and the messages
   * processed again then must find the window with its applied offsets, not start it anew.
   */
  async load(streamTime: number): Promise<void> {
    this.reset();
    const from = streamTime < 0 ? 0 : Math.max(0, streamTime - this.openSpan() + 1);
    for await (const stored of this.store.fetchEnding(from, Number.POSITIVE_INFINITY)) {
      const entry = decodeWindowEntry(stored.value);
      const window: OpenWindow = {
        key: stored.key,
        start: stored.start,
        end: stored.end,
        value: undefined,
        dedup: entry.dedup,
        finalEmitted: entry.finalEmitted,
        maxRecord: entry.maxRecord,
      };
      // Closed sliding windows stay: a later record's new windows copy their aggregates.
      const done = entry.finalEmitted || this.definition.emit === EmitMode.Update;
      if (this.closed(window, streamTime) && done && !this.sliding) continue;
      window.value = this.decode(stored.key, stored.start, entry.aggregate);
      this.insert(window);
    }
    this.loaded = true;
  }

  /** Forgets the windows in memory and the unwritten changes: {@link load} reads them again. */
  reset(): void {
    this.open.clear();
    this.openCount = 0;
    this.nextCloseAt = Number.POSITIVE_INFINITY;
    this.changes.clear();
    this.loaded = false;
  }

  /**
   * Folds a message into its windows with `update`, in two steps: the new values are
   * computed now (nothing changes when `update` throws: the error is the caller's, for
   * the error policy), and stored by the outcome's `commit`, once every aggregate of the
   * message succeeded.
   */
  prepare(
    input: AggregateInput,
    update: (value: unknown, window: TimeWindow) => unknown,
  ): AggregateOutcome {
    const { windows } = this.definition;
    if (windows.kind === WindowKind.Session) return this.prepareSession(input, update);
    if (windows.kind === WindowKind.Sliding) return this.prepareSliding(windows, input, update);
    if (isLate(windows, input.eventTime, input.streamTime)) return { kind: "late" };
    const existing = this.open.get(input.key);
    const targets: { window: OpenWindow | undefined; span: TimeWindow }[] = [];
    for (const span of windowsFor(windows, input.eventTime)) {
      if (isClosed(windows, span, input.streamTime)) continue;
      targets.push({ window: existing?.find((w) => w.start === span.start), span });
    }
    if (targets.some(({ window }) => this.appliedBefore(window, input))) {
      return { kind: "applied-before" };
    }
    // A window whose final result is out is closed, whatever the stream time says.
    const open = targets.filter(({ window }) => !window?.finalEmitted);
    if (open.length < targets.length) targets.splice(0, targets.length, ...open);
    if (targets.length === 0) return { kind: "late" };
    const values = targets.map(({ window, span }) =>
      update(window ? window.value : this.definition.initial(), span),
    );
    const commit = () => {
      const results: OutgoingRecord[] = [];
      targets.forEach(({ window, span }, i) => {
        const target = window ?? this.insert({ key: input.key, ...span, ...this.fresh() });
        target.value = values[i];
        this.touch(target, input, results);
      });
      return results;
    };
    return { kind: "ready", commit };
  }

  /**
   * A session message: late when its own one-millisecond session is closed; otherwise it
   * joins the open sessions of its key within a gap of it (closed ones are final and
   * never reopen: a message after them starts a new session).
   */
  private prepareSession(
    input: AggregateInput,
    update: (value: unknown, window: TimeWindow) => unknown,
  ): AggregateOutcome {
    const windows = this.definition.windows;
    if (windows.kind !== WindowKind.Session) throw new Error("not a session aggregate");
    const own = { start: input.eventTime, end: input.eventTime + 1 };
    if (isClosed(windows, own, input.streamTime)) return { kind: "late" };
    const sessions = this.open.get(input.key) ?? [];
    const { session, absorbed } = sessionFor(windows, sessions, input.eventTime);
    const joined = absorbed.map((span) => sessions.find((s) => s.start === span.start)!);
    if (joined.some((s) => this.appliedBefore(s, input))) return { kind: "applied-before" };
    // A session whose final result is out never changes again (see load).
    if (joined.some((s) => s.finalEmitted)) return { kind: "late" };
    const merge = this.definition.merge!;
    let value = joined.length === 0 ? this.definition.initial() : joined[0]!.value;
    for (const later of joined.slice(1)) value = merge(value, later.value);
    value = update(value, session);
    return { kind: "ready", commit: () => this.storeSession(input, session, joined, value) };
  }

  /** A sliding-window message: the windows it changes and creates, see `planSliding`. */
  private prepareSliding(
    windows: SlidingWindows,
    input: AggregateInput,
    update: (value: unknown, window: TimeWindow) => unknown,
  ): AggregateOutcome {
    if (isLate(windows, input.eventTime, input.streamTime)) return { kind: "late" };
    const keyWindows = (this.open.get(input.key) ?? []) as SlidingOpenWindow[];
    // Any window holding the record, closed ones too (their final may be out while the
    // stream time restored after a crash says open): applied there, applied everywhere.
    const holding = keyWindows.filter(
      (window) => window.start <= input.eventTime && input.eventTime < window.end,
    );
    if (holding.some((window) => this.appliedBefore(window, input))) {
      return { kind: "applied-before" };
    }
    const steps = planSliding(
      windows,
      keyWindows,
      input.eventTime,
      (window) => !window.finalEmitted && !this.closed(window, input.streamTime),
      (start) => !this.closed(this.slidingSpan(start), input.streamTime),
    );
    if (steps.length === 0) return { kind: "late" };
    // Every value first, from the windows as they are: a new window copies its seed
    // before the record changes that seed.
    const values = steps.map((step) => this.slidingValue(step, update));
    const commit = () => {
      const results: OutgoingRecord[] = [];
      steps.forEach((step, i) => {
        const target =
          step.kind === "update"
            ? step.window
            : this.insert({
                key: input.key,
                ...this.slidingSpan(step.start),
                ...this.fresh(),
                dedup: step.seed?.dedup && copyDedup(step.seed.dedup),
              });
        target.value = values[i];
        target.maxRecord =
          step.kind === "update"
            ? Math.max(step.window.maxRecord, input.eventTime)
            : step.maxRecord;
        if (step.kind === "update" || step.fold) this.touch(target, input, results);
        else this.copied(target, input, results);
      });
      return results;
    };
    return { kind: "ready", commit };
  }

  private slidingValue(
    step: SlidingStep<SlidingOpenWindow>,
    update: (value: unknown, window: TimeWindow) => unknown,
  ): unknown {
    if (step.kind === "update") return update(step.window.value, step.window);
    const seed = step.seed ? this.copyValue(step.seed) : this.definition.initial();
    return step.fold ? update(seed, this.slidingSpan(step.start)) : seed;
  }

  /** The sliding window starting at `start`, half-open: `[start, start + difference + 1)`. */
  private slidingSpan(start: number): TimeWindow {
    const { windows } = this.definition;
    const difference = windows.kind === WindowKind.Sliding ? windows.differenceMs : 0;
    return { start, end: start + difference + 1 };
  }

  /**
   * A window's aggregate, through its codec: a new sliding window starts from another's
   * value, which `update` may change in place.
   */
  private copyValue(window: OpenWindow): unknown {
    const { codec } = this.definition;
    return codec.decode(codec.encode(window.value));
  }

  private storeSession(
    input: AggregateInput,
    session: TimeWindow,
    joined: readonly OpenWindow[],
    value: unknown,
  ): OutgoingRecord[] {
    // The first session joined carries on as the merged one; the others are deleted, and
    // so is its own entry when the message moved its start earlier (a new store key).
    const target = joined[0] ?? this.insert({ key: input.key, ...session, ...this.fresh() });
    for (const gone of joined.slice(1)) {
      this.remove(gone);
      target.dedup = mergeDedup(target.dedup, gone.dedup);
      this.deleted(gone);
    }
    if (target.start !== session.start) {
      this.deleted(target);
      target.start = session.start;
      this.open.get(input.key)!.sort((a, b) => a.start - b.start);
    }
    target.end = session.end;
    target.value = value;
    this.nextCloseAt = Math.min(this.nextCloseAt, closesAt(this.definition.windows, target));
    const results: OutgoingRecord[] = [];
    this.touch(target, input, results);
    return results;
  }

  /**
   * The windows that closed by `streamTime` leave memory. In `final` mode each emits its
   * result (returned, ID derived from the window so that a repeat has the same ID) and is
   * written once more, marked emitted.
   */
  close(streamTime: number): OutgoingRecord[] {
    if (streamTime < this.nextCloseAt) return [];
    const results: OutgoingRecord[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [key, windows] of this.open) {
      const kept = windows.filter((window) => {
        if (!this.closed(window, streamTime)) {
          next = Math.min(next, closesAt(this.definition.windows, window));
          return true;
        }
        if (this.definition.emit === EmitMode.Final && !window.finalEmitted) {
          window.finalEmitted = true;
          this.changes.set(windowKey(window.key, window.start), { kind: "put", window });
          const result = this.result(window, true, `${this.windowId(window)}:final`);
          if (result) results.push(result);
        }
        // A closed sliding window stays while a record that is not late could copy it.
        if (!this.sliding || this.forgetsAt(window) <= streamTime) return false;
        next = Math.min(next, this.forgetsAt(window));
        return true;
      });
      this.openCount -= windows.length - kept.length;
      if (kept.length === 0) this.open.delete(key);
      else this.open.set(key, kept);
    }
    this.nextCloseAt = next;
    return results;
  }

  /** The windowed table records of the changed windows, for the flush. */
  records(): OutgoingRecord[] {
    const records: OutgoingRecord[] = [];
    const { topic, partition } = this.options;
    for (const [key, change] of this.changes) {
      const value = change.kind === "put" ? this.storedValue(change.window) : null;
      records.push({ topic, partition, key, value, headers: {} });
    }
    return records;
  }

  /** The changes are written. */
  markWritten(): void {
    this.changes.clear();
  }

  private storedValue(window: OpenWindow): Uint8Array {
    let aggregate: Uint8Array;
    try {
      aggregate = this.definition.codec.encode(window.value);
    } catch (cause) {
      throw this.error(
        TokaErrorCode.ProduceFailed,
        `the value of window [${window.start}, ${window.end}) does not encode with ${this.definition.codec.name}; make the aggregate's update return values its codec takes`,
        window.key,
        cause,
      );
    }
    const entry = encodeWindowEntry({
      aggregate,
      dedup: window.dedup,
      finalEmitted: window.finalEmitted,
      maxRecord: window.maxRecord,
    });
    return windowRecordValue(window.end, entry);
  }

  /** A changed window: dedup, the flush, and in `update` mode its result. */
  private touch(window: OpenWindow, input: AggregateInput, results: OutgoingRecord[]): void {
    if (this.options.exactlyOnce) {
      window.dedup ??= emptyDedup();
      setApplied(window.dedup, input.topic, input.offset);
      if (input.explicitId !== undefined)
        rememberId(window.dedup, input.explicitId, input.timestamp, this.options.dedupIdsPerKey);
      if (input.origin !== undefined) setAppliedFromOrigin(window.dedup, input.topic, input.origin);
    }
    this.changes.set(windowKey(window.key, window.start), { kind: "put", window });
    if (this.definition.emit === EmitMode.Update) {
      const result = this.result(window, false, `${input.id}:${this.name}@${window.start}`);
      if (result) results.push(result);
    }
  }

  private result(window: OpenWindow, final: boolean, id: string): OutgoingRecord | undefined {
    const { output } = this.definition;
    const codec = this.options.outputCodec;
    if (output === undefined || !codec) return undefined;
    const { key, start, end, value } = window;
    return {
      topic: output,
      key,
      value: codec.encode({ key, start, end, value, final }),
      headers: { [ID_HEADER]: id },
    };
  }

  private windowId(window: OpenWindow): string {
    return `${this.options.group}/${this.name}/${window.key}/${window.start}`;
  }

  private appliedBefore(window: OpenWindow | undefined, input: AggregateInput): boolean {
    if (!window?.dedup) return false;
    const applied = appliedOffset(window.dedup, input.topic);
    if (applied !== undefined && compareOffsets(input.offset, applied) <= 0) return true;
    if (input.origin !== undefined && appliedFromOrigin(window.dedup, input.topic, input.origin))
      return true;
    return (
      input.explicitId !== undefined &&
      seenRecently(window.dedup, input.explicitId, input.timestamp, this.options.dedupMaxAgeMs)
    );
  }

  private closed(window: TimeWindow, streamTime: number): boolean {
    return isClosed(this.definition.windows, window, streamTime);
  }

  /**
   * How long a window stays in memory after its end: grace, for sessions the gap, and
   * for sliding windows two differences more (see {@link forgetsAt}).
   */
  private openSpan(): number {
    const { windows } = this.definition;
    if (windows.kind === WindowKind.Session) return windows.graceMs + windows.gapMs;
    if (windows.kind === WindowKind.Sliding) return windows.graceMs + 2 * windows.differenceMs;
    return windows.graceMs;
  }

  private get sliding(): boolean {
    return this.definition.windows.kind === WindowKind.Sliding;
  }

  /**
   * When a closed sliding window leaves memory: a record that is not late is after
   * stream time − difference − grace − 1, and its plan reads the windows starting up to
   * two differences before it, which end after stream time − 2·difference − grace.
   */
  private forgetsAt(window: TimeWindow): number {
    return window.end + this.openSpan();
  }

  private fresh(): Pick<OpenWindow, "value" | "dedup" | "finalEmitted" | "maxRecord"> {
    return { value: undefined, dedup: undefined, finalEmitted: false, maxRecord: undefined };
  }

  /** A new window whose aggregate was copied: written, and a result in `update` mode. */
  private copied(window: OpenWindow, input: AggregateInput, results: OutgoingRecord[]): void {
    this.changes.set(windowKey(window.key, window.start), { kind: "put", window });
    if (this.definition.emit === EmitMode.Update) {
      const result = this.result(window, false, `${input.id}:${this.name}@${window.start}`);
      if (result) results.push(result);
    }
  }

  private insert(window: OpenWindow): OpenWindow {
    const list = this.open.get(window.key);
    if (!list) this.open.set(window.key, [window]);
    else {
      list.push(window);
      list.sort((a, b) => a.start - b.start);
    }
    this.openCount++;
    this.nextCloseAt = Math.min(this.nextCloseAt, closesAt(this.definition.windows, window));
    return window;
  }

  /** The store entry of `window` as it is now goes at the next flush. */
  private deleted(window: OpenWindow): void {
    const { key, start } = window;
    this.changes.set(windowKey(key, start), { kind: "delete", key, start });
  }

  private remove(window: OpenWindow): void {
    const list = this.open.get(window.key);
    if (!list) return;
    const kept = list.filter((w) => w !== window);
    this.openCount -= list.length - kept.length;
    if (kept.length === 0) this.open.delete(window.key);
    else this.open.set(window.key, kept);
  }

  private decode(key: string, start: number, bytes: Uint8Array): unknown {
    try {
      return this.definition.codec.decode(bytes);
    } catch (cause) {
      throw this.error(
        TokaErrorCode.DecodeFailed,
        `the stored window starting at ${start} does not decode with ${this.definition.codec.name}; if the aggregate's codec changed, delete the topic ${this.options.topic} and the local state, or reset the group`,
        key,
        cause,
      );
    }
  }

  private error(code: TokaErrorCode, message: string, key: string, cause: unknown): TokaError {
    return new TokaError(code, message, {
      group: this.options.group,
      topic: this.options.topic,
      partition: this.options.partition,
      key,
      cause,
    });
  }
}

/** The dedup state of two merged sessions: per topic and per origin, the later position. */
function mergeDedup(a: KeyDedup | undefined, b: KeyDedup | undefined): KeyDedup | undefined {
  if (!a || !b) return a ?? b;
  for (const [topic, offset] of Object.entries(b.applied)) {
    const mine = appliedOffset(a, topic);
    if (mine === undefined || compareOffsets(offset, mine) > 0) setApplied(a, topic, offset);
  }
  for (const [topic, source, offset, index] of b.origins ?? []) {
    const origin = { source, offset, index };
    if (!appliedFromOrigin(a, topic, origin)) setAppliedFromOrigin(a, topic, origin);
  }
  return a;
}
