import type { TokaError } from "./errors.js";
import type { Transitions } from "./lifecycle.js";

/**
 * Lifecycle states of a processor, moving as {@link PROCESSOR_TRANSITIONS} allows:
 *
 * ```
 * idle → starting → recovering ⇄ running → closing → closed
 * ```
 *
 * `starting` goes straight to `running` when nothing is to recover; `close()` from
 * `idle` goes to `closing`; `starting`, `recovering` and `running` may end in `failed`,
 * which is final.
 */
export const ProcessorStatus = {
  Idle: "idle",
  Starting: "starting",
  /** Running; some assigned partition is still recovering its table. */
  Recovering: "recovering",
  Running: "running",
  Closing: "closing",
  Closed: "closed",
  Failed: "failed",
} as const;
export type ProcessorStatus = (typeof ProcessorStatus)[keyof typeof ProcessorStatus];

/** The moves between {@link ProcessorStatus}es a processor makes. */
export const PROCESSOR_TRANSITIONS: Transitions<ProcessorStatus> = {
  idle: ["starting", "closing"],
  // Straight to running when the first assignment has nothing to recover.
  starting: ["recovering", "running", "closing", "failed"],
  recovering: ["running", "closing", "failed"],
  // A rebalance that assigns partitions to restore.
  running: ["recovering", "closing", "failed"],
  closing: ["closed"],
  closed: [],
  failed: [],
};

/** States of one partition of a processor. */
export const PartitionState = {
  Recovering: "recovering",
  Running: "running",
  Closing: "closing",
} as const;
export type PartitionState = (typeof PartitionState)[keyof typeof PartitionState];

/** Typed, namespaced events of a processor: `processor.on("batch.processed", (e) => ...)`. */
export interface ProcessorEvents {
  status: [status: ProcessorStatus];
  "partition.assigned": [event: { partition: number }];
  /** Recovery progress: table records applied so far, and how many there were to apply. */
  "partition.recovering": [event: { partition: number; recovered: number; total: number }];
  "partition.recovered": [event: { partition: number; records: number; durationMs: number }];
  "partition.revoked": [event: { partition: number }];
  "batch.processed": [
    event: {
      topic: string;
      partition: number;
      /** Messages handed to callbacks. */
      processed: number;
      /** Messages whose effects were already applied (redelivered after a crash). */
      redelivered: number;
      /**
       * Messages applied before under another offset: their `toka-id` (an upstream retry),
       * or their `toka-origin` (a record a toka group produced again after a crash).
       */
      duplicates: number;
      failed: number;
      /**
       * Distinct keys of the batch found in the write-back cache (changed since the last
       * flush), and read from local storage: the cache's hit rate.
       */
      cacheHits: number;
      storageReads: number;
      durationMs: number;
    },
  ];
  /**
   * The write-back cache of a partition was written: its table records produced, its
   * local state and checkpoint stored, its input offsets committed (or, transactional,
   * committed with them). Everything `batch.processed` reported before is now durable.
   */
  "partition.flushed": [event: { partition: number; tableRecords: number; durationMs: number }];
  /**
   * The write-back cache of a partition was dropped unwritten (a rebalance began, or its
   * write failed): the batches `batch.processed` reported since the last
   * `partition.flushed` are read and processed again (by this instance or the next owner).
   */
  "partition.unflushed-dropped": [event: { partition: number }];
  /**
   * The group's offset of an input partition was committed (not in the transactional
   * mode, where offsets commit with the flush's transaction).
   */
  "offsets.committed": [
    event: { topic: string; partition: number; offset: string; durationMs: number },
  ];
  /** A commit failed; it is retried with backoff (see `docs/guarantees.md`). */
  "offsets.commit-failed": [
    event: { topic: string; partition: number; offset: string; error: unknown },
  ];
  /** The group gave this instance a new assignment: what it took, gave up and kept. */
  "group.rebalanced": [
    event: {
      assigned: readonly number[];
      revoked: readonly number[];
      kept: readonly number[];
    },
  ];
  /**
   * The group gave this instance a standby replica of a partition (`standbyReplicas`):
   * its tables are followed from `tableOffset`, the group table offset its local state had.
   */
  "standby.assigned": [event: { partition: number; tableOffset: string }];
  /**
   * A standby's lag changed: its tables grew (`lag` records behind where they end now), or
   * it read up to where they ended (`lag` 0).
   */
  "standby.progress": [event: { partition: number; tableOffset: string; lag: number }];
  /**
   * A standby stopped: the partition was assigned to this instance (it recovers from
   * `tableOffset` on), or its standby moved elsewhere, or the processor closed.
   */
  "standby.released": [event: { partition: number; tableOffset: string }];
  "message.skipped": [error: TokaError];
  "message.dead-lettered": [error: TokaError];
  /** A message too late for a windowed aggregate, dead-lettered (`TOKA_LATE_RECORD`). */
  "message.late": [error: TokaError];
  /** A message skipped as a duplicate (see `batch.processed`'s `duplicates`). */
  "message.duplicate": [
    event: { topic: string; partition: number; offset: string; key: string; id: string },
  ];
  /** The processor stopped with this error. */
  "processor.failed": [error: TokaError];
}
