export { formatBytes, toJson, ValueFormat } from "@toka/monitor";
export {
  type CliContext,
  cliLogger,
  parseBrokers,
  parseOffsets,
  parseTime,
} from "./cli-context.js";
export { type CliIo, processIo } from "./cli-io.js";
export { type SecurityFlags, securityFromFlags } from "./cli-security.js";
export { type LoadedFold, loadFold } from "./load-definition.js";
export { createProgram, main } from "./program.js";
export { formatDuration, formatProgress, ProgressLine } from "./progress-line.js";
