import {
  type BatchObservableResult,
  metrics,
  type ObservableResult,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { TokaError } from "./errors.js";
import type { ProcessorEvents } from "./events.js";
import type { ProcessorStats } from "./processor.js";
import type { ViewStats } from "./view.js";

const SCOPE = "@toka/processor";

/**
 * OpenTelemetry metrics of a processor, fed by its typed events. Through
 * `@opentelemetry/api` they are no-ops until the application installs an SDK. Every
 * instrument carries `toka.group`; `docs/observability.md` lists them with their
 * attributes.
 */
export function processorMetrics(group: string): {
  [E in keyof ProcessorEvents]?: (...args: ProcessorEvents[E]) => void;
} {
  const meter = metrics.getMeter(SCOPE);
  const messages = meter.createCounter("toka.messages", {
    description: "input messages by outcome",
    unit: "{message}",
  });
  const deadLettered = meter.createCounter("toka.messages.dead_lettered", { unit: "{message}" });
  const skipped = meter.createCounter("toka.messages.skipped", { unit: "{message}" });
  const late = meter.createCounter("toka.messages.late", { unit: "{message}" });
  const batchDuration = meter.createHistogram("toka.batch.duration", { unit: "ms" });
  const cacheLookups = meter.createCounter("toka.cache.lookups", {
    description: "keys of a batch found in the write-back cache (hit) or read from storage (miss)",
    unit: "{key}",
  });
  const flushDuration = meter.createHistogram("toka.flush.duration", {
    description: "time to write the write-back cache: table records, local state, offsets",
    unit: "ms",
  });
  const tableRecords = meter.createCounter("toka.table.records.written", { unit: "{record}" });
  const commitDuration = meter.createHistogram("toka.commit.duration", { unit: "ms" });
  const commitFailures = meter.createCounter("toka.commit.failures", { unit: "{commit}" });
  const rebalances = meter.createCounter("toka.rebalances", {
    description: "assignments this instance received from the group",
    unit: "{rebalance}",
  });
  const partitionsMoved = meter.createCounter("toka.rebalance.partitions", {
    description: "partitions taken (assigned) or given up (revoked) in rebalances",
    unit: "{partition}",
  });
  const recovered = meter.createCounter("toka.recovery.records", { unit: "{record}" });
  const ofPartition = (e: { topic: string; partition: number }) => ({
    "toka.group": group,
    "toka.topic": e.topic,
    "toka.partition": e.partition,
  });
  const droppedAttributes = (e: TokaError) => ({
    "toka.group": group,
    "toka.topic": e.topic ?? "",
    "error.type": e.code,
  });
  return {
    "batch.processed": (e) => {
      const attributes = ofPartition(e);
      messages.add(e.processed, { ...attributes, "toka.outcome": "processed" });
      if (e.redelivered)
        messages.add(e.redelivered, { ...attributes, "toka.outcome": "redelivered" });
      if (e.duplicates) messages.add(e.duplicates, { ...attributes, "toka.outcome": "duplicate" });
      if (e.failed) messages.add(e.failed, { ...attributes, "toka.outcome": "failed" });
      batchDuration.record(e.durationMs, attributes);
      if (e.cacheHits) cacheLookups.add(e.cacheHits, { ...attributes, "toka.cache.result": "hit" });
      if (e.storageReads)
        cacheLookups.add(e.storageReads, { ...attributes, "toka.cache.result": "miss" });
    },
    "partition.flushed": (e) => {
      const attributes = { "toka.group": group, "toka.partition": e.partition };
      flushDuration.record(e.durationMs, attributes);
      tableRecords.add(e.tableRecords, attributes);
    },
    "offsets.committed": (e) => commitDuration.record(e.durationMs, ofPartition(e)),
    "offsets.commit-failed": (e) => commitFailures.add(1, ofPartition(e)),
    "group.rebalanced": (e) => {
      rebalances.add(1, { "toka.group": group });
      partitionsMoved.add(e.assigned.length, { "toka.group": group, "toka.change": "assigned" });
      partitionsMoved.add(e.revoked.length, { "toka.group": group, "toka.change": "revoked" });
    },
    "message.dead-lettered": (e) => deadLettered.add(1, droppedAttributes(e)),
    "message.skipped": (e) => skipped.add(1, droppedAttributes(e)),
    "message.late": (e) => late.add(1, droppedAttributes(e)),
    "partition.recovered": (e) =>
      recovered.add(e.records, { "toka.group": group, "toka.partition": e.partition }),
  };
}

/**
 * Gauges read from `stats` when the SDK collects: `toka.consumer.lag` (messages not yet
 * processed per owned partition and input topic), `toka.recovery.remaining` (table
 * records still to restore per recovering partition) and `toka.standby.lag` (table
 * records a standby replica is behind, per partition it stands by for). Returns the
 * function that unregisters them.
 */
export function observeProcessorGauges(stats: () => ProcessorStats): () => void {
  const meter = metrics.getMeter(SCOPE);
  const lag = meter.createObservableGauge("toka.consumer.lag", {
    description: "input messages not yet processed, per owned partition",
    unit: "{message}",
  });
  const recovery = meter.createObservableGauge("toka.recovery.remaining", {
    description: "table records still to restore, per recovering partition",
    unit: "{record}",
  });
  const standbyLag = meter.createObservableGauge("toka.standby.lag", {
    description: "table records a standby replica is behind, per partition it stands by for",
    unit: "{record}",
  });
  const observe = (observer: BatchObservableResult) => {
    const { group, partitions, standbys } = stats();
    for (const { partition, lag: records } of standbys) {
      if (records !== undefined)
        observer.observe(standbyLag, records, { "toka.group": group, "toka.partition": partition });
    }
    for (const { partition, inputs, recoveryRemaining } of partitions) {
      const attributes = { "toka.group": group, "toka.partition": partition };
      if (recoveryRemaining !== undefined)
        observer.observe(recovery, recoveryRemaining, attributes);
      for (const { topic, lag: messages } of inputs) {
        if (messages !== undefined)
          observer.observe(lag, messages, { ...attributes, "toka.topic": topic });
      }
    }
  };
  const gauges = [lag, recovery, standbyLag];
  meter.addBatchObservableCallback(observe, gauges);
  return () => meter.removeBatchObservableCallback(observe, gauges);
}

/**
 * Gauges of a view read from `stats` when the SDK collects, per partition
 * (`toka.table`, `toka.partition`): `toka.view.lag` (table records not applied yet) and
 * `toka.view.staleness` (ms since the partition was last caught up). Returns the
 * function that unregisters them.
 */
export function observeViewGauges(stats: () => ViewStats): () => void {
  const meter = metrics.getMeter(SCOPE);
  const lag = meter.createObservableGauge("toka.view.lag", {
    description: "table records a view partition has not applied yet",
    unit: "{record}",
  });
  const staleness = meter.createObservableGauge("toka.view.staleness", {
    description: "time since a view partition was last caught up with its table",
    unit: "ms",
  });
  const observe = (observer: BatchObservableResult) => {
    const { table, partitions } = stats();
    for (const p of partitions) {
      const attributes = { "toka.table": table, "toka.partition": p.partition };
      observer.observe(lag, p.lag, attributes);
      observer.observe(staleness, p.staleMs, attributes);
    }
  };
  meter.addBatchObservableCallback(observe, [lag, staleness]);
  return () => meter.removeBatchObservableCallback(observe, [lag, staleness]);
}

/**
 * The gauge `toka.emitter.queue` (`toka.topic`): messages an emitter holds that the
 * broker has not acknowledged yet. Returns the function that unregisters it.
 */
export function observeEmitterQueue(topic: string, depth: () => number): () => void {
  const gauge = metrics.getMeter(SCOPE).createObservableGauge("toka.emitter.queue", {
    description: "messages queued or in flight in an emitter",
    unit: "{message}",
  });
  const observe = (result: ObservableResult) => result.observe(depth(), { "toka.topic": topic });
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
