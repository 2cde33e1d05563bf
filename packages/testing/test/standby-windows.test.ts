import { jsonCodec } from "@toka/codec";
import { defineGroup, type Processor, TimerClock, tumbling, windowed } from "@toka/processor";
import { memoryStorage } from "@toka/state-store";
import { expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const MINUTE = 60_000;
const codec = jsonCodec<number>();
const KEYS = Array.from({ length: 12 }, (_, i) => `sensor-${i}`);

/** Per-minute sums, and a timer per sensor that fires when it stays silent. */
const graph = defineGroup("sensors", {
  windows: [windowed("minute", tumbling(MINUTE, { graceMs: 0 }), codec, { initial: () => 0 })],
  inputs: ({ input, timer }) => [
    input("readings", codec, (ctx, reading) => {
      ctx.aggregate("minute", (sum) => sum + reading);
      ctx.schedule("silent", ctx.eventTime + 10 * MINUTE, { clock: TimerClock.Stream });
    }),
    timer(() => {}),
  ],
});

/**
 * Waits until every partition has a standby that asked where its tables end after the
 * last write (its first table, the windows, ends where the topic does) and read up to
 * there, all its tables together.
 */
async function caughtUp(t: Tester, processors: Processor<typeof graph>[], partitions: number) {
  const ends = new Map<number, number>();
  for (const m of t.messages(graph.windowTopics.get("minute")!))
    ends.set(m.partition, Number(m.offset) + 1);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const standbys = processors.flatMap((p) => p.stats().standbys);
    const current = standbys.every(
      (s) => s.lag === 0 && Number(s.highWatermark) === (ends.get(s.partition) ?? 0),
    );
    if (standbys.length === partitions && current) return;
    if (Date.now() > deadline)
      throw new Error(
        `standbys not caught up: ${JSON.stringify(processors.map((p) => p.stats()))}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const emitReadings = (t: Tester, timestamp: number) =>
  Promise.all(KEYS.map((key) => t.emit("readings", key, 1, { codec, timestamp })));

test("standbys follow a group's windows and timers: the instance that takes the partitions over restores nothing", async () => {
  const t = tester();
  t.createTopic("readings", 4);
  const [first, second] = [
    await t.startProcessor(graph, { storage: memoryStorage(), standbyReplicas: 1 }),
    await t.startProcessor(graph, { storage: memoryStorage(), standbyReplicas: 1 }),
  ];
  await emitReadings(t, 0);
  await emitReadings(t, 30_000);
  await t.idle();
  expect(t.messages(graph.windowTopics.get("minute")!).length).toBeGreaterThan(0);
  expect(t.messages(graph.timersTopic!).length).toBeGreaterThan(0);
  await caughtUp(t, [first, second], 4);

  let recovered = 0;
  second.on("partition.recovered", (e) => {
    recovered += e.records;
  });
  await first.close();
  await t.idle();
  expect(second.stats().partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
  expect(recovered).toBe(0);
});
