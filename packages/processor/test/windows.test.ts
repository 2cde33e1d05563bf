import fc from "fast-check";
import { describe, expect, it, test } from "vitest";
import {
  closesAt,
  expiryBefore,
  hopping,
  isClosed,
  isLate,
  mergeSessions,
  session,
  sessionFor,
  sessionSearchRange,
  sliding,
  slidingWindowAfter,
  slidingWindowEndingAt,
  type TimeWindow,
  type TimeWindows,
  tumbling,
  WINDOW_DEFAULTS,
  type WindowDefinition,
  windowsFor,
} from "../src/windows.js";

const SEED = Number(process.env.TOKA_WINDOW_SEED ?? Date.now() % 2 ** 31);
console.log(`windows property seed ${SEED} (rerun with TOKA_WINDOW_SEED=${SEED})`);
const runs = { seed: SEED, numRuns: 1000 };

const time = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 2 ** 45 }));
const grace = fc.integer({ min: 0, max: 50 });

/** Hopping (or tumbling) windows with small sizes, so edge cases are common. */
const timeWindows = fc
  .tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), grace)
  .map(([a, b, graceMs]) => hopping(Math.max(a, b), Math.min(a, b), { graceMs }));

/** All windows holding `timestamp`, by trying every start on the grid: the reference. */
function bruteForceWindows(definition: TimeWindows, timestamp: number): TimeWindow[] {
  const out: TimeWindow[] = [];
  const first = Math.max(0, timestamp - definition.sizeMs - definition.advanceMs);
  for (
    let n = Math.floor(first / definition.advanceMs);
    n * definition.advanceMs <= timestamp;
    n++
  ) {
    const start = n * definition.advanceMs;
    if (timestamp < start + definition.sizeMs) out.push({ start, end: start + definition.sizeMs });
  }
  return out;
}

describe("window definitions", () => {
  it("resolve defaults: no grace, a day of retention or the minimum if larger", () => {
    expect(tumbling(60_000)).toEqual({
      kind: "tumbling",
      sizeMs: 60_000,
      advanceMs: 60_000,
      graceMs: 0,
      retentionMs: WINDOW_DEFAULTS.retentionMs,
    });
    expect(hopping(10, 10).kind).toBe("tumbling");
    expect(hopping(2 * 86_400_000, 1000, { graceMs: 5 }).retentionMs).toBe(2 * 86_400_000 + 5);
    expect(session(30_000, { graceMs: 1000, retentionMs: 31_000 })).toEqual({
      kind: "session",
      gapMs: 30_000,
      graceMs: 1000,
      retentionMs: 31_000,
    });
    expect(Object.isFrozen(sliding(5000))).toBe(true);
  });

  test.each([
    [() => tumbling(0), '"sizeMs" must be a positive integer'],
    [() => tumbling(1.5), '"sizeMs" must be a positive integer'],
    [() => hopping(10, 0), '"advanceMs" must be a positive integer'],
    [() => hopping(10, 11), '"advanceMs" (11) must not exceed "sizeMs" (10)'],
    [() => sliding(-1), '"differenceMs" must be a positive integer'],
    [() => session(Number.NaN), '"gapMs" must be a positive integer'],
    [() => tumbling(10, { graceMs: -1 }), '"graceMs" must be an integer ≥ 0'],
    [
      () => tumbling(10, { graceMs: 5, retentionMs: 14 }),
      '"retentionMs" must be an integer ≥ size + grace = 15 ms',
    ],
    [() => sliding(10, { graceMs: 5, retentionMs: 14 }), "difference + grace = 15 ms"],
    [() => session(10, { graceMs: 5, retentionMs: 14 }), "gap + grace = 15 ms"],
  ])("refuse invalid arguments with TOKA_INVALID_CONFIG (%#)", (make, message) => {
    expect(make).toThrowError(
      expect.objectContaining({
        code: "TOKA_INVALID_CONFIG",
        message: expect.stringContaining(message),
      }),
    );
  });

  it("refuse timestamps that are not safe integers ≥ 0", () => {
    for (const timestamp of [-1, 0.5, Number.MAX_SAFE_INTEGER + 2]) {
      expect(() => windowsFor(tumbling(10), timestamp)).toThrowError(
        expect.objectContaining({ code: "TOKA_INVALID_ARGUMENT" }),
      );
    }
  });
});

describe("tumbling and hopping windows", () => {
  it("are aligned to the epoch, as in Kafka Streams' example", () => {
    expect(windowsFor(hopping(5000, 3000), 4000)).toEqual([
      { start: 0, end: 5000 },
      { start: 3000, end: 8000 },
    ]);
    expect(windowsFor(hopping(5000, 3000), 5000)).toEqual([{ start: 3000, end: 8000 }]);
    expect(windowsFor(tumbling(60_000), 1_700_000_012_345)).toEqual([
      { start: 1_699_999_980_000, end: 1_700_000_040_000 },
    ]);
  });

  it("hold a timestamp exactly in the windows a brute-force search finds", () => {
    fc.assert(
      fc.property(timeWindows, fc.integer({ min: 0, max: 500 }), (definition, timestamp) => {
        expect(windowsFor(definition, timestamp)).toEqual(bruteForceWindows(definition, timestamp));
      }),
      runs,
    );
  });

  it("put every timestamp past the first windows in size / advance of them when the advance divides the size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        time,
        (advanceMs, hops, t) => {
          const definition = hopping(advanceMs * hops, advanceMs);
          const timestamp = t + definition.sizeMs - advanceMs;
          const windows = windowsFor(definition, timestamp);
          expect(windows.length).toBe(hops);
          for (const w of windows) {
            expect(w.start % advanceMs).toBe(0);
            expect(w.start <= timestamp && timestamp < w.end).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("put every timestamp in ⌊size / advance⌋ or ⌈size / advance⌉ windows otherwise", () => {
    fc.assert(
      fc.property(timeWindows, time, (definition, t) => {
        const timestamp = t + definition.sizeMs;
        const count = windowsFor(definition, timestamp).length;
        const ratio = definition.sizeMs / definition.advanceMs;
        expect(count === Math.floor(ratio) || count === Math.ceil(ratio)).toBe(true);
      }),
      runs,
    );
  });

  it("partition time when tumbling: one window per timestamp, consecutive windows touching", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), time, (sizeMs, timestamp) => {
        const definition = tumbling(sizeMs);
        const [window, ...more] = windowsFor(definition, timestamp);
        expect(more).toEqual([]);
        expect(window!.start % sizeMs).toBe(0);
        expect(window!.start <= timestamp && timestamp < window!.end).toBe(true);
        const [next] = windowsFor(definition, timestamp + 1);
        expect(next!.start === window!.start || next!.start === window!.end).toBe(true);
      }),
      runs,
    );
  });
});

describe("lateness and closing", () => {
  it("a window closes when stream time reaches end + grace", () => {
    const definition = tumbling(60, { graceMs: 10 });
    expect(closesAt(definition, { start: 0, end: 60 })).toBe(70);
    expect(isClosed(definition, { start: 0, end: 60 }, 69)).toBe(false);
    expect(isClosed(definition, { start: 0, end: 60 }, 70)).toBe(true);
  });

  it("a record is late exactly when every window holding it is closed", () => {
    fc.assert(
      fc.property(
        timeWindows,
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 400 }),
        (definition, timestamp, streamTime) => {
          const allClosed = bruteForceWindows(definition, timestamp).every(
            (w) => w.end + definition.graceMs <= streamTime,
          );
          expect(isLate(definition, timestamp, streamTime)).toBe(allClosed);
          // The bounds that hold whatever the alignment.
          if (timestamp >= streamTime - definition.graceMs) expect(allClosed).toBe(false);
          if (timestamp <= streamTime - definition.graceMs - definition.sizeMs) {
            expect(allClosed).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("a record is late for sliding windows when every window that could hold it is closed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        grace,
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 400 }),
        (differenceMs, graceMs, timestamp, streamTime) => {
          const definition = sliding(differenceMs, { graceMs });
          // Every window [s, s + difference] with s ≤ timestamp ≤ s + difference.
          let allClosed = true;
          for (let s = Math.max(0, timestamp - differenceMs); s <= timestamp; s++) {
            const window = { start: s, end: s + differenceMs + 1 };
            // Kafka Streams' rule for sliding windows: closed once stream time > inclusive end + grace.
            if (!(streamTime > window.end - 1 + graceMs)) allClosed = false;
            expect(isClosed(definition, window, streamTime)).toBe(
              streamTime > window.end - 1 + graceMs,
            );
          }
          expect(isLate(definition, timestamp, streamTime)).toBe(allClosed);
        },
      ),
      runs,
    );
  });

  it("a session closes as in Kafka Streams: once its last record + gap + grace < stream time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        grace,
        time,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 400 }),
        (gapMs, graceMs, first, length, streamTime) => {
          const definition = session(gapMs, { graceMs });
          const last = first + length;
          expect(isClosed(definition, { start: first, end: last + 1 }, streamTime)).toBe(
            last + gapMs + graceMs < streamTime,
          );
        },
      ),
      runs,
    );
  });

  it("expires only closed windows, when retention counted from their start (or a session's last record) has passed", () => {
    // Retention often at its minimum, where an off-by-one would expire an open window.
    const more = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }));
    const definitions = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), grace, more).map(
        ([a, b, graceMs, more]): WindowDefinition =>
          hopping(Math.max(a, b), Math.min(a, b), {
            graceMs,
            retentionMs: Math.max(a, b) + graceMs + more,
          }),
      ),
      fc
        .tuple(fc.integer({ min: 1, max: 30 }), grace, more)
        .map(
          ([d, graceMs, more]): WindowDefinition =>
            sliding(d, { graceMs, retentionMs: d + graceMs + more }),
        ),
      fc
        .tuple(fc.integer({ min: 1, max: 30 }), grace, more)
        .map(
          ([gap, graceMs, more]): WindowDefinition =>
            session(gap, { graceMs, retentionMs: gap + graceMs + more }),
        ),
    );
    fc.assert(
      fc.property(
        definitions,
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 60 }),
        (definition, timestamp, length) => {
          const windows: TimeWindow[] =
            definition.kind === "session"
              ? [{ start: timestamp, end: timestamp + length + 1 }]
              : definition.kind === "sliding"
                ? [
                    slidingWindowEndingAt(definition, timestamp),
                    slidingWindowAfter(definition, timestamp),
                  ]
                : windowsFor(definition, timestamp);
          // Every stream time from the timestamp to past any retention, boundaries included;
          // wrong answers are collected, since an expect() per check is slow.
          const wrong: string[] = [];
          for (let streamTime = timestamp; streamTime <= timestamp + 300; streamTime++) {
            const before = expiryBefore(definition, streamTime);
            for (const window of windows) {
              const expired = window.end < before;
              if (expired && !isClosed(definition, window, streamTime)) {
                wrong.push(`${JSON.stringify(window)} expired but open at ${streamTime}`);
              }
              // Kafka Streams' retention: from the start for time windows (strictly past
              // it for sliding ones), from the last record for sessions.
              const { retentionMs } = definition;
              const kept =
                definition.kind === "session"
                  ? window.end - 1 + retentionMs >= streamTime
                  : definition.kind === "sliding"
                    ? window.start + retentionMs >= streamTime
                    : window.start + retentionMs > streamTime;
              if (expired === kept) {
                wrong.push(`${JSON.stringify(window)} expired: ${expired} at ${streamTime}`);
              }
            }
          }
          expect(wrong).toEqual([]);
        },
      ),
      { ...runs, numRuns: 200 },
    );
  });
});

describe("sliding windows", () => {
  it("match Kafka Streams' example: difference 5000, records at 8000, 9200, 12400", () => {
    const definition = sliding(5000);
    // Inclusive [3000;8000], [4200;9200], [7400;12400] when the records enter…
    expect([8000, 9200, 12400].map((t) => slidingWindowEndingAt(definition, t))).toEqual([
      { start: 3000, end: 8001 },
      { start: 4200, end: 9201 },
      { start: 7400, end: 12401 },
    ]);
    // …and [8001;13001], [9201;14201] when the first two drop out.
    expect([8000, 9200].map((t) => slidingWindowAfter(definition, t))).toEqual([
      { start: 8001, end: 13002 },
      { start: 9201, end: 14202 },
    ]);
    expect(slidingWindowEndingAt(definition, 1000)).toEqual({ start: 0, end: 5001 });
  });
});

describe("session windows", () => {
  const gap5 = session(5);
  const records = (timestamps: readonly number[]): TimeWindow[] =>
    timestamps.map((t) => ({ start: t, end: t + 1 }));

  it("match Kafka Streams' example: gap 5, records at 10, 12, 20, then 16 merges them", () => {
    expect(mergeSessions(gap5, records([10, 12, 20]))).toEqual([
      { start: 10, end: 13 },
      { start: 20, end: 21 },
    ]);
    const existing = mergeSessions(gap5, records([10, 12, 20]));
    expect(sessionFor(gap5, existing, 16)).toEqual({
      session: { start: 10, end: 21 },
      absorbed: existing,
    });
    expect(sessionFor(gap5, existing, 25)).toEqual({
      session: { start: 20, end: 26 },
      absorbed: [existing[1]],
    });
    expect(sessionFor(gap5, existing, 26)).toEqual({
      session: { start: 26, end: 27 },
      absorbed: [],
    });
    expect(sessionSearchRange(gap5, 16)).toEqual({ startTo: 21, endFrom: 12 });
  });

  const sessionLists = fc.array(
    fc
      .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 10 }))
      .map(([start, length]): TimeWindow => ({ start, end: start + length + 1 })),
    { maxLength: 25 },
  );
  const gaps = fc.integer({ min: 1, max: 15 }).map((gapMs) => session(gapMs));

  it("merge the same whatever the order of the input", () => {
    const permuted = sessionLists.chain((sessions) =>
      fc
        .shuffledSubarray(sessions, { minLength: sessions.length, maxLength: sessions.length })
        .map((shuffled) => [sessions, shuffled] as const),
    );
    fc.assert(
      fc.property(gaps, permuted, (definition, [sessions, shuffled]) => {
        expect(mergeSessions(definition, shuffled)).toEqual(mergeSessions(definition, sessions));
      }),
      runs,
    );
  });

  it("merge associatively: merging merged groups equals merging everything at once", () => {
    fc.assert(
      fc.property(gaps, sessionLists, sessionLists, sessionLists, (definition, a, b, c) => {
        const all = mergeSessions(definition, [...a, ...b, ...c]);
        const left = mergeSessions(definition, [...mergeSessions(definition, [...a, ...b]), ...c]);
        const right = mergeSessions(definition, [...a, ...mergeSessions(definition, [...b, ...c])]);
        expect(left).toEqual(all);
        expect(right).toEqual(all);
      }),
      runs,
    );
  });

  it("merge into sorted sessions more than a gap apart that cover exactly the input", () => {
    fc.assert(
      fc.property(gaps, sessionLists, (definition, sessions) => {
        const merged = mergeSessions(definition, sessions);
        for (let i = 1; i < merged.length; i++) {
          // The next session starts more than a gap after the previous one's last record.
          expect(merged[i]!.start - (merged[i - 1]!.end - 1)).toBeGreaterThan(definition.gapMs);
        }
        for (const s of sessions) {
          expect(merged.some((m) => m.start <= s.start && s.end <= m.end)).toBe(true);
        }
        for (const m of merged) {
          expect(sessions.some((s) => s.start === m.start)).toBe(true);
          expect(sessions.some((s) => s.end === m.end)).toBe(true);
        }
      }),
      runs,
    );
  });

  it("place a record as merging it with all sessions would, within the search range", () => {
    fc.assert(
      fc.property(
        gaps,
        sessionLists,
        fc.integer({ min: 0, max: 220 }),
        (definition, sessions, timestamp) => {
          const existing = mergeSessions(definition, sessions);
          const { session: placed, absorbed } = sessionFor(definition, existing, timestamp);
          const expected = mergeSessions(definition, [
            ...existing,
            { start: timestamp, end: timestamp + 1 },
          ]);
          const kept = existing.filter((s) => !absorbed.includes(s));
          expect(mergeSessions(definition, [...kept, placed])).toEqual(expected);
          expect(expected).toContainEqual(placed);
          const { startTo, endFrom } = sessionSearchRange(definition, timestamp);
          for (const s of absorbed) expect(s.start <= startTo && s.end >= endFrom).toBe(true);
          for (const s of kept) expect(s.start <= startTo && s.end >= endFrom).toBe(false);
        },
      ),
      runs,
    );
  });
});
