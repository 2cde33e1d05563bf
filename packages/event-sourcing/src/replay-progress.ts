/** How far a replay is. Counted in offsets of the event log (transaction markers included). */
export interface ReplayProgress {
  /** Offsets read so far. */
  readonly done: number;
  /** Offsets between the start positions and the high watermarks taken at start. */
  readonly total: number;
  /** `done / total`, 1 when there is nothing to read. */
  readonly fraction: number;
  /** Offsets per second since the replay started reading. */
  readonly ratePerSecond: number;
  /** Estimated time left in ms; `undefined` until there is a rate. */
  readonly etaMs: number | undefined;
  readonly elapsedMs: number;
}

/** Computes {@link ReplayProgress} from counts and a clock. */
export class ProgressMeter {
  private readonly startedAt: number;

  constructor(
    readonly total: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  /** The progress after `done` offsets. */
  at(done: number): ReplayProgress {
    const elapsedMs = Math.max(0, this.now() - this.startedAt);
    const ratePerSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const left = Math.max(0, this.total - done);
    return {
      done,
      total: this.total,
      fraction: this.total === 0 ? 1 : Math.min(1, done / this.total),
      ratePerSecond,
      etaMs: left === 0 ? 0 : ratePerSecond > 0 ? (left * 1000) / ratePerSecond : undefined,
      elapsedMs,
    };
  }
}
