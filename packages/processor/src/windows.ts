import { TokaError, TokaErrorCode } from "./errors.js";

/*
 * Window definitions and the event-time arithmetic of windowed aggregations. Pure: no
 * storage, no Kafka; the windowed store (`@toka/state-store`'s WindowStore) keeps the
 * windows these functions name.
 *
 * Conventions, the same for every kind of window:
 * - Times are epoch milliseconds, safe integers ≥ 0 (Kafka record timestamps).
 * - Every window is half-open, [start, end): it holds the timestamps t with
 *   start ≤ t < end. Kafka Streams presents sliding and session windows with an
 *   inclusive end; here their `end` is that inclusive end + 1, so one rule serves all.
 * - Stream time is the largest record timestamp a partition has seen. A window is
 *   *closed* once stream time reaches its close time (see closesAt): a record for it
 *   after that is late. Until then it may still change.
 * - Grace is how long after a window's end (in stream time) records for it are still
 *   accepted, for out-of-order input.
 * - Retention is how long windows are kept for queries; it never removes a window that
 *   is still open (the constructors check this).
 */

/** The kinds of windows. */
export const WindowKind = {
  /** Fixed size, aligned to the epoch, not overlapping: every timestamp is in one. */
  Tumbling: "tumbling",
  /** Fixed size, aligned to the epoch, advancing by less than their size: overlapping. */
  Hopping: "hopping",
  /** Fixed size, placed by the records: all records within a time difference. */
  Sliding: "sliding",
  /** Periods of activity of one key, separated by an inactivity gap. */
  Session: "session",
} as const;
export type WindowKind = (typeof WindowKind)[keyof typeof WindowKind];

/** Options every window definition takes. */
export interface WindowOptions {
  /**
   * How long after a window's end, in stream time, records for it are still accepted.
   * Default {@link WINDOW_DEFAULTS}.graceMs (0: a window closes at its end, and any
   * record out of order by more than what its window has left is late).
   */
  readonly graceMs?: number;
  /**
   * How long windows are kept for queries, counted from the window start for tumbling,
   * hopping and sliding windows (as Kafka Streams does) and from the session's last
   * record for sessions. At least the span a window stays open: size + grace (tumbling,
   * hopping), difference + grace (sliding), gap + grace (session). Default: that
   * minimum or {@link WINDOW_DEFAULTS}.retentionMs (one day), whichever is larger.
   */
  readonly retentionMs?: number;
}

/** Defaults of {@link WindowOptions}. */
export const WINDOW_DEFAULTS = {
  graceMs: 0,
  /** Kafka Streams' default retention of window stores. */
  retentionMs: 24 * 60 * 60 * 1000,
} as const;

/** What every resolved definition has. */
interface WindowBase {
  /** See {@link WindowOptions.graceMs}. */
  readonly graceMs: number;
  /** See {@link WindowOptions.retentionMs}. */
  readonly retentionMs: number;
}

/** Tumbling or hopping windows: `[n·advance, n·advance + size)` for n = 0, 1, 2, … */
export interface TimeWindows extends WindowBase {
  readonly kind: typeof WindowKind.Tumbling | typeof WindowKind.Hopping;
  readonly sizeMs: number;
  /** Distance between window starts; equal to `sizeMs` for tumbling windows. */
  readonly advanceMs: number;
}

/**
 * Sliding windows: a window holds records whose timestamps differ by at most
 * `differenceMs` (both ends inclusive, as in Kafka Streams), so its span is
 * `[start, start + differenceMs + 1)`. Which windows exist depends on the records of
 * each key; see {@link slidingWindowEndingAt} and {@link slidingWindowAfter}.
 */
export interface SlidingWindows extends WindowBase {
  readonly kind: typeof WindowKind.Sliding;
  readonly differenceMs: number;
}

/**
 * Session windows: a session of a key runs from its first record to its last, and takes
 * in every record at most `gapMs` after its last or before its first record; a record
 * that bridges two sessions merges them. A session with records first..last is the
 * window `[first, last + 1)`.
 */
export interface SessionWindows extends WindowBase {
  readonly kind: typeof WindowKind.Session;
  readonly gapMs: number;
}

/** Any window definition. */
export type WindowDefinition = TimeWindows | SlidingWindows | SessionWindows;

/** One window: the timestamps t with start ≤ t < end. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/**
 * Tumbling windows of `sizeMs`: `[0, size)`, `[size, 2·size)`, … aligned to the epoch,
 * so every timestamp is in exactly one window and every instance agrees on them.
 * @throws TokaError `TOKA_INVALID_CONFIG` naming the argument that is not a positive
 * integer, a grace that is negative, or a retention shorter than size + grace.
 */
export function tumbling(sizeMs: number, options: WindowOptions = {}): TimeWindows {
  const where = "tumbling()";
  positive(where, "sizeMs", sizeMs);
  return Object.freeze({
    kind: WindowKind.Tumbling,
    sizeMs,
    advanceMs: sizeMs,
    ...resolveOptions(where, options, sizeMs, "size + grace"),
  });
}

/**
 * Hopping windows of `sizeMs` starting every `advanceMs`: `[n·advance, n·advance + size)`
 * for n = 0, 1, 2, …, aligned to the epoch (as Kafka Streams' `TimeWindows`: size 5000
 * and advance 3000 give [0, 5000), [3000, 8000), …). When the advance divides the size,
 * every timestamp from size − advance on is in size / advance windows; earlier ones are
 * in fewer, since no window starts before 0.
 * @throws TokaError `TOKA_INVALID_CONFIG` for a size or advance that is not a positive
 * integer, an advance larger than the size, a negative grace, or a retention shorter than
 * size + grace.
 */
export function hopping(
  sizeMs: number,
  advanceMs: number,
  options: WindowOptions = {},
): TimeWindows {
  const where = "hopping()";
  positive(where, "sizeMs", sizeMs);
  positive(where, "advanceMs", advanceMs);
  if (advanceMs > sizeMs) {
    throw config(
      `${where}: "advanceMs" (${advanceMs}) must not exceed "sizeMs" (${sizeMs}); windows would leave gaps that hold no timestamp. Use tumbling(${sizeMs}) for an advance equal to the size.`,
    );
  }
  return Object.freeze({
    kind: advanceMs === sizeMs ? WindowKind.Tumbling : WindowKind.Hopping,
    sizeMs,
    advanceMs,
    ...resolveOptions(where, options, sizeMs, "size + grace"),
  });
}

/**
 * Sliding windows over records at most `differenceMs` apart (inclusive), as Kafka
 * Streams' `SlidingWindows`.
 * @throws TokaError `TOKA_INVALID_CONFIG` for a difference that is not a positive
 * integer, a negative grace, or a retention shorter than difference + grace.
 */
export function sliding(differenceMs: number, options: WindowOptions = {}): SlidingWindows {
  const where = "sliding()";
  positive(where, "differenceMs", differenceMs);
  return Object.freeze({
    kind: WindowKind.Sliding,
    differenceMs,
    ...resolveOptions(where, options, differenceMs, "difference + grace"),
  });
}

/**
 * Session windows with an inactivity gap of `gapMs`, as Kafka Streams' `SessionWindows`.
 * @throws TokaError `TOKA_INVALID_CONFIG` for a gap that is not a positive integer, a
 * negative grace, or a retention shorter than gap + grace.
 */
export function session(gapMs: number, options: WindowOptions = {}): SessionWindows {
  const where = "session()";
  positive(where, "gapMs", gapMs);
  return Object.freeze({
    kind: WindowKind.Session,
    gapMs,
    ...resolveOptions(where, options, gapMs, "gap + grace"),
  });
}

/**
 * The tumbling or hopping windows that hold `timestamp`, by ascending start: those with
 * start = n·advance ≥ 0 and start ≤ timestamp < start + size.
 * @throws TokaError `TOKA_INVALID_ARGUMENT` for a timestamp that is not a safe integer ≥ 0.
 */
export function windowsFor(definition: TimeWindows, timestamp: number): TimeWindow[] {
  checkTime("timestamp", timestamp);
  const { sizeMs, advanceMs } = definition;
  const windows: TimeWindow[] = [];
  // The first start above timestamp − size, rounded up to the advance grid.
  let start = Math.max(0, Math.floor((timestamp - sizeMs) / advanceMs + 1) * advanceMs);
  for (; start <= timestamp; start += advanceMs) {
    windows.push({ start, end: start + sizeMs });
  }
  return windows;
}

/**
 * The sliding window whose last record is at `timestamp`: `[timestamp − difference,
 * timestamp]`, or `[0, difference]` near the epoch, where Kafka Streams keeps the size
 * by starting at 0. A record always creates this window.
 */
export function slidingWindowEndingAt(definition: SlidingWindows, timestamp: number): TimeWindow {
  checkTime("timestamp", timestamp);
  const start = Math.max(0, timestamp - definition.differenceMs);
  return { start, end: start + definition.differenceMs + 1 };
}

/**
 * The sliding window that starts just after `timestamp`: `[timestamp + 1, timestamp + 1 +
 * difference]`. It exists when a later record of the key falls into it (the window a
 * record at `timestamp` drops out of).
 */
export function slidingWindowAfter(definition: SlidingWindows, timestamp: number): TimeWindow {
  checkTime("timestamp", timestamp);
  return { start: timestamp + 1, end: timestamp + definition.differenceMs + 2 };
}

/**
 * The stream time at which `window` closes: its end plus grace, and for a session also
 * the gap (a record up to a gap after the last one could still extend it). Kafka Streams
 * drops a record for a window once stream time > inclusive end + grace (sliding) or once
 * end + gap + grace < stream time (sessions); with half-open windows both read "closed
 * once stream time ≥ closesAt".
 */
export function closesAt(definition: WindowDefinition, window: TimeWindow): number {
  const extra = definition.kind === WindowKind.Session ? definition.gapMs : 0;
  return window.end + extra + definition.graceMs;
}

/** Whether `window` is closed at `streamTime`: no record may change it any more. */
export function isClosed(
  definition: WindowDefinition,
  window: TimeWindow,
  streamTime: number,
): boolean {
  return closesAt(definition, window) <= streamTime;
}

/**
 * Whether a record at `timestamp` is late at `streamTime`: every window that could hold
 * it is closed, so it changes no window (toka dead-letters it as `late`). For tumbling
 * and hopping windows, that is when the last window holding it is closed; a record whose
 * earlier hopping windows closed but whose last one is open updates the open ones only,
 * as in Kafka Streams. In particular a record at or after streamTime − grace is never
 * late, and one at or before streamTime − grace − size always is. For sliding windows the
 * last window that could hold it starts at `timestamp`.
 *
 * Sessions are not decided by timestamp alone: a record merges into an existing session
 * that may still be open. Use {@link sessionFor} and {@link isClosed} on the merged
 * session instead.
 */
export function isLate(
  definition: TimeWindows | SlidingWindows,
  timestamp: number,
  streamTime: number,
): boolean {
  checkTime("timestamp", timestamp);
  const last: TimeWindow =
    definition.kind === WindowKind.Sliding
      ? { start: timestamp, end: timestamp + definition.differenceMs + 1 }
      : lastWindowFor(definition, timestamp);
  return isClosed(definition, last, streamTime);
}

/**
 * The bound to pass to `WindowStore.expire(before)` at `streamTime` (which deletes the
 * windows with end < before), from the definition's retention: tumbling and hopping
 * windows expire once start + retention ≤ stream time, as in Kafka Streams; sliding
 * windows once start + retention < stream time; sessions once end + retention ≤ stream
 * time (the session's last record + retention < stream time). Since retention is at
 * least what the window stays open, an expired window is always closed.
 */
export function expiryBefore(definition: WindowDefinition, streamTime: number): number {
  const { retentionMs } = definition;
  switch (definition.kind) {
    case WindowKind.Session:
      return streamTime - retentionMs + 1;
    case WindowKind.Sliding:
      return streamTime - retentionMs + definition.differenceMs + 1;
    default:
      return streamTime - retentionMs + definition.sizeMs + 1;
  }
}

/**
 * The sessions that `sessions` form after merging every two that are at most a gap
 * apart (the later one starts at most `gapMs` after the earlier one's last record), by
 * ascending start. Merging is order-independent and associative: merging the merged
 * sessions of some records with more records gives the sessions of all of them.
 */
export function mergeSessions(
  definition: SessionWindows,
  sessions: Iterable<TimeWindow>,
): TimeWindow[] {
  const sorted = [...sessions].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: TimeWindow[] = [];
  let current: TimeWindow | undefined;
  for (const next of sorted) {
    if (current !== undefined && withinGap(definition, current, next)) {
      current = { start: current.start, end: Math.max(current.end, next.end) };
    } else {
      if (current !== undefined) merged.push(current);
      current = { start: next.start, end: next.end };
    }
  }
  if (current !== undefined) merged.push(current);
  return merged;
}

/**
 * The session a record at `timestamp` belongs to, given the key's existing `sessions`
 * (which do not merge with each other): the record's own `[timestamp, timestamp + 1)`
 * merged with every existing session within a gap of it. `absorbed` lists those
 * sessions; the aggregation replaces them with `session` (deleting each, storing the
 * merged value). When `absorbed` is empty, the record starts a new session.
 *
 * The candidates to read from the window store are the key's sessions with start ≤
 * timestamp + gap whose end is > timestamp − gap: {@link sessionSearchRange}.
 */
export function sessionFor(
  definition: SessionWindows,
  sessions: Iterable<TimeWindow>,
  timestamp: number,
): { readonly session: TimeWindow; readonly absorbed: TimeWindow[] } {
  checkTime("timestamp", timestamp);
  let session: TimeWindow = { start: timestamp, end: timestamp + 1 };
  const absorbed: TimeWindow[] = [];
  for (const existing of sessions) {
    if (withinGap(definition, session, existing) || withinGap(definition, existing, session)) {
      absorbed.push(existing);
    }
  }
  for (const existing of absorbed) {
    session = {
      start: Math.min(session.start, existing.start),
      end: Math.max(session.end, existing.end),
    };
  }
  absorbed.sort((a, b) => a.start - b.start);
  return { session, absorbed };
}

/**
 * Which sessions of a key a record at `timestamp` may merge with: those whose start is
 * at most `startTo` and whose end is at least `endFrom`. Sessions of one key never
 * overlap, so scanning the key's windows by descending start from `startTo` may stop at
 * the first whose end is below `endFrom`.
 */
export function sessionSearchRange(
  definition: SessionWindows,
  timestamp: number,
): { readonly startTo: number; readonly endFrom: number } {
  checkTime("timestamp", timestamp);
  return { startTo: timestamp + definition.gapMs, endFrom: timestamp - definition.gapMs + 1 };
}

/** Whether `later` (starting no earlier than `earlier`) is within a gap of `earlier`. */
function withinGap(definition: SessionWindows, earlier: TimeWindow, later: TimeWindow): boolean {
  // earlier's last record is end − 1; later may start up to a gap after it.
  return later.start >= earlier.start && later.start <= earlier.end - 1 + definition.gapMs;
}

/** The tumbling or hopping window with the latest start that holds `timestamp`. */
function lastWindowFor(definition: TimeWindows, timestamp: number): TimeWindow {
  const start = Math.floor(timestamp / definition.advanceMs) * definition.advanceMs;
  return { start, end: start + definition.sizeMs };
}

function resolveOptions(
  where: string,
  options: WindowOptions,
  spanMs: number,
  spanName: string,
): { graceMs: number; retentionMs: number } {
  if (typeof options !== "object" || options === null) {
    throw config(`${where}: options must be an object { graceMs?, retentionMs? }.`);
  }
  const { graceMs = WINDOW_DEFAULTS.graceMs, retentionMs } = options;
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
    throw config(
      `${where}: "graceMs" must be an integer ≥ 0 (milliseconds), got ${String(graceMs)}.`,
    );
  }
  const minimum = spanMs + graceMs;
  if (!Number.isSafeInteger(minimum)) {
    throw config(`${where}: ${spanName} (${minimum}) is beyond the safe integers.`);
  }
  if (retentionMs === undefined) {
    return { graceMs, retentionMs: Math.max(minimum, WINDOW_DEFAULTS.retentionMs) };
  }
  if (!Number.isSafeInteger(retentionMs) || retentionMs < minimum) {
    throw config(
      `${where}: "retentionMs" must be an integer ≥ ${spanName} = ${minimum} ms, got ${String(retentionMs)}: a shorter retention would delete windows that are still open.`,
    );
  }
  return { graceMs, retentionMs };
}

function positive(where: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw config(
      `${where}: "${name}" must be a positive integer (milliseconds), got ${String(value)}.`,
    );
  }
}

function checkTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TokaError(
      TokaErrorCode.InvalidArgument,
      `A record ${name} must be a safe integer ≥ 0 (epoch milliseconds), got ${String(value)}.`,
    );
  }
}

function config(message: string): TokaError {
  return new TokaError(TokaErrorCode.InvalidConfig, message);
}
