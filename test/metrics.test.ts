// The OpenTelemetry metrics of a processor, a view and an emitter on a real broker,
// collected through the SDK as an exporter would receive them.

import { metrics } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, Processor, persist, silentLogger, View } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { afterAll, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import { brokers, countWritten, createTopic, tempDir, uniqueName, waitUntil } from "./helpers.js";

class ReaderOnDemand extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush() {}
  protected async onShutdown() {}
}
const reader = new ReaderOnDemand();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
afterAll(() => metrics.disable());

type Point = { value: number | Histogram; attributes: Record<string, unknown> };

async function collect(): Promise<Map<string, Point[]>> {
  const { resourceMetrics } = await reader.collect();
  const points = new Map<string, Point[]>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics)
      points.set(
        metric.descriptor.name,
        (metric.dataPoints as DataPoint<number | Histogram>[]).map((p) => ({
          value: p.value,
          attributes: p.attributes,
        })),
      );
  return points;
}

/** The sum of a counter's points (or a histogram's counts) whose attributes match. */
function total(points: Map<string, Point[]>, name: string, match: Record<string, unknown> = {}) {
  let sum = 0;
  for (const { value, attributes } of points.get(name) ?? []) {
    if (!Object.entries(match).every(([k, v]) => attributes[k] === v)) continue;
    sum += typeof value === "number" ? value : value.count;
  }
  return sum;
}

const Deposit = z.object({ amount: z.number().int() });

test("a processor, a view and an emitter report their metrics through the SDK", async () => {
  const input = await createTopic("deposits", 2);
  const group = uniqueName("metered");
  const graph = defineGroup(group, {
    persist: persist(jsonCodec(z.number().int())),
    inputs: ({ input: edge }) => [
      edge(input, jsonCodec(Deposit), (ctx, deposit) => {
        if (deposit.amount < 0) throw new Error(`negative amount ${deposit.amount}`);
        ctx.setValue((ctx.value() ?? 0) + deposit.amount);
      }),
    ],
  });
  const processor = new Processor(graph, {
    brokers: brokers(),
    storage: levelStorage({ path: await tempDir() }),
    errorPolicy: "dead-letter",
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  const written = countWritten(processor, (b) => b.processed + b.failed);
  await processor.start();

  const emitter = new Emitter({
    brokers: brokers(),
    topic: input,
    codec: jsonCodec(Deposit),
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  const keys = ["alice", "bob", "carol", "dave"];
  const sent: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) sent.push(emitter.emit(keys[i % keys.length]!, { amount: 1 }));
  sent.push(emitter.emit("mallory", { amount: -1 }));
  await Promise.all(sent);
  await waitUntil("41 inputs written", () => written() >= 41);

  const view = new View({
    brokers: brokers(),
    table: `${group}-table`,
    codec: jsonCodec(z.number().int()),
    storage: levelStorage({ path: await tempDir() }),
    logger: silentLogger,
  });
  onTestFinished(() => view.close());
  await view.start();
  await view.catchUp();

  let points = await collect();
  const ofGroup = { "toka.group": group };
  expect(total(points, "toka.messages", { ...ofGroup, "toka.outcome": "processed" })).toBe(40);
  expect(total(points, "toka.messages.dead_lettered", ofGroup)).toBe(1);
  expect(points.get("toka.messages.dead_lettered")?.[0]?.attributes).toMatchObject({
    "error.type": "TOKA_CALLBACK_FAILED",
  });
  // Every key of every batch was looked up once, in the cache or in storage.
  const lookups = total(points, "toka.cache.lookups", ofGroup);
  expect(lookups).toBeGreaterThanOrEqual(keys.length + 1);
  expect(lookups).toBeLessThanOrEqual(41);
  expect(total(points, "toka.flush.duration", ofGroup)).toBeGreaterThanOrEqual(1);
  expect(total(points, "toka.table.records.written", ofGroup)).toBeGreaterThanOrEqual(keys.length);
  expect(total(points, "toka.rebalances", ofGroup)).toBeGreaterThanOrEqual(1);
  expect(
    total(points, "toka.rebalance.partitions", { ...ofGroup, "toka.change": "assigned" }),
  ).toBe(2);
  expect(total(points, "toka.commit.failures", ofGroup)).toBe(0);
  expect(total(points, "toka.emitter.queue", { "toka.topic": input })).toBe(0);
  const ofTable = { "toka.table": `${group}-table` };
  expect(
    points
      .get("toka.view.lag")
      ?.filter((p) => p.attributes["toka.table"] === ofTable["toka.table"]),
  ).toHaveLength(2);
  expect(total(points, "toka.view.lag", ofTable)).toBe(0);
  expect(total(points, "toka.view.staleness", ofTable)).toBe(0);

  // Commits go out after the flush without being waited for: they arrive shortly.
  await waitUntil("commits measured", async () => {
    points = await collect();
    return total(points, "toka.commit.duration", ofGroup) >= 1;
  });
  await waitUntil("no lag reported", async () => {
    points = await collect();
    const lag = (points.get("toka.consumer.lag") ?? []).filter(
      (p) => p.attributes["toka.group"] === group,
    );
    return lag.length === 2 && lag.every((p) => p.value === 0);
  });
});
