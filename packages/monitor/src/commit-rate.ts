import {
  type ThroughputSeries,
  ThroughputWindow,
  type ThroughputWindowOptions,
} from "./throughput-window.js";

/**
 * Throughput of a group seen from outside: the growth of the sum of its committed
 * offsets between two polls, counted in the bucket of the later one. It lags the
 * instances' own count by the commit interval, and counts what a restarted group
 * re-reads only once, since a committed offset never counts twice.
 */
export class CommitRate {
  private readonly window: ThroughputWindow;
  private last: bigint | undefined;

  constructor(
    options: ThroughputWindowOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.window = new ThroughputWindow(options);
  }

  /** Records the group's committed total now and returns the window. */
  sample(committedTotal: bigint): ThroughputSeries {
    const at = this.now();
    // A reset group commits lower offsets: that is no negative throughput.
    if (this.last !== undefined && committedTotal > this.last) {
      this.window.add(Number(committedTotal - this.last), at);
    }
    this.last = committedTotal;
    return this.window.series(at);
  }
}
