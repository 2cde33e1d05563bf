import {
  type Meter,
  type MeterProvider,
  metrics,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { afterAll, describe, expect, test } from "vitest";
import { TokaError, TokaErrorCode } from "../src/index.js";
import { inBatchSpan, observeLag, processorMetrics } from "../src/telemetry.js";

/** A meter provider that records every measurement, standing in for an SDK. */
const recorded: { instrument: string; value: number; attributes: Record<string, unknown> }[] = [];
const recorder = (instrument: string) => ({
  add: (value: number, attributes: Record<string, unknown> = {}) =>
    recorded.push({ instrument, value, attributes }),
  record: (value: number, attributes: Record<string, unknown> = {}) =>
    recorded.push({ instrument, value, attributes }),
});
/** Callbacks of observable instruments, by instrument name. */
const observers = new Map<string, Set<(result: unknown) => void>>();
const observable = (instrument: string) => {
  const callbacks = observers.get(instrument) ?? new Set();
  observers.set(instrument, callbacks);
  return {
    addCallback: (callback: (result: unknown) => void) => callbacks.add(callback),
    removeCallback: (callback: (result: unknown) => void) => callbacks.delete(callback),
  };
};
const meterProvider = {
  getMeter: () =>
    ({
      createCounter: recorder,
      createHistogram: recorder,
      createObservableGauge: observable,
    }) as unknown as Meter,
} as MeterProvider;

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

metrics.setGlobalMeterProvider(meterProvider);
trace.setGlobalTracerProvider(tracerProvider);
afterAll(() => {
  metrics.disable();
  trace.disable();
});

describe("OpenTelemetry instrumentation", () => {
  test("processor events become measurements with the group, topic and partition", () => {
    const listeners = processorMetrics("bank");
    listeners["batch.processed"]?.({
      topic: "deposits",
      partition: 3,
      processed: 10,
      redelivered: 2,
      duplicates: 1,
      failed: 0,
      durationMs: 7,
    });
    listeners["message.dead-lettered"]?.(
      new TokaError(TokaErrorCode.CallbackFailed, "x", { topic: "deposits" }),
    );
    const attributes = { "toka.group": "bank", "toka.topic": "deposits", "toka.partition": 3 };
    expect(recorded).toEqual([
      {
        instrument: "toka.messages",
        value: 10,
        attributes: { ...attributes, "toka.outcome": "processed" },
      },
      {
        instrument: "toka.messages",
        value: 2,
        attributes: { ...attributes, "toka.outcome": "redelivered" },
      },
      {
        instrument: "toka.messages",
        value: 1,
        attributes: { ...attributes, "toka.outcome": "duplicate" },
      },
      { instrument: "toka.batch.duration", value: 7, attributes },
      {
        instrument: "toka.messages.dead_lettered",
        value: 1,
        attributes: { "toka.group": "bank", "toka.topic": "deposits" },
      },
    ]);
  });

  test("lag is observed per owned partition and input topic, until unregistered", () => {
    const stop = observeLag(() => ({
      group: "bank",
      status: "running",
      partitions: [
        {
          partition: 0,
          state: "running",
          tableOffset: "5",
          inputs: [
            { topic: "deposits", offset: "7", highWatermark: "10", lag: 3 },
            { topic: "bank-loop", offset: undefined, highWatermark: undefined, lag: undefined },
          ],
        },
      ],
    }));
    const observed: [number, unknown][] = [];
    for (const callback of observers.get("toka.consumer.lag") ?? [])
      callback({
        observe: (value: number, attributes: unknown) => observed.push([value, attributes]),
      });
    expect(observed).toEqual([
      [3, { "toka.group": "bank", "toka.topic": "deposits", "toka.partition": 0 }],
    ]);
    stop();
    expect(observers.get("toka.consumer.lag")?.size).toBe(0);
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
