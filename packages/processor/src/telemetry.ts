import {
  metrics,
  type ObservableResult,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { ProcessorEvents } from "./events.js";
import type { ProcessorStats } from "./processor.js";

const SCOPE = "@toka/processor";

/**
 * OpenTelemetry metrics of a processor, fed by its typed events. Through
 * `@opentelemetry/api` they are no-ops until the application installs an SDK.
 *
 * Instruments: `toka.messages` (counter; attribute `toka.outcome` = processed,
 * redelivered, duplicate, failed), `toka.messages.dead_lettered`,
 * `toka.messages.skipped`, `toka.batch.duration` (histogram, ms) and
 * `toka.recovery.records` (counter), each with `toka.group` and `toka.partition`.
 */
export function processorMetrics(group: string): {
  [E in keyof ProcessorEvents]?: (...args: ProcessorEvents[E]) => void;
} {
  const meter = metrics.getMeter(SCOPE);
  const messages = meter.createCounter("toka.messages", {
    description: "input messages by outcome",
  });
  const deadLettered = meter.createCounter("toka.messages.dead_lettered");
  const skipped = meter.createCounter("toka.messages.skipped");
  const batchDuration = meter.createHistogram("toka.batch.duration", { unit: "ms" });
  const recovered = meter.createCounter("toka.recovery.records");
  return {
    "batch.processed": (e) => {
      const attributes = {
        "toka.group": group,
        "toka.topic": e.topic,
        "toka.partition": e.partition,
      };
      messages.add(e.processed, { ...attributes, "toka.outcome": "processed" });
      if (e.redelivered)
        messages.add(e.redelivered, { ...attributes, "toka.outcome": "redelivered" });
      if (e.duplicates) messages.add(e.duplicates, { ...attributes, "toka.outcome": "duplicate" });
      if (e.failed) messages.add(e.failed, { ...attributes, "toka.outcome": "failed" });
      batchDuration.record(e.durationMs, attributes);
    },
    "message.dead-lettered": (e) =>
      deadLettered.add(1, { "toka.group": group, "toka.topic": e.topic ?? "" }),
    "message.skipped": (e) => skipped.add(1, { "toka.group": group, "toka.topic": e.topic ?? "" }),
    "partition.recovered": (e) =>
      recovered.add(e.records, { "toka.group": group, "toka.partition": e.partition }),
  };
}

/**
 * The gauge `toka.consumer.lag` (messages not yet processed per owned partition and input
 * topic, attributes `toka.group`, `toka.topic`, `toka.partition`), read from `stats` when
 * the SDK collects. Returns the function that unregisters it.
 */
export function observeLag(stats: () => ProcessorStats): () => void {
  const gauge = metrics.getMeter(SCOPE).createObservableGauge("toka.consumer.lag", {
    description: "input messages not yet processed, per owned partition",
    unit: "{message}",
  });
  const observe = (result: ObservableResult) => {
    const { group, partitions } = stats();
    for (const { partition, inputs } of partitions) {
      for (const { topic, lag } of inputs) {
        if (lag !== undefined)
          result.observe(lag, {
            "toka.group": group,
            "toka.topic": topic,
            "toka.partition": partition,
          });
      }
    }
  };
  gauge.addCallback(observe);
  return () => gauge.removeCallback(observe);
}

/** Runs `work` in a span `toka.batch` (a child of the active context); records failures. */
export async function inBatchSpan<T>(
  attributes: Record<string, string | number>,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return trace.getTracer(SCOPE).startActiveSpan("toka.batch", { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: (error as Error)?.message ?? String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  });
}
