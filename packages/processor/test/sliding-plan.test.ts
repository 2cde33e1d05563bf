import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planSliding } from "../src/sliding-plan.js";
import { sliding } from "../src/windows.js";

const SEED = Number(process.env.TOKA_SLIDING_SEED ?? Date.now() % 2 ** 31);
console.log(`sliding plan property seed ${SEED} (rerun with TOKA_SLIDING_SEED=${SEED})`);

/** A window as the test keeps it: the timestamps of the records folded in. */
interface Held {
  readonly start: number;
  maxRecord: number;
  records: number[];
}

/** Feeds `timestamps` in order through the plan, never closing a window. */
function run(differenceMs: number, timestamps: readonly number[]): Held[] {
  const definition = sliding(differenceMs, { graceMs: 10 ** 9 });
  let windows: Held[] = [];
  for (const t of timestamps) {
    const steps = planSliding(
      definition,
      windows,
      t,
      () => true,
      () => true,
    );
    // New windows copy their seeds as they were before the record, as the aggregation
    // computes every value before it changes any window.
    const created: Held[] = [];
    for (const step of steps) {
      if (step.kind !== "create") continue;
      const records = [...(step.seed?.records ?? []), ...(step.fold ? [t] : [])];
      created.push({ start: step.start, maxRecord: step.maxRecord, records });
    }
    for (const step of steps) {
      if (step.kind !== "update") continue;
      step.window.records.push(t);
      step.window.maxRecord = Math.max(step.window.maxRecord, t);
    }
    windows = [...windows, ...created].sort((a, b) => a.start - b.start);
    expect(new Set(windows.map((w) => w.start)).size, "one window per start").toBe(windows.length);
  }
  return windows;
}

/** Kafka Streams' sliding windows of a set of records, by brute force. */
function expected(differenceMs: number, timestamps: readonly number[]) {
  const d = differenceMs;
  const starts = new Set<number>();
  for (const r of timestamps) {
    starts.add(Math.max(0, r - d));
    if (timestamps.some((q) => q > r && q <= r + 1 + d)) starts.add(r + 1);
  }
  return [...starts]
    .sort((a, b) => a - b)
    .map((start) => ({
      start,
      records: timestamps.filter((r) => r >= start && r <= start + d).sort((a, b) => a - b),
    }));
}

describe("sliding windows planned as Kafka Streams does", () => {
  it("match its example: difference 5000, records at 8000, 9200, 12400", () => {
    const windows = run(5000, [8000, 9200, 12400]);
    expect(
      windows.map((w) => [w.start, w.start + 5000, [...w.records].sort((a, b) => a - b)]),
    ).toEqual([
      [3000, 8000, [8000]],
      [4200, 9200, [8000, 9200]],
      [7400, 12400, [8000, 9200, 12400]],
      [8001, 13001, [9200, 12400]],
      [9201, 14201, [12400]],
    ]);
  });

  it("hold exactly the records in their range, and exist exactly where a record's left or non-empty right window is, whatever the order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 25 }),
        (differenceMs, timestamps) => {
          const windows = run(differenceMs, timestamps).map((w) => ({
            start: w.start,
            records: [...w.records].sort((a, b) => a - b),
          }));
          expect(windows).toEqual(expected(differenceMs, timestamps));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("fold a record late by more than the grace into no window; update only the open ones", () => {
    const definition = sliding(10, { graceMs: 0 });
    const windows = [
      { start: 0, maxRecord: 10 },
      { start: 11, maxRecord: 21 },
    ];
    const open = (w: { start: number }) => w.start + 10 >= 15;
    const steps = planSliding(definition, windows, 12, open, (start) => start + 10 >= 15);
    expect(steps.filter((s) => s.kind === "update").map((s) => s.window.start)).toEqual([11]);
  });
});
