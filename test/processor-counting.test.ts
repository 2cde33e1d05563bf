import { jsonCodec, stringCodec } from "@toka/codec";
import {
  consoleLogger,
  defineGroup,
  Emitter,
  Processor,
  persist,
  silentLogger,
} from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import { brokers, createTopic, readTable, tempDir, uniqueName, waitUntil } from "./helpers.js";

const Count = z.object({ count: z.number().int(), sum: z.number().int() });
type Count = z.infer<typeof Count>;

function countingGroup(name: string, input: string) {
  return defineGroup(name, {
    persist: persist(jsonCodec(Count)),
    inputs: ({ input: edge }) => [
      edge(input, stringCodec, (ctx, amount) => {
        const current = ctx.value() ?? { count: 0, sum: 0 };
        ctx.setValue({ count: current.count + 1, sum: current.sum + Number(amount) });
      }),
    ],
  });
}

async function emitAll(topic: string, messages: [string, string][]) {
  const emitter = new Emitter({
    brokers: brokers(),
    topic,
    codec: stringCodec,
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  await Promise.all(messages.map(([key, value]) => emitter.emit(key, value)));
  await emitter.close();
}

function workload(keys: number, messages: number, seed: number): [string, string][] {
  return Array.from({ length: messages }, (_, i) => [
    `key-${(i * 7 + seed) % keys}`,
    String((i % 10) + 1),
  ]);
}

function expectedCounts(messages: [string, string][]) {
  const expected = new Map<string, Count>();
  for (const [key, amount] of messages) {
    const c = expected.get(key) ?? { count: 0, sum: 0 };
    expected.set(key, { count: c.count + 1, sum: c.sum + Number(amount) });
  }
  return expected;
}

async function tableCounts(table: string) {
  const decoded = new Map<string, Count>();
  for (const [key, { value }] of await readTable(table))
    decoded.set(key, JSON.parse(value.toString()));
  return decoded;
}

function startProcessor(graph: ReturnType<typeof countingGroup>, stateDir: string) {
  const processor = new Processor(graph, {
    brokers: brokers(),
    storage: levelStorage({ path: stateDir }),
    logger: consoleLogger("warn"),
  });
  onTestFinished(() => processor.close());
  return processor;
}

describe("a counting processor on 8 partitions", () => {
  test("counts every message exactly, across a graceful restart", async () => {
    const input = await createTopic("clicks", 8);
    const group = uniqueName("counter");
    const graph = countingGroup(group, input);
    const stateDir = await tempDir();
    const first = workload(200, 2000, 0);
    const second = workload(200, 1000, 3);

    const processor = startProcessor(graph, stateDir);
    let processed = 0;
    processor.on("batch.processed", (e) => {
      processed += e.processed;
    });
    await processor.start();
    await emitAll(input, first);
    await waitUntil("2000 messages processed", () => processed >= 2000);
    expect(processor.stats().partitions).toHaveLength(8);
    await processor.close();

    const restarted = startProcessor(graph, stateDir);
    let recovered = 0;
    restarted.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    let processedAfter = 0;
    restarted.on("batch.processed", (e) => {
      processedAfter += e.processed;
    });
    await restarted.start();
    await emitAll(input, second);
    await waitUntil("1000 more messages processed", () => processedAfter >= 1000);
    // Intact local state: the restart reads only the table's delta, here nothing.
    expect(recovered).toBe(0);
    expect(processedAfter).toBe(1000);
    await restarted.close();

    expect(await tableCounts(`${group}-table`)).toEqual(expectedCounts([...first, ...second]));
  });

  test("a fresh instance rebuilds the table from Kafka when its local state is gone", async () => {
    const input = await createTopic("clicks", 8);
    const group = uniqueName("counter");
    const graph = countingGroup(group, input);
    const messages = workload(50, 500, 1);

    const processor = startProcessor(graph, await tempDir());
    let processed = 0;
    processor.on("batch.processed", (e) => {
      processed += e.processed;
    });
    await processor.start();
    await emitAll(input, messages);
    await waitUntil("500 messages processed", () => processed >= 500);
    await processor.close();

    const fresh = startProcessor(graph, await tempDir());
    let recovered = 0;
    fresh.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    let processedAfter = 0;
    fresh.on("batch.processed", (e) => {
      processedAfter += e.processed;
    });
    await fresh.start();
    await fresh.waitFor("running", { timeoutMs: 60_000 });
    await waitUntil(
      "all partitions recovered",
      () =>
        fresh.stats().partitions.length === 8 &&
        fresh.stats().partitions.every((p) => p.state === "running"),
    );
    expect(recovered).toBeGreaterThanOrEqual(50);
    // One more message per key proves the rebuilt state is the base of new counts.
    const more: [string, string][] = Array.from({ length: 50 }, (_, i) => [`key-${i}`, "100"]);
    await emitAll(input, more);
    await waitUntil("50 more processed", () => processedAfter >= 50);
    await fresh.close();
    expect(await tableCounts(`${group}-table`)).toEqual(expectedCounts([...messages, ...more]));
  });
});
