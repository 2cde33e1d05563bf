import type { SlidingWindows } from "./windows.js";

/** A sliding window of one key as the plan reads it: `[start, start + difference]`. */
export interface SlidingWindowState {
  readonly start: number;
  /** The latest event time folded into the window. */
  readonly maxRecord: number;
}

/** One thing a record does to its key's sliding windows. */
export type SlidingStep<W extends SlidingWindowState> =
  /** Fold the record into an existing window. */
  | { readonly kind: "update"; readonly window: W }
  /**
   * A new window starting at `start`: the aggregate of `seed` (`undefined`: the initial
   * value) with the record folded in when `fold`, with `maxRecord` as its latest time.
   */
  | {
      readonly kind: "create";
      readonly start: number;
      readonly seed: W | undefined;
      readonly fold: boolean;
      readonly maxRecord: number;
    };

/**
 * What a record at `timestamp` does to its key's sliding windows `windows` (by ascending
 * start), as Kafka Streams' sliding window aggregation does it: every window is
 * `[start, start + difference]` (inclusive) and holds the records in it; each record has
 * its left window `[t − difference, t]` (`[0, difference]` near the epoch) and, once a
 * later record falls into it, its right window `[t + 1, t + 1 + difference]`. A new
 * window's aggregate is copied from the existing window that holds exactly its records
 * (so records need not be kept), as Kafka Streams' `processReverse` and `processEarly`
 * find it. `open` says whether an existing window may still change, `openSpan` whether a
 * window starting at a time would be open; one that would be closed at once is not
 * created. The record must not be late.
 */
export function planSliding<W extends SlidingWindowState>(
  definition: SlidingWindows,
  windows: readonly W[],
  timestamp: number,
  open: (window: W) => boolean,
  openSpan: (start: number) => boolean,
): SlidingStep<W>[] {
  return timestamp < definition.differenceMs
    ? planEarly(windows, timestamp, open, openSpan)
    : planLater(definition, windows, timestamp, open, openSpan);
}

function planLater<W extends SlidingWindowState>(
  definition: SlidingWindows,
  windows: readonly W[],
  t: number,
  open: (window: W) => boolean,
  openSpan: (start: number) => boolean,
): SlidingStep<W>[] {
  const d = definition.differenceMs;
  const steps: SlidingStep<W>[] = [];
  const update = (window: W) => {
    if (open(window)) steps.push({ kind: "update", window });
  };
  const starts = new Set<number>();
  let leftSeed: W | undefined;
  let rightSeed: W | undefined;
  let leftExists = false;
  let rightExists = false;
  let previous: number | undefined;
  // Latest start first, from the current record's right window down to 2·difference back.
  for (let i = windows.length - 1; i >= 0; i--) {
    const window = windows[i]!;
    if (window.start > t + 1) continue;
    if (window.start < t - 2 * d) break;
    starts.add(window.start);
    const end = window.start + d;
    if (window.start === t + 1) rightExists = true;
    else if (end > t) {
      rightSeed ??= window;
      update(window);
    } else if (end === t) {
      leftExists = true;
      update(window);
      // A record at this very time came before: its windows are all there.
      if (window.maxRecord >= t) return steps;
      previous = window.maxRecord;
    } else {
      leftSeed = window;
      previous = window.maxRecord;
      break;
    }
  }
  if (previous !== undefined) {
    const start = previous + 1;
    if (!starts.has(start) && start + d >= t && openSpan(start)) {
      steps.push({ kind: "create", start, seed: undefined, fold: true, maxRecord: t });
      // It may be the record's left window too (previous = t − difference − 1).
      if (start === t - d) leftExists = true;
    }
  }
  if (!leftExists && openSpan(t - d)) {
    const seed = previous !== undefined && t - d <= previous ? leftSeed : undefined;
    steps.push({ kind: "create", start: t - d, seed, fold: true, maxRecord: t });
  }
  if (!rightExists && rightSeed && rightSeed.maxRecord > t) {
    const { maxRecord } = rightSeed;
    steps.push({ kind: "create", start: t + 1, seed: rightSeed, fold: false, maxRecord });
  }
  return steps;
}

/**
 * A record before `difference`: its left window would start before 0, so every such
 * record goes into the one window `[0, difference]`, as Kafka Streams keeps them.
 */
function planEarly<W extends SlidingWindowState>(
  windows: readonly W[],
  t: number,
  open: (window: W) => boolean,
  openSpan: (start: number) => boolean,
): SlidingStep<W>[] {
  const steps: SlidingStep<W>[] = [];
  const starts = new Set<number>();
  let combined: W | undefined;
  let rightSeed: W | undefined;
  let rightExists = false;
  let previous: number | undefined;
  for (const window of windows) {
    if (window.start > t + 1) break;
    starts.add(window.start);
    if (window.start === 0) {
      combined = window;
      if (window.maxRecord < t) previous = window.maxRecord;
    } else if (window.start <= t) {
      rightSeed = window;
      if (open(window)) steps.push({ kind: "update", window });
    } else rightExists = true;
  }
  if (!rightSeed && combined && combined.maxRecord > t) rightSeed = combined;
  if (!rightExists && rightSeed && rightSeed.maxRecord > t) {
    const { maxRecord } = rightSeed;
    steps.push({ kind: "create", start: t + 1, seed: rightSeed, fold: false, maxRecord });
  }
  const start = previous === undefined ? undefined : previous + 1;
  if (start !== undefined && !starts.has(start) && openSpan(start))
    steps.push({ kind: "create", start, seed: undefined, fold: true, maxRecord: t });
  if (combined) {
    if (open(combined)) steps.push({ kind: "update", window: combined });
  } else if (openSpan(0))
    steps.push({ kind: "create", start: 0, seed: undefined, fold: true, maxRecord: t });
  return steps;
}
