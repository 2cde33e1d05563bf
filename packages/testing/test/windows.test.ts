import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  hopping,
  output,
  serveViews,
  session,
  silentLogger,
  sliding,
  TokaErrorCode,
  tumbling,
  type WindowResult,
  WindowView,
  windowed,
} from "@toka/processor";
import { memoryStorage, WindowStore } from "@toka/state-store";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

interface Stats {
  count: number;
  sum: number;
}

const MINUTE = 60_000;
const statsCodec = jsonCodec<Stats>();
const resultCodec = jsonCodec<WindowResult<Stats>>();
const readingCodec = jsonCodec<number>();

/** Sums readings per sensor in one-minute tumbling windows (10 s grace), final results. */
function minuteSums(emit: "final" | "update" = "final") {
  return defineGroup("minute-sums", {
    outputs: [output("sums", resultCodec)],
    windows: [
      windowed("minute", tumbling(MINUTE, { graceMs: 10_000 }), statsCodec, {
        initial: () => ({ count: 0, sum: 0 }),
        emit,
        output: "sums",
      }),
    ],
    inputs: ({ input }) => [
      input("readings", readingCodec, (ctx, reading) => {
        ctx.aggregate("minute", (stats) => ({ count: stats.count + 1, sum: stats.sum + reading }));
      }),
    ],
  });
}

function setup(t: Tester) {
  t.createTopic("readings", 1);
  t.createTopic("sums", 1);
}

const at = (t: Tester, key: string, value: number, timestamp: number) =>
  t.emit("readings", key, value, { codec: readingCodec, timestamp });

describe("windowed aggregates on the tester", () => {
  test("tumbling windows emit one final result each once stream time passes end + grace", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(minuteSums());
    const sums = t.output("sums", resultCodec);
    await at(t, "s1", 1, 5_000);
    await at(t, "s1", 2, 30_000);
    await at(t, "s2", 7, 59_999);
    await at(t, "s1", 4, 61_000); // the next minute: the first is still in its grace
    sums.expectEmpty();
    await at(t, "s2", 1, 69_999);
    sums.expectEmpty();
    await at(t, "s2", 1, 70_000); // stream time reaches 60 000 + 10 000: the first closes
    const finals = sums
      .drain()
      .map(({ value: r }) => [r!.key, r!.start, r!.end, r!.value, r!.final]);
    expect(finals).toEqual([
      ["s1", 0, MINUTE, { count: 2, sum: 3 }, true],
      ["s2", 0, MINUTE, { count: 1, sum: 7 }, true],
    ]);
    await t.close();
  });

  test("a record for closed windows goes to the dead-letter topic as late, counted by an event", async () => {
    const t = tester();
    setup(t);
    const processor = await t.startProcessor(minuteSums(), { errorPolicy: "skip" });
    const late: string[] = [];
    processor.on("message.late", (error) => late.push(`${error.code} ${error.offset}`));
    await at(t, "s1", 1, 5_000);
    await at(t, "s1", 1, 75_000); // closes [0, 60 000)
    await at(t, "s1", 9, 59_000); // for [0, 60 000): late, whatever the error policy
    await at(t, "s1", 2, 65_000); // in its grace: counted
    expect(late).toEqual(["TOKA_LATE_RECORD 2"]);
    const letters = t.messages("minute-sums-dlq", readingCodec);
    expect(letters.map((l) => [l.value, l.headers["toka-error-code"]])).toEqual([
      [9, TokaErrorCode.LateRecord],
    ]);
    expect(letters[0]!.headers["toka-error-message"]).toContain("raise graceMs");
    await at(t, "s1", 0, 200_000);
    const finals = t.output("sums", resultCodec).drain();
    expect(finals.map(({ value: r }) => [r!.start, r!.value.sum])).toEqual([
      [0, 1],
      [MINUTE, 3],
    ]);
  });

  test("update mode emits each window's value after every message, final once closed", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(minuteSums("update"));
    await at(t, "s1", 1, 1_000);
    await at(t, "s1", 2, 2_000);
    await at(t, "s1", 3, 100_000);
    const updates = t.output("sums", resultCodec).drain();
    expect(updates.map(({ value: r }) => [r!.start, r!.value.sum, r!.final])).toEqual([
      [0, 1, false],
      [0, 3, false],
      [MINUTE, 3, false],
    ]);
  });

  test("hopping windows take a record into every window that holds it", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    t.createTopic("averages", 1);
    const graph = defineGroup("hops", {
      outputs: [output("averages", resultCodec)],
      windows: [
        windowed("five", hopping(5 * MINUTE, MINUTE), statsCodec, {
          initial: () => ({ count: 0, sum: 0 }),
          output: "averages",
        }),
      ],
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx, reading) =>
          ctx.aggregate("five", (s) => ({ count: s.count + 1, sum: s.sum + reading })),
        ),
      ],
    });
    await t.startProcessor(graph);
    await at(t, "s1", 10, 6 * MINUTE + 1); // in [2m,7m) .. [6m,11m)
    await at(t, "s1", 0, 20 * MINUTE); // closes them all
    const finals = t.output("averages", resultCodec).drain();
    expect(
      finals.map(({ value: r }) => [r!.start / MINUTE, r!.end / MINUTE, r!.value.sum]),
    ).toEqual([
      [2, 7, 10],
      [3, 8, 10],
      [4, 9, 10],
      [5, 10, 10],
      [6, 11, 10],
    ]);
  });

  test("a record that bridges two sessions merges them into one final result", async () => {
    const t = tester();
    t.createTopic("clicks", 1);
    t.createTopic("sessions", 1);
    const countCodec = jsonCodec<number>();
    const graph = defineGroup("activity", {
      outputs: [output("sessions", jsonCodec<WindowResult<number>>())],
      windows: [
        windowed("visits", session(10_000, { graceMs: 10_000 }), countCodec, {
          initial: () => 0,
          merge: (a, b) => a + b,
          output: "sessions",
        }),
      ],
      inputs: ({ input }) => [
        input("clicks", countCodec, (ctx) => ctx.aggregate("visits", (n) => n + 1)),
      ],
    });
    await t.startProcessor(graph);
    const click = (timestamp: number) =>
      t.emit("clicks", "u1", 1, { codec: countCodec, timestamp });
    await click(1_000);
    await click(5_000);
    await click(20_000); // more than a gap after 5 000: a second session
    await click(12_000); // within a gap of both, and the first is in its grace: they merge
    await click(60_000); // a new session; the merged one closes (20 001 + gap + grace ≤ 60 000)
    const finals = t.output("sessions", jsonCodec<WindowResult<number>>()).drain();
    expect(finals.map(({ value: r }) => [r!.start, r!.end, r!.value])).toEqual([
      [1_000, 20_001, 4],
    ]);
  });

  test("under exactly-once a repeated message (the same toka-id) is folded into its windows once", async () => {
    for (const [guarantee, expected] of [
      ["exactly-once", 5],
      ["at-least-once", 10],
    ] as const) {
      const t = tester();
      setup(t);
      await t.startProcessor(minuteSums(), { guarantee });
      const send = () =>
        t.emit("readings", "s1", 5, { codec: readingCodec, timestamp: 1_000, id: "r-1" });
      await send();
      await send();
      await at(t, "s1", 0, 2 * MINUTE);
      const finals = t.output("sums", resultCodec).drain();
      expect(
        finals.map(({ value: r }) => r!.value.sum),
        guarantee,
      ).toEqual([expected]);
      await t.close();
    }
  });

  test("sliding windows are created and folded as in Kafka Streams' example, across a restart", async () => {
    const t = tester();
    setup(t);
    const graph = defineGroup("sliding-sums", {
      outputs: [output("sums", resultCodec)],
      windows: [
        windowed("five-seconds", sliding(5_000), statsCodec, {
          initial: () => ({ count: 0, sum: 0 }),
          output: "sums",
        }),
      ],
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx, reading) =>
          ctx.aggregate("five-seconds", (s) => ({ count: s.count + 1, sum: s.sum + reading })),
        ),
      ],
    });
    const storage = memoryStorage();
    const first = await t.startProcessor(graph, { storage });
    await at(t, "s1", 1, 8_000);
    await at(t, "s1", 2, 9_200);
    await at(t, "s2", 0, 11_000); // closes s1's windows ending at 8 000 and 9 200
    await first.close();
    // A window that closed is still what the next record's new windows start from.
    await t.startProcessor(graph, { storage });
    await at(t, "s1", 4, 12_400);
    await at(t, "s2", 0, 30_000); // closes the rest
    const finals = t
      .output("sums", resultCodec)
      .drain()
      .filter((m) => m.key === "s1");
    expect(finals.map(({ value: r }) => [r!.start, r!.end, r!.value.count, r!.value.sum])).toEqual([
      [3_000, 8_001, 1, 1],
      [4_200, 9_201, 2, 3],
      [7_400, 12_401, 3, 7],
      [8_001, 13_002, 2, 6],
      [9_201, 14_202, 1, 4],
    ]);
  });

  test("a restarted processor continues its open windows from storage, emitting no final twice", async () => {
    const t = tester();
    setup(t);
    const storage = memoryStorage();
    const first = await t.startProcessor(minuteSums(), { storage });
    await at(t, "s1", 1, 1_000);
    await at(t, "s1", 2, 61_000);
    await at(t, "s1", 4, 71_000); // [0, 60 000) closes
    await first.close();
    await t.startProcessor(minuteSums(), { storage });
    await at(t, "s1", 8, 100_000);
    await at(t, "s1", 0, 200_000); // [60 000, 120 000) closes
    const finals = t.output("sums", resultCodec).drain();
    expect(finals.map(({ value: r }) => [r!.start, r!.value.sum])).toEqual([
      [0, 1],
      [MINUTE, 14],
    ]);
  });

  test("an update that throws fails the message whole: no window of it changes", async () => {
    const t = tester();
    setup(t);
    const graph = defineGroup("picky", {
      outputs: [output("sums", resultCodec)],
      windows: [
        windowed("a", tumbling(MINUTE), statsCodec, {
          initial: () => ({ count: 0, sum: 0 }),
          output: "sums",
        }),
        windowed("b", tumbling(MINUTE), statsCodec, { initial: () => ({ count: 0, sum: 0 }) }),
      ],
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx, reading) => {
          ctx.aggregate("a", (s) => ({ count: s.count + 1, sum: s.sum + reading }));
          ctx.aggregate("b", (s) => {
            if (reading < 0) throw new Error("negative reading");
            return s;
          });
        }),
      ],
    });
    await t.startProcessor(graph);
    await at(t, "s1", 5, 1_000);
    await at(t, "s1", -1, 2_000);
    await at(t, "s1", 0, MINUTE);
    const finals = t.output("sums", resultCodec).drain();
    expect(finals.map(({ value: r }) => r!.value)).toEqual([{ count: 1, sum: 5 }]);
    const letters = t.messages("picky-dlq", readingCodec);
    expect(letters.map((l) => [l.value, l.headers["toka-error-code"]])).toEqual([
      [-1, TokaErrorCode.CallbackFailed],
    ]);
  });

  test("serveViews answers a key's windows over a time range, final or still open", async () => {
    const t = tester();
    setup(t);
    const processor = await t.startProcessor(minuteSums());
    await at(t, "s1", 1, 1_000);
    await at(t, "s1", 2, 61_000);
    await at(t, "s1", 4, 129_000); // [0, 60 000) closed; [60 000, 120 000) open in its grace
    const service = await serveViews({ views: { minute: processor.ownedWindows("minute") } });
    try {
      const read = async (path: string) => {
        const response = await fetch(`${service.url}${path}`);
        return [response.status, await response.json()];
      };
      expect(await read("/minute/s1?from=0&to=60000")).toEqual([
        200,
        [
          { key: "s1", start: 0, end: MINUTE, value: { count: 1, sum: 1 }, final: true },
          { key: "s1", start: MINUTE, end: 2 * MINUTE, value: { count: 1, sum: 2 }, final: false },
        ],
      ]);
      expect(((await read("/minute/s1")) as [number, unknown[]])[1]).toHaveLength(3);
      expect(await read("/minute/s9")).toEqual([200, []]);
      expect((await read("/minute/s1?from=x"))[0]).toBe(400);
      expect((await read("/minute"))[0]).toBe(400);
    } finally {
      await service.close();
    }
  });

  test("a WindowView replicates an aggregate's windows from its topic, read per key and range", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(minuteSums());
    await at(t, "s1", 1, 1_000);
    await at(t, "s1", 2, 61_000);
    await at(t, "s2", 5, 62_000);
    await at(t, "s1", 4, 129_000);
    const view = await t.start(
      new WindowView({
        client: t.client,
        group: "minute-sums",
        aggregate: "minute",
        codec: statsCodec,
        logger: silentLogger,
      }),
    );
    await t.idle();
    expect(await view.fetchWindows("s1", MINUTE, 3 * MINUTE)).toEqual([
      { key: "s1", start: MINUTE, end: 2 * MINUTE, value: { count: 1, sum: 2 }, final: false },
      { key: "s1", start: 2 * MINUTE, end: 3 * MINUTE, value: { count: 1, sum: 4 }, final: false },
    ]);
    expect((await view.get("s1"))?.map((w) => [w.start, w.final])).toEqual([
      [0, true],
      [MINUTE, false],
      [2 * MINUTE, false],
    ]);
    expect(await view.get("s9")).toBeUndefined();
  });

  test("windows past their retention are deleted from local storage", async () => {
    const t = tester();
    setup(t);
    const storage = memoryStorage();
    const graph = defineGroup("kept", {
      windows: [
        windowed("minute", tumbling(MINUTE, { retentionMs: 3 * MINUTE }), statsCodec, {
          initial: () => ({ count: 0, sum: 0 }),
        }),
      ],
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx, reading) =>
          ctx.aggregate("minute", (s) => ({ count: s.count + 1, sum: s.sum + reading })),
        ),
      ],
    });
    const processor = await t.startProcessor(graph, { storage });
    for (let minute = 0; minute < 10; minute++) await at(t, "s1", 1, minute * MINUTE);
    await processor.close();
    const store = new WindowStore(storage("kept-minute-windows", 0));
    await store.storage.open();
    const starts: number[] = [];
    for await (const w of store.fetch("s1", 0, Number.POSITIVE_INFINITY)) starts.push(w.start);
    // Stream time 9 min: windows starting 3 min or more before it are gone.
    expect(starts.map((start) => start / MINUTE)).toEqual([7, 8, 9]);
  });
});
