import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  Processor,
  persist,
  silentLogger,
  tumbling,
  windowed,
} from "@toka/processor";
import { expect, onTestFinished, test } from "vitest";
import { toka } from "./cli-runner.js";
import { brokers, createTopic, headersOf, readToEnd, uniqueName, waitUntil } from "./helpers.js";

const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

test("toka lag and toka dlq list, show and redrive a group's dead letters", async () => {
  const orders = await createTopic("orders", 2);
  const group = uniqueName("ops");
  const codec = jsonCodec<number>();
  const graph = defineGroup(group, {
    persist: persist(codec),
    inputs: ({ input }) => [
      input(orders, codec, (ctx, n) => {
        if (n < 0) throw new Error(`negative amount ${n}`);
        ctx.setValue((ctx.value() ?? 0) + n);
      }),
    ],
  });
  const processor = new Processor(graph, { brokers: brokers(), logger: silentLogger });
  onTestFinished(() => processor.close());
  await processor.start();
  const emitter = new Emitter({ brokers: brokers(), topic: orders, codec, logger: silentLogger });
  onTestFinished(() => emitter.close());
  for (const [i, n] of [1, -1, 2, -2, 3].entries()) {
    await emitter.emit(`k${i}`, n, { id: `order-${i}`, headers: { origin: "shop" } });
  }

  const letters = await waitUntil("two dead letters", async () => {
    const listed = await toka("dlq", "list", "-g", group, "--json");
    const found = listed.code === 0 ? jsonLines(listed.out) : [];
    return found.length === 2 && found;
  });
  expect(letters.map((l) => [l.key, l.error.code, l.source.topic, l.preview])).toEqual(
    expect.arrayContaining([
      ["k1", "TOKA_CALLBACK_FAILED", orders, "-1"],
      ["k3", "TOKA_CALLBACK_FAILED", orders, "-2"],
    ]),
  );

  const lag = await waitUntil("no lag on the inputs", async () => {
    const rows = jsonLines((await toka("lag", "-g", group, "--json")).out);
    return rows.length > 0 && rows.every((r) => r.lag === 0) && rows;
  });
  expect(lag.map((r) => r.topic)).toContain(orders);
  // The stream time committed with the offsets: the orders' Kafka timestamps, so now-ish.
  const streamTimes = lag.filter((r) => r.topic === orders && r.committed !== undefined);
  expect(streamTimes.length).toBeGreaterThan(0);
  for (const r of streamTimes) expect(Math.abs(Date.now() - r.streamTime)).toBeLessThan(600_000);
  const human = await toka("lag", "-g", group);
  expect(human.code).toBe(0);
  expect(human.out).toContain("total lag 0");
  expect(human.out).toContain(`${new Date(streamTimes[0]!.streamTime).toISOString()}`);
  expect((await toka("lag", "-g", uniqueName("nobody"))).code).toBe(2);

  const first = letters.find((l) => l.key === "k1")!;
  const shown = await toka(
    "dlq",
    "show",
    "-g",
    group,
    "--at",
    `${first.partition}:${first.offset}`,
  );
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.out)).toMatchObject({
    key: "k1",
    value: "-1",
    headers: { origin: "shop", "toka-id": "order-1", "toka-error-code": "TOKA_CALLBACK_FAILED" },
  });
  expect((await toka("dlq", "show", "-g", group, "--at", "0:999999")).code).toBe(2);
  expect((await toka("dlq", "redrive", "-g", group)).code).toBe(2);

  const redrive = await toka(
    "dlq",
    "redrive",
    "-g",
    group,
    "--at",
    `${first.partition}:${first.offset}`,
  );
  expect(redrive.code).toBe(0);
  const republished = await waitUntil("the letter back in its source topic", async () => {
    let found: Record<string, string> | undefined;
    await readToEnd(orders, (m) => {
      if (m.headers?.["toka-redriven-from"])
        found = { key: m.key!.toString(), value: m.value!.toString(), ...headersOf(m) };
    });
    return found;
  });
  expect(republished).toMatchObject({
    key: "k1",
    value: "-1",
    origin: "shop",
    "toka-id": "order-1",
    "toka-redriven-from": `${group}-dlq/${first.partition}/${first.offset}`,
  });
  expect(Object.keys(republished).filter((h) => h.startsWith("toka-error"))).toEqual([]);
  // It fails again and comes back as a third letter, which says where it was redriven from.
  const again = await waitUntil("the redriven letter dead-lettered again", async () => {
    const found = jsonLines((await toka("dlq", "list", "-g", group, "--json")).out);
    return found.find((l) => l.redrivenFrom !== undefined);
  });
  expect(again).toMatchObject({
    key: "k1",
    redrivenFrom: `${group}-dlq/${first.partition}/${first.offset}`,
  });
});

test("toka windows shows a key's windows of a windowed aggregate from its topic", async () => {
  const readings = await createTopic("readings", 2);
  const group = uniqueName("minutes");
  const codec = jsonCodec<number>();
  const graph = defineGroup(group, {
    windows: [windowed("minute", tumbling(60_000), codec, { initial: () => 0 })],
    inputs: ({ input }) => [
      input(readings, codec, (ctx, n) => ctx.aggregate("minute", (sum) => sum + n), {
        eventTime: (n) => n * 1_000,
      }),
    ],
  });
  const processor = new Processor(graph, { brokers: brokers(), logger: silentLogger });
  onTestFinished(() => processor.close());
  await processor.start();
  const emitter = new Emitter({ brokers: brokers(), topic: readings, codec, logger: silentLogger });
  onTestFinished(() => emitter.close());
  // Event time n seconds: 10 and 20 in the first minute, 70 in the second, then 200 to
  // close both (the first is final once stream time passes its end).
  for (const n of [10, 20, 70, 200]) await emitter.emit("s1", n);
  await emitter.close();
  const show = (...args: string[]) =>
    toka("windows", "-g", group, "-a", "minute", "-k", "s1", ...args);
  let shown: { windows: { start: number; value: number; final: boolean }[] } | undefined;
  await waitUntil("the windows written", async () => {
    const result = await show();
    if (result.code !== 0) return false;
    shown = JSON.parse(result.out);
    return shown!.windows.length === 3;
  });
  expect(shown!.windows.map((w) => [w.start, w.value, w.final])).toEqual([
    [0, 30, true],
    [60_000, 70, true],
    [180_000, 200, false],
  ]);
  const ranged = await show("--from", "60000", "--to", "60000");
  expect(JSON.parse(ranged.out).windows.map((w: { start: number }) => w.start)).toEqual([60_000]);
  expect((await show("--from", "999999999")).code).toBe(2);
});
