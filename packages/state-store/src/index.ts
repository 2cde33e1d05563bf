export { compareKeys } from "./key-range.js";
export {
  LEVEL_STORAGE_DEFAULTS,
  type LevelStorageFactory,
  type LevelStorageOptions,
  levelStorage,
  type ResolvedLevelStorageOptions,
} from "./level-storage.js";
export { type MemoryStorageFactory, memoryStorage } from "./memory-storage.js";
export type {
  Checkpoint,
  IterateOptions,
  Storage,
  StorageFactory,
  StorageStats,
  WriteBatch,
} from "./storage.js";
export { StorageStatus } from "./storage.js";
export {
  isStorageError,
  StorageError,
  StorageErrorCode,
  type StorageErrorOptions,
  TOKA_ERROR_BRAND,
} from "./storage-error.js";
export {
  decodeWindowKey,
  isWindowTime,
  MAX_WINDOWED_KEY_LENGTH,
  type WindowKeyParts,
  windowKey,
} from "./window-key.js";
export {
  type StoredWindow,
  WINDOW_STORE_DEFAULTS,
  type WindowExpireOptions,
  type WindowFetchOptions,
  type WindowPut,
  type WindowRef,
  WindowStore,
  type WindowWriteBatch,
} from "./window-store.js";
export { type WindowTableStorageOptions, windowTableStorage } from "./window-table-storage.js";
export { readWindowRecordValue, windowRecordValue } from "./window-value.js";
