export {
  type Aggregate,
  type AggregateDefinition,
  type DecideContext,
  defineAggregate,
} from "./aggregate.js";
export { type Connection, type ConnectionOptions, resolveConnection } from "./connection.js";
export {
  type EventLog,
  type EventLogOptions,
  type EventMeta,
  type EventRecord,
  eventLog,
  eventMeta,
} from "./event-log.js";
export { DEFAULT_PARTITIONS, ensureTopics, type NeededTopic } from "./event-topics.js";
export type { Fold } from "./fold.js";
export { EventHeader } from "./headers.js";
export { defineProjection, type Projection, type ProjectionDefinition } from "./projection.js";
export {
  isRejection,
  type Rejection,
  RejectionCode,
  RejectionRecord,
  reject,
  rejectionCodec,
} from "./rejection.js";
export {
  REPLAY_DEFAULTS,
  Replay,
  type ReplayEvents,
  type ReplayOptions,
  type ReplayResult,
  ReplayStatus,
} from "./replay.js";
export { ProgressMeter, type ReplayProgress } from "./replay-progress.js";
export {
  fromBeginning,
  fromOffsets,
  fromTime,
  type PartitionRange,
  partitionRanges,
  type ReplayFrom,
} from "./replay-start.js";
export { type AggregateSnapshot, snapshotCodec } from "./snapshot-codec.js";
export {
  type AggregateTopicsOptions,
  createAggregateTopics,
  type StartAggregateOptions,
  type StartProjectionOptions,
  startAggregate,
  startProjection,
} from "./start-group.js";
export { ALIASES_TOPIC, commandsTopic, eventsTopic, rejectionsTopic } from "./topic-names.js";
