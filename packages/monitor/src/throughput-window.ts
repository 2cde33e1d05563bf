/** Options of {@link ThroughputWindow}. */
export interface ThroughputWindowOptions {
  /** How far back the window reaches, in ms. Default 5 minutes. */
  readonly windowMs?: number;
  /** Width of one bucket, in ms; `windowMs` must be a multiple of it. Default 5,000. */
  readonly bucketMs?: number;
}

/** Named defaults of {@link ThroughputWindowOptions}. */
export const THROUGHPUT_DEFAULTS = { windowMs: 5 * 60_000, bucketMs: 5_000 } as const;

/** Message counts over the last minutes, one number per bucket, oldest first. */
export interface ThroughputSeries {
  /** Start of the first bucket, ms since the epoch. */
  readonly start: number;
  readonly bucketMs: number;
  readonly counts: readonly number[];
  /** Messages per second over the newest full bucket and the current one. */
  readonly perSecond: number;
}

/**
 * Counts of messages in fixed time buckets over a sliding window, in a ring of
 * `windowMs / bucketMs` slots: memory stays constant however long the monitor runs,
 * and a slot left from a previous lap of the ring is recognized by its bucket number
 * and counted as zero.
 */
export class ThroughputWindow {
  private readonly bucketMs: number;
  private readonly counts: number[];
  /** The bucket number (time / bucketMs) each slot's count belongs to. */
  private readonly buckets: number[];

  /** @throws RangeError when the window is not a positive multiple of the bucket. */
  constructor(options: ThroughputWindowOptions = {}) {
    const windowMs = options.windowMs ?? THROUGHPUT_DEFAULTS.windowMs;
    this.bucketMs = options.bucketMs ?? THROUGHPUT_DEFAULTS.bucketMs;
    const slots = windowMs / this.bucketMs;
    if (!Number.isInteger(slots) || slots < 2) {
      throw new RangeError(
        `windowMs (${windowMs}) must be a multiple of bucketMs (${this.bucketMs}), at least twice it`,
      );
    }
    this.counts = new Array<number>(slots).fill(0);
    this.buckets = new Array<number>(slots).fill(-1);
  }

  /** Adds `count` messages at time `at` (ms since the epoch); older than the window is ignored. */
  add(count: number, at: number): void {
    const bucket = Math.floor(at / this.bucketMs);
    const slot = bucket % this.counts.length;
    if (this.buckets[slot] === bucket) {
      this.counts[slot]! += count;
    } else if (this.buckets[slot]! < bucket) {
      this.buckets[slot] = bucket;
      this.counts[slot] = count;
    }
  }

  /** The window ending with the bucket of `now`. */
  series(now: number): ThroughputSeries {
    const newest = Math.floor(now / this.bucketMs);
    const slots = this.counts.length;
    const counts: number[] = [];
    for (let bucket = newest - slots + 1; bucket <= newest; bucket++) {
      const slot = bucket % slots;
      counts.push(this.buckets[slot] === bucket ? this.counts[slot]! : 0);
    }
    // The current bucket has only just begun: the rate also spans the full one before it.
    const spanMs = this.bucketMs + (now - newest * this.bucketMs);
    const recent = counts[slots - 1]! + counts[slots - 2]!;
    return {
      start: (newest - slots + 1) * this.bucketMs,
      bucketMs: this.bucketMs,
      counts,
      perSecond: spanMs > 0 ? (recent * 1000) / spanMs : 0,
    };
  }
}
