export type { PartitionOwners } from "./client/member-user-data.js";
export type { Clock } from "./clock.js";
export {
  checkSecurityOptions,
  SaslMechanism,
  type SaslOauthBearerOptions,
  type SaslOptions,
  type SaslPasswordOptions,
  type SecurityOptions,
  type SslOptions,
} from "./connection-security.js";
export type { Context, EmitOptions as ContextEmitOptions } from "./context.js";
export {
  type FiredTimer,
  type ScheduleOptions,
  TimerClock,
} from "./context.js";
export { DeadLetterHeader } from "./dead-letter.js";
export {
  type EmitOptions,
  Emitter,
  type EmitterOptions,
  EmitterStatus,
} from "./emitter.js";
export { type ErrorFields, errorFields } from "./error-fields.js";
export {
  type ErrorCoordinates,
  isTokaError,
  TokaError,
  TokaErrorCode,
  type TokaErrorOptions,
  tokaErrorCode,
} from "./errors.js";
export { PartitionState, type ProcessorEvents, ProcessorStatus } from "./events.js";
export {
  type AnyContext,
  type Callback,
  defineGroup,
  type EdgeBuilders,
  type EdgeMap,
  type EventTimeExtractor,
  type GroupContext,
  type GroupDefinition,
  type GroupGraph,
  type InputEdge,
  type InputOptions,
  input,
  type JoinEdge,
  join,
  type LookupEdge,
  type LoopDeclaration,
  type LoopEdge,
  lookup,
  loop,
  type OutputEdge,
  output,
  type PersistEdge,
  type PersistOptions,
  persist,
  type TableTtl,
  type TableValue,
  type TimerEdge,
  type WindowedMap,
} from "./group-graph.js";
export {
  consoleLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  silentLogger,
} from "./logger.js";
export {
  DEFAULTS,
  type DedupWindow,
  ErrorPolicy,
  Guarantee,
  type ProcessorOptions,
  StartFrom,
} from "./options.js";
export type { OwnedTable } from "./owned-table.js";
export { type PartitionStats, Processor, type ProcessorStats } from "./processor.js";
export {
  QUERY_CLIENT_DEFAULTS,
  type QueryAnswer,
  type QueryClient,
  type QueryClientOptions,
  queryClient,
} from "./query-client.js";
export {
  FORWARD_TIMEOUT_MS,
  type KeyLocation,
  MAX_QUERY_HOPS,
  QueryHeader,
} from "./query-forwarding.js";
export {
  type MountedMonitor,
  QUERY_SERVICE_DEFAULTS,
  type QueryableView,
  type QueryService,
  type QueryServiceOptions,
  serveViews,
} from "./query-service.js";
export type { StandbyStats } from "./standby-replicas.js";
export { streamTimeOfMetadata } from "./stream-time.js";
export {
  deadLetterTopic,
  type GroupName,
  ID_HEADER,
  loopTopic,
  type TopicName,
  tableTopic,
  timersTopic,
  windowsTopic,
} from "./topic-names.js";
export {
  View,
  type ViewEvents,
  type ViewIterateOptions,
  type ViewPartitionStats,
  type ViewRecovery,
  type ViewStats,
  ViewStatus,
  type ViewUpdate,
  type ViewWaitOptions,
} from "./view.js";
export { VIEW_DEFAULTS, type ViewOptions } from "./view-options.js";
export { decodeWindowEntry, type WindowEntry } from "./window-entry.js";
export { WindowView, type WindowViewOptions } from "./window-view.js";
export {
  EmitMode,
  type WindowedAggregate,
  type WindowedOptions,
  type WindowResult,
  windowed,
} from "./windowed-aggregate.js";
export {
  hopping,
  type SessionWindows,
  type SlidingWindows,
  session,
  sliding,
  type TimeWindow,
  type TimeWindows,
  tumbling,
  WINDOW_DEFAULTS,
  type WindowDefinition,
  WindowKind,
  type WindowOptions,
} from "./windows.js";
