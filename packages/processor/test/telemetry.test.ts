import { metrics, type Tracer, type TracerProvider, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { jsonCodec } from "@toka/codec";
import { afterAll, beforeEach, describe, expect, test, vi } from "vitest";
import { z } from "zod";
import type { ClientProducer, KafkaClient } from "../src/client/kafka-client.js";
import { Emitter, TokaError, TokaErrorCode, type ViewStats } from "../src/index.js";
import type { ProcessorStats } from "../src/processor.js";
import {
  inBatchSpan,
  observeProcessorGauges,
  observeViewGauges,
  processorMetrics,
} from "../src/telemetry.js";

/** The OpenTelemetry SDK's meter, read on demand (what an exporter would be sent). */
class ReaderOnDemand extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected async onForceFlush() {}
  protected async onShutdown() {}
}
const reader = new ReaderOnDemand();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

/** Every data point collected since the last call, as instrument → [value, attributes][]. */
async function collect(): Promise<Map<string, [unknown, Record<string, unknown>][]>> {
  const { resourceMetrics } = await reader.collect();
  const points = new Map<string, [unknown, Record<string, unknown>][]>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) {
      const list = points.get(metric.descriptor.name) ?? [];
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        const value = point.value as number | { sum: number; count: number };
        list.push([
          typeof value === "number" ? value : { sum: value.sum, count: value.count },
          point.attributes,
        ]);
      }
      if (list.length > 0) points.set(metric.descriptor.name, list);
    }
  return points;
}

const spans: { name: string; attributes: unknown; ended: boolean; status?: unknown }[] = [];
const tracerProvider = {
  getTracer: () =>
    ({
      startActiveSpan: (
        name: string,
        options: { attributes: unknown },
        fn: (span: unknown) => unknown,
      ) => {
        const span = {
          name,
          attributes: options.attributes,
          ended: false,
          status: undefined as unknown,
        };
        spans.push(span);
        return fn({
          end: () => {
            span.ended = true;
          },
          setStatus: (status: unknown) => {
            span.status = status;
          },
          recordException: () => {},
        });
      },
    }) as unknown as Tracer,
} as TracerProvider;

trace.setGlobalTracerProvider(tracerProvider);
beforeEach(async () => {
  await collect();
});
afterAll(() => {
  metrics.disable();
  trace.disable();
});

describe("OpenTelemetry instrumentation", () => {
  test("processor events become measurements with the group, topic and partition", async () => {
    const listeners = processorMetrics("bank");
    listeners["batch.processed"]?.({
      topic: "deposits",
      partition: 3,
      processed: 10,
      redelivered: 2,
      duplicates: 1,
      failed: 0,
      cacheHits: 4,
      storageReads: 6,
      durationMs: 7,
    });
    listeners["message.dead-lettered"]?.(
      new TokaError(TokaErrorCode.CallbackFailed, "x", { topic: "deposits" }),
    );
    listeners["message.skipped"]?.(
      new TokaError(TokaErrorCode.DecodeFailed, "y", { topic: "deposits" }),
    );
    listeners["partition.flushed"]?.({ partition: 3, tableRecords: 9, durationMs: 12 });
    listeners["offsets.committed"]?.({
      topic: "deposits",
      partition: 3,
      offset: "11",
      durationMs: 5,
    });
    listeners["offsets.commit-failed"]?.({
      topic: "deposits",
      partition: 3,
      offset: "11",
      error: new Error("coordinator moved"),
    });
    listeners["group.rebalanced"]?.({ assigned: [3, 4], revoked: [1], kept: [0] });

    const attributes = { "toka.group": "bank", "toka.topic": "deposits", "toka.partition": 3 };
    const partition = { "toka.group": "bank", "toka.partition": 3 };
    const points = await collect();
    expect(Object.fromEntries(points)).toEqual({
      "toka.messages": [
        [10, { ...attributes, "toka.outcome": "processed" }],
        [2, { ...attributes, "toka.outcome": "redelivered" }],
        [1, { ...attributes, "toka.outcome": "duplicate" }],
      ],
      "toka.batch.duration": [[{ sum: 7, count: 1 }, attributes]],
      "toka.cache.lookups": [
        [4, { ...attributes, "toka.cache.result": "hit" }],
        [6, { ...attributes, "toka.cache.result": "miss" }],
      ],
      "toka.messages.dead_lettered": [
        [
          1,
          { "toka.group": "bank", "toka.topic": "deposits", "error.type": "TOKA_CALLBACK_FAILED" },
        ],
      ],
      "toka.messages.skipped": [
        [1, { "toka.group": "bank", "toka.topic": "deposits", "error.type": "TOKA_DECODE_FAILED" }],
      ],
      "toka.flush.duration": [[{ sum: 12, count: 1 }, partition]],
      "toka.table.records.written": [[9, partition]],
      "toka.commit.duration": [[{ sum: 5, count: 1 }, attributes]],
      "toka.commit.failures": [[1, attributes]],
      "toka.rebalances": [[1, { "toka.group": "bank" }]],
      "toka.rebalance.partitions": [
        [2, { "toka.group": "bank", "toka.change": "assigned" }],
        [1, { "toka.group": "bank", "toka.change": "revoked" }],
      ],
    });
  });

  test("lag and recovery are observed per owned partition, standby lag per standby, until unregistered", async () => {
    const stats: ProcessorStats = {
      group: "bank",
      status: "recovering",
      partitions: [
        {
          partition: 0,
          state: "running",
          tableOffset: "5",
          recoveryRemaining: undefined,
          streamTime: 1_767_225_600_000,
          inputs: [
            { topic: "deposits", offset: "7", highWatermark: "10", lag: 3 },
            { topic: "bank-loop", offset: undefined, highWatermark: undefined, lag: undefined },
          ],
        },
        {
          partition: 1,
          state: "recovering",
          tableOffset: "40",
          recoveryRemaining: 60,
          streamTime: undefined,
          inputs: [{ topic: "deposits", offset: undefined, highWatermark: "8", lag: undefined }],
        },
      ],
      standbys: [
        { partition: 2, tableOffset: "90", highWatermark: "95", lag: 5 },
        { partition: 3, tableOffset: "0", highWatermark: undefined, lag: undefined },
      ],
    };
    const stop = observeProcessorGauges(() => stats);
    expect(Object.fromEntries(await collect())).toEqual({
      "toka.consumer.lag": [
        [3, { "toka.group": "bank", "toka.topic": "deposits", "toka.partition": 0 }],
      ],
      "toka.recovery.remaining": [[60, { "toka.group": "bank", "toka.partition": 1 }]],
      "toka.standby.lag": [[5, { "toka.group": "bank", "toka.partition": 2 }]],
    });
    stop();
    expect(await collect()).toEqual(new Map());
  });

  test("a view's lag and staleness are observed per partition, until unregistered", async () => {
    const stats = (): ViewStats => ({
      table: "bank-table",
      status: "running",
      partitions: [
        { partition: 0, offset: "9", highWatermark: "9", lag: 0, staleMs: 0, recovered: true },
        { partition: 1, offset: "3", highWatermark: "8", lag: 5, staleMs: 1500, recovered: true },
      ],
      recovery: { recovered: 12, total: 12, records: 12, done: true, durationMs: 4 },
      updates: 0,
      decodeFailures: 0,
    });
    const stop = observeViewGauges(stats);
    const at = (partition: number) => ({ "toka.table": "bank-table", "toka.partition": partition });
    expect(Object.fromEntries(await collect())).toEqual({
      "toka.view.lag": [
        [0, at(0)],
        [5, at(1)],
      ],
      "toka.view.staleness": [
        [0, at(0)],
        [1500, at(1)],
      ],
    });
    stop();
    expect(await collect()).toEqual(new Map());
  });

  test("an emitter's queue counts messages until the broker acknowledged them", async () => {
    let acknowledge = () => {};
    const acknowledged = new Promise<void>((resolve) => {
      acknowledge = resolve;
    });
    const producer = {
      connect: async () => {},
      disconnect: async () => {},
      send: async () => {
        await acknowledged;
        return [];
      },
    } as unknown as ClientProducer;
    const emitter = new Emitter({
      client: { producer: () => producer } as unknown as KafkaClient,
      topic: "deposits",
      codec: jsonCodec(z.number()),
    });
    const sent = [emitter.emit("a", 1), emitter.emit("b", 2)];
    const queue = async () => (await collect()).get("toka.emitter.queue");
    await vi.waitUntil(async () => (await queue())?.[0]?.[0] === 2);
    acknowledge();
    await Promise.all(sent);
    expect(await queue()).toEqual([[0, { "toka.topic": "deposits" }]]);
    await emitter.close();
    expect(await queue()).toBeUndefined();
  });

  test("a batch runs in a span that ends, and records a failure as an error status", async () => {
    await inBatchSpan({ "toka.partition": 1 }, async () => "ok");
    await expect(
      inBatchSpan({ "toka.partition": 2 }, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(spans).toMatchObject([
      { name: "toka.batch", attributes: { "toka.partition": 1 }, ended: true, status: undefined },
      {
        name: "toka.batch",
        attributes: { "toka.partition": 2 },
        ended: true,
        status: { code: 2, message: "boom" },
      },
    ]);
  });
});
