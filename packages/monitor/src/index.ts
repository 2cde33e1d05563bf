export { CommitRate } from "./commit-rate.js";
export {
  type DeadLetter,
  deadLetterOf,
  type ReadDeadLettersOptions,
  readDeadLetters,
  valuePreview,
} from "./dead-letters.js";
export { formatBytes, toJson, ValueFormat } from "./format-value.js";
export { groupLag, type PartitionLag } from "./group-lag.js";
export { type GroupOverview, groupOverview, type PartitionOverview } from "./group-overview.js";
export { createMonitor, MONITOR_DEFAULTS, type Monitor, type MonitorOptions } from "./monitor.js";
export {
  type InstanceSnapshot,
  ProcessorWatch,
  type RecoveryProgress,
  type WatchableProcessor,
  type WatchedPartition,
} from "./processor-watch.js";
export { type ServeMonitorOptions, serveMonitor } from "./serve-monitor.js";
export { lookupTableKey, type TableLookup, type TableRecord } from "./table-lookup.js";
export {
  THROUGHPUT_DEFAULTS,
  type ThroughputSeries,
  ThroughputWindow,
  type ThroughputWindowOptions,
} from "./throughput-window.js";
