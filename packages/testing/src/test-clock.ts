/** The default start of a {@link TestClock}: 2025-01-01T00:00:00Z. */
export const DEFAULT_START_TIME = Date.UTC(2025, 0, 1);

/**
 * The tester's clock: the timestamp of every record appended to the in-memory Kafka.
 * It moves only when told to, so record timestamps (and everything computed from them,
 * such as the age of an exactly-once dedup entry) are the same in every run.
 */
export class TestClock {
  private current: number;

  /** @param start - milliseconds since the epoch. Default {@link DEFAULT_START_TIME}. */
  constructor(start: number = DEFAULT_START_TIME) {
    this.current = start;
  }

  /** The current time in milliseconds since the epoch. */
  now(): number {
    return this.current;
  }

  /**
   * Moves the clock forward.
   * @throws RangeError for a negative or non-finite `ms` (the clock never goes back).
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`the clock only moves forward: advance(${ms}) needs a finite ms >= 0`);
    }
    this.current += ms;
  }
}
