export {
  type Aggregate,
  type AggregateDefinition,
  type DecideContext,
  defineAggregate,
} from "./aggregate.js";
export {
  AggregateClient,
  type AggregateClientOptions,
  type AggregateTopics,
  type CommandOutcome,
  type SendOptions,
} from "./aggregate-client.js";
export {
  AliasedView,
  type AliasedViewEvents,
  type AliasedViewOptions,
} from "./aliased-view.js";
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
export {
  type HistoryEntry,
  history,
  type KeyReadOptions,
  type KeyRecord,
  keyRecords,
  type StateAt,
  stateAt,
} from "./key-history.js";
export { defineProjection, type Projection, type ProjectionDefinition } from "./projection.js";
export { type RebuildOptions, type Rebuilt, rebuildProjection } from "./rebuild.js";
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
export { AliasRecord, TableAliases, type TableAliasesOptions } from "./table-aliases.js";
export { ALIASES_TOPIC, commandsTopic, eventsTopic, rejectionsTopic } from "./topic-names.js";
