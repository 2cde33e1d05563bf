import {
  Emitter,
  type GroupGraph,
  type Guarantee,
  type Logger,
  Processor,
  silentLogger,
  streamTimeOfMetadata,
  type TokaError,
} from "@toka/processor";
import { type KafkaClient, kafkajsClient } from "@toka/processor/kafka";
import { type SensorNames, sensorNames, streamsOf } from "./names.js";
import { type Reading, readingCodec } from "./reading.js";
import { type SensorResult, sensorResults } from "./sensor-results.js";
import { sensorSilence } from "./sensor-silence.js";
import { sensorStats } from "./sensor-stats.js";

/** Settings of one sensor service. */
export interface SensorServiceSettings {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own, e.g. the in-memory tester's. Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** Topic and group names. Default `sensorNames()`. */
  readonly names?: SensorNames;
  /**
   * Partitions of the streams the service creates: the readings, the three result topics
   * and the alerts, which the results group reads together. Default 4.
   */
  readonly partitions?: number;
  /**
   * Gets every result the statistics group sends and every alert of the silence group,
   * once it is committed.
   */
  readonly onResult: (result: SensorResult) => void;
  /** Told about every reading dead-lettered as too late for its windows. */
  readonly onLate?: (error: TokaError) => void;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** A running sensor service. */
export interface SensorService {
  readonly names: SensorNames;
  /** Sends readings to `sensor-readings`, keyed by sensor. */
  readonly readings: Emitter<Reading>;
  /** Resolves with the error of a processor when one of them fails. */
  readonly failure: Promise<Error>;
  /**
   * The stream time the statistics group continues from (see `ctx.streamTime`): the
   * latest `measuredAt` of any reading it committed, over its partitions, as its offset
   * commits carry it; undefined when it has committed none. Windows from before it minus
   * the grace are closed, so a reading measured earlier is late.
   */
  readonly resumesAt: number | undefined;
  /**
   * Graceful shutdown: closes the emitter, then the processors (each finishes its
   * in-flight batch and commits). Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts the sensor service: the statistics group, which folds readings into windows and
 * sends final results, the silence group, which sends an alert when a sensor stays
 * silent, the results group, which reads both back for `onResult`, and an emitter of
 * readings.
 *
 * The statistics and silence groups run exactly-once: a reading is in its windows once,
 * and each final result and each alert is written once, even across crashes and
 * restarts. The results group reads only committed results; it runs at-least-once, as
 * printing cannot be undone.
 *
 * @throws TokaError when Kafka is unreachable or a topic cannot be created; Error without
 * brokers or client.
 */
export async function startSensorService(settings: SensorServiceSettings): Promise<SensorService> {
  const names = settings.names ?? sensorNames();
  const logger = settings.logger ?? silentLogger;
  if (!settings.client && !settings.brokers?.length) {
    throw new Error('the sensor service needs "brokers" (e.g. ["127.0.0.1:19092"]) or a "client"');
  }
  const client =
    settings.client ??
    kafkajsClient({ brokers: settings.brokers!, clientId: "sensor-service", logger });

  const admin = client.admin();
  await admin.connect();
  let resumesAt: number | undefined;
  try {
    await admin.createTopics(
      streamsOf(names).map((topic) => ({
        topic,
        partitions: settings.partitions ?? 4,
        compacted: false,
      })),
    );
    // toka keeps a partition's stream time in the metadata of the group's offset commits.
    const committed = await admin.committedMetadata(names.stats, names.readings);
    const times = [...committed.values()].flatMap((m) => streamTimeOfMetadata(m) ?? []);
    resumesAt = times.length > 0 ? Math.max(...times) : undefined;
  } finally {
    await admin.disconnect();
  }

  let report: (error: Error) => void = () => {};
  const failure = new Promise<Error>((resolve) => {
    report = resolve;
  });
  const processor = (graph: GroupGraph, guarantee: Guarantee) =>
    new Processor(graph, { client, guarantee, logger }).on("processor.failed", (error) =>
      report(error),
    );

  // Closed in reverse start order: the emitter first, the results group last.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error("closing failed", { error }));
    }
  };
  const started = <T extends { close(): Promise<void> }>(component: T): T => {
    closers.push(() => component.close());
    return component;
  };

  let readings: Emitter<Reading>;
  try {
    const results = started(processor(sensorResults(names, settings.onResult), "at-least-once"));
    const stats = started(processor(sensorStats(names), "exactly-once"));
    const silence = started(processor(sensorSilence(names), "exactly-once"));
    const { onLate } = settings;
    if (onLate) stats.on("message.late", (error) => onLate(error));
    await Promise.all([results.start(), stats.start(), silence.start()]);
    readings = started(new Emitter({ client, topic: names.readings, codec: readingCodec, logger }));
  } catch (error) {
    await closeAll();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= closeAll();
    return closing;
  };
  return {
    names,
    readings,
    failure,
    resumesAt,
    close,
    [Symbol.asyncDispose]: close,
  };
}
