import type { PartitionState, Processor, ProcessorEvents, ProcessorStatus } from "@toka/processor";
import {
  type ThroughputSeries,
  ThroughputWindow,
  type ThroughputWindowOptions,
} from "./throughput-window.js";

/** Table records a partition has restored so far, of how many. */
export interface RecoveryProgress {
  readonly recovered: number;
  readonly total: number;
}

/** A partition as the instance that owns it sees it. */
export interface WatchedPartition {
  readonly partition: number;
  readonly state: PartitionState;
  /** Records of its inputs not read yet; `undefined` until the first fetch says. */
  readonly lag: number | undefined;
  /** The table restore: in progress, or its final count once done. */
  readonly recovery: RecoveryProgress | undefined;
}

/** A standby replica an instance keeps of another instance's partition. */
export interface WatchedStandby {
  readonly partition: number;
  /** Table records it is behind; `undefined` until it first asked where its tables end. */
  readonly lag: number | undefined;
}

/** What one in-process processor shows the monitor. */
export interface InstanceSnapshot {
  readonly group: string;
  readonly status: ProcessorStatus;
  readonly partitions: readonly WatchedPartition[];
  /** The standby replicas it keeps (`standbyReplicas`). */
  readonly standbys: readonly WatchedStandby[];
  /** Messages handed to its callbacks. */
  readonly throughput: ThroughputSeries;
  /** Messages it dead-lettered since the monitor started watching. */
  readonly deadLettered: number;
}

/** The processor surface the watch needs; every {@link Processor} is one. */
export type WatchableProcessor = Pick<Processor, "group" | "status" | "stats" | "on" | "off">;

/**
 * Follows an in-process processor through its events: recovery progress per
 * partition (`partition.recovering`, `partition.recovered`) and messages processed
 * (`batch.processed`) into a {@link ThroughputWindow}. Its partitions, states and lag
 * come from `processor.stats()` when a snapshot is taken.
 */
export class ProcessorWatch {
  private readonly throughput: ThroughputWindow;
  private readonly recovery = new Map<number, RecoveryProgress>();
  private deadLettered = 0;
  private readonly listeners: {
    [E in keyof ProcessorEvents]?: (...args: ProcessorEvents[E]) => void;
  } = {
    "partition.recovering": (e) => this.recovery.set(e.partition, e),
    "partition.recovered": (e) =>
      this.recovery.set(e.partition, { recovered: e.records, total: e.records }),
    "partition.revoked": (e) => this.recovery.delete(e.partition),
    "batch.processed": (e) => this.throughput.add(e.processed, this.now()),
    "message.dead-lettered": () => {
      this.deadLettered++;
    },
  };

  constructor(
    readonly processor: WatchableProcessor,
    options: ThroughputWindowOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.throughput = new ThroughputWindow(options);
    for (const [event, listener] of Object.entries(this.listeners)) {
      processor.on(event as keyof ProcessorEvents, listener as never);
    }
  }

  get group(): string {
    return this.processor.group;
  }

  snapshot(): InstanceSnapshot {
    const stats = this.processor.stats();
    return {
      group: stats.group,
      status: stats.status,
      partitions: stats.partitions.map((p) => {
        const lags = p.inputs.map((i) => i.lag);
        return {
          partition: p.partition,
          state: p.state,
          lag: lags.some((l) => l === undefined)
            ? undefined
            : lags.reduce<number>((sum, l) => sum + l!, 0),
          recovery: this.recovery.get(p.partition),
        };
      }),
      standbys: stats.standbys.map(({ partition, lag }) => ({ partition, lag })),
      throughput: this.throughput.series(this.now()),
      deadLettered: this.deadLettered,
    };
  }

  /** Stops listening to the processor's events. */
  close(): void {
    for (const [event, listener] of Object.entries(this.listeners)) {
      this.processor.off(event as keyof ProcessorEvents, listener as never);
    }
  }
}
