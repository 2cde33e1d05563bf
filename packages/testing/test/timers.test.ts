import { jsonCodec } from "@toka/codec";
import { defineGroup, output, persist, TimerClock } from "@toka/processor";
import { memoryStorage } from "@toka/state-store";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const MINUTE = 60_000;
const readingCodec = jsonCodec<number>();
const alertCodec = jsonCodec<{ sensor: string; silentSince: number }>();

/**
 * Alerts when a sensor stays silent for five minutes: each reading moves the sensor's
 * timer to five minutes after it, on `clock`.
 */
function silence(clock: TimerClock) {
  return defineGroup("silence", {
    persist: persist(jsonCodec<{ last: number }>()),
    outputs: [output("alerts", alertCodec)],
    inputs: ({ input, timer }) => [
      input("readings", readingCodec, (ctx) => {
        const last = clock === TimerClock.Stream ? ctx.eventTime : ctx.timestamp;
        ctx.setValue({ last });
        ctx.schedule("silent", last + 5 * MINUTE, { clock });
      }),
      timer((ctx, fired) => {
        expect(fired.name).toBe("silent");
        ctx.emit("alerts", ctx.key, { sensor: ctx.key, silentSince: ctx.value()!.last });
      }),
    ],
  });
}

function setup(t: Tester) {
  t.createTopic("readings", 2);
  t.createTopic("alerts", 2);
}

const reading = (t: Tester, key: string, timestamp: number) =>
  t.emit("readings", key, 1, { codec: readingCodec, timestamp });

describe("timers on the tester", () => {
  test("a stream-time timer fires before the message that moves stream time past it", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    t.createTopic("alerts", 1);
    await t.startProcessor(silence(TimerClock.Stream));
    const alerts = t.output("alerts", alertCodec);
    await reading(t, "s1", 0);
    await reading(t, "s1", 4 * MINUTE); // moves s1's timer to 9 min
    await reading(t, "s2", 8 * MINUTE); // s2's at 13 min
    alerts.expectEmpty();
    await reading(t, "s3", 9 * MINUTE);
    expect(alerts.drain().map((m) => m.value)).toEqual([{ sensor: "s1", silentSince: 4 * MINUTE }]);
    // s2's own reading after its silence comes too late to move its timer: the timer
    // fires first (with the value before the reading), then the reading moves it on.
    await t.emitMany(
      "readings",
      [
        { key: "s3", value: 1, timestamp: 10 * MINUTE },
        { key: "s2", value: 1, timestamp: 20 * MINUTE },
      ],
      { codec: readingCodec },
    );
    // s3's timer (15 min) is due by then too: both fire, by time, before s2's reading.
    expect(alerts.drain().map((m) => m.value)).toEqual([
      { sensor: "s2", silentSince: 8 * MINUTE },
      { sensor: "s3", silentSince: 10 * MINUTE },
    ]);
    await reading(t, "s4", 60 * MINUTE); // s2's moved timer (25 min)
    expect(alerts.drain().map((m) => m.value!.sensor)).toEqual(["s2"]);
  });

  test("a timer that fires in a batch with messages of its key changes the same table value", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    const graph = defineGroup("counted", {
      persist: persist(jsonCodec<{ readings: number; timers: number }>()),
      inputs: ({ input, timer }) => [
        input("readings", readingCodec, (ctx) => {
          const value = ctx.value() ?? { readings: 0, timers: 0 };
          ctx.setValue({ ...value, readings: value.readings + 1 });
          ctx.schedule(ctx.id, ctx.eventTime + 1_000);
        }),
        timer((ctx) => {
          const value = ctx.value()!;
          ctx.setValue({ ...value, timers: value.timers + 1 });
        }),
      ],
    });
    await t.startProcessor(graph, { guarantee: "exactly-once" });
    // Batches of ten readings a second apart: each fires the timers of the one before.
    for (let batch = 0; batch < 5; batch++) {
      await t.emitMany(
        "readings",
        Array.from({ length: 10 }, (_, i) => ({
          key: "a",
          value: 1,
          timestamp: batch * 2_000 + i,
          id: `r-${batch}-${i}`,
        })),
        { codec: readingCodec },
      );
    }
    await reading(t, "b", 60_000);
    expect((await t.table(graph)).get("a")).toEqual({ readings: 50, timers: 50 });
  });

  test("a wall-clock timer fires when the clock passes it, with no message arriving", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(silence(TimerClock.Wall));
    const alerts = t.output("alerts", alertCodec);
    const start = t.clock.now();
    await reading(t, "s1", start);
    t.advanceTime(5 * MINUTE - 1);
    await t.idle();
    alerts.expectEmpty();
    t.advanceTime(1);
    await t.idle();
    expect(alerts.drain().map((m) => m.value)).toEqual([{ sensor: "s1", silentSince: start }]);
  });

  test("timers move with the state: a restarted processor fires the timers scheduled before", async () => {
    const t = tester();
    setup(t);
    const storage = memoryStorage();
    const first = await t.startProcessor(silence(TimerClock.Stream), { storage });
    await reading(t, "s1", 0);
    await first.close();
    await t.startProcessor(silence(TimerClock.Stream), { storage });
    await reading(t, "s1", 2 * MINUTE); // moves it to 7 min
    const other = ["s2", "s3", "s4", "s5"].find(
      (key) => t.partitionOf("readings", key) === t.partitionOf("readings", "s1"),
    )!;
    await reading(t, other, 7 * MINUTE);
    expect(
      t
        .output("alerts", alertCodec)
        .drain()
        .map((m) => m.value),
    ).toEqual([{ sensor: "s1", silentSince: 2 * MINUTE }]);
  });

  test("ctx.cancel removes a timer; schedule without a timer callback is a misuse", async () => {
    const t = tester();
    setup(t);
    const cancelling = defineGroup("cancelling", {
      outputs: [output("alerts", alertCodec)],
      inputs: ({ input, timer }) => [
        input("readings", readingCodec, (ctx, value) => {
          if (value > 0) ctx.schedule("t", ctx.eventTime + MINUTE);
          else ctx.cancel("t");
        }),
        timer((ctx) => ctx.emit("alerts", ctx.key, { sensor: ctx.key, silentSince: 0 })),
      ],
    });
    await t.startProcessor(cancelling);
    await t.emit("readings", "a", 1, { codec: readingCodec, timestamp: 0 });
    await t.emit("readings", "a", 0, { codec: readingCodec, timestamp: 1 });
    await t.emit("readings", "a", 1, { codec: readingCodec, timestamp: 10 * MINUTE });
    t.output("alerts", alertCodec).expectEmpty();

    const misuse = defineGroup("no-timer", {
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx) => ctx.schedule("t", ctx.eventTime)),
      ],
    });
    const processor = await t.startProcessor(misuse, { errorPolicy: "skip" });
    const skipped: string[] = [];
    processor.on("message.skipped", (error) => skipped.push(`${error.code}: ${error.message}`));
    await t.emit("readings", "b", 1, { codec: readingCodec });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain("TOKA_CONTEXT_MISUSE");
    expect(skipped[0]).toContain("timer((ctx, timer)");
  });

  test("a table with a time-to-live deletes a key that was not changed for that long", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    const graph = defineGroup("recent", {
      persist: persist(jsonCodec<number>(), { ttl: { ms: 10 * MINUTE } }),
      inputs: ({ input }) => [
        input("readings", readingCodec, (ctx, value) => ctx.setValue((ctx.value() ?? 0) + value)),
      ],
    });
    await t.startProcessor(graph);
    await reading(t, "old", 0);
    await reading(t, "kept", 5 * MINUTE);
    await reading(t, "old", 6 * MINUTE); // a change: its ttl counts from here
    await reading(t, "kept", 14 * MINUTE);
    expect(await t.table(graph)).toEqual(
      new Map([
        ["kept", 2],
        ["old", 2],
      ]),
    );
    await reading(t, "kept", 16 * MINUTE); // stream time passes 6 + 10 min: "old" expires
    expect(await t.table(graph)).toEqual(new Map([["kept", 3]]));
  });
});
