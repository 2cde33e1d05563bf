import { Processor, type ProcessorOptions } from "@toka/processor";
import type { Aggregate } from "./aggregate.js";
import { type ConnectionOptions, resolveConnection } from "./connection.js";
import { DEFAULT_PARTITIONS, ensureTopics } from "./event-topics.js";
import type { Projection } from "./projection.js";

/** Options of {@link startAggregate}: a processor's options plus topic creation. */
export interface StartAggregateOptions extends ProcessorOptions {
  /**
   * Partitions of the commands, events and rejections topics when they are created;
   * existing topics keep theirs. Default {@link DEFAULT_PARTITIONS} (8).
   */
  readonly partitions?: number;
}

/** Options of {@link startProjection}. */
export interface StartProjectionOptions extends ProcessorOptions {
  /** The group to run, e.g. the group a replay built. Default: the projection's name. */
  readonly group?: string;
}

/** Options of {@link createAggregateTopics}. */
export interface AggregateTopicsOptions extends ConnectionOptions {
  /** Partitions of created topics when the commands topic is missing. Default 8. */
  readonly partitions?: number;
  /** Replication factor of created topics. Default: the broker's default. */
  readonly replicationFactor?: number;
}

/**
 * Creates the aggregate's missing topics: commands, the event log (`retention.ms=-1`)
 * and rejections, all with the partition count of the existing ones (else
 * `partitions`). {@link startAggregate} calls it; call it yourself to run the group
 * with a `Processor` of your own (e.g. on the in-memory tester).
 * @returns the partition count.
 * @throws TokaError `TOKA_NOT_COPARTITIONED` when existing ones differ, `TOKA_KAFKA_FAILED`.
 */
export function createAggregateTopics(
  aggregate: Pick<
    Aggregate<unknown, unknown, unknown>,
    "name" | "commandsTopic" | "eventsTopic" | "rejectionsTopic"
  >,
  options: AggregateTopicsOptions,
): Promise<number> {
  const connection = resolveConnection("aggregate", options, { group: aggregate.name });
  return ensureTopics(
    connection,
    [
      { topic: aggregate.commandsTopic, kind: "stream" },
      { topic: aggregate.eventsTopic, kind: "log" },
      { topic: aggregate.rejectionsTopic, kind: "stream" },
    ],
    options.partitions ?? DEFAULT_PARTITIONS,
    options.replicationFactor,
  );
}

/**
 * Creates the aggregate's missing topics (commands; the event log with
 * `retention.ms=-1`; rejections — all with the commands topic's partition count) and
 * starts a {@link Processor} of its group. The guarantee defaults to
 * `exactly-once-transactional`: the events, the new snapshot and the command's offset
 * commit atomically, so the event log — the source of truth — never holds an event
 * whose snapshot was lost or the other way round, and read_committed readers see each
 * event once. `exactly-once` is faster; its event log may then repeat an event after
 * a crash (with the same `toka-id`, which projections and replays drop).
 *
 * @returns the started processor; close it to stop.
 * @throws TokaError as `Processor.start` and `TOKA_INVALID_CONFIG` for invalid options.
 */
export async function startAggregate<C, E, S>(
  aggregate: Aggregate<C, E, S>,
  options: StartAggregateOptions,
): Promise<Processor<Aggregate<C, E, S>["graph"]>> {
  const { partitions: _, ...processorOptions } = options;
  const connection = resolveConnection("aggregate", options, { group: aggregate.name });
  await createAggregateTopics(aggregate, {
    ...options,
    client: connection.client,
    logger: connection.logger,
  });
  const processor = new Processor(aggregate.graph, {
    guarantee: "exactly-once-transactional",
    ...processorOptions,
    client: connection.client,
    logger: connection.logger,
  });
  await processor.start();
  return processor;
}

/**
 * Starts a {@link Processor} of a projection's group (or of `group`, e.g. the group
 * left by a replay). The guarantee defaults to `exactly-once`: events repeated in the
 * log after a crash carry the same `toka-id` and are applied once.
 *
 * @throws TokaError as `Processor.start` (e.g. `TOKA_TOPIC_MISSING` while the event
 * log does not exist yet: start the aggregate first).
 */
export async function startProjection<E, R>(
  projection: Projection<E, R>,
  options: StartProjectionOptions,
): Promise<Processor<Projection<E, R>["graph"]>> {
  const { group, ...processorOptions } = options;
  const connection = resolveConnection("projection", options, { group: projection.name });
  const processor = new Processor(group ? projection.graphFor(group) : projection.graph, {
    guarantee: "exactly-once",
    ...processorOptions,
    client: connection.client,
    logger: connection.logger,
  });
  await processor.start();
  return processor;
}
