export type {
  Checkpoint,
  IterateOptions,
  Storage,
  StorageFactory,
  StorageStats,
  WriteBatch,
} from "./storage.js";
export { StorageStatus } from "./storage.js";
