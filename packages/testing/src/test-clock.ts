import type { Clock } from "@toka/processor";

/** The default start of a {@link TestClock}: 2025-01-01T00:00:00Z. */
export const DEFAULT_START_TIME = Date.UTC(2025, 0, 1);

/**
 * The tester's clock: the timestamp of every record appended to the in-memory Kafka and
 * the wall clock of the processors it starts. It moves only when told to, so record
 * timestamps (and everything computed from them, such as the age of an exactly-once
 * dedup entry) and wall-clock timers are the same in every run.
 */
export class TestClock implements Clock {
  private current: number;
  private readonly listeners = new Set<() => void>();

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
    for (const listener of this.listeners) listener();
  }

  /**
   * A real timer: timed flushes and commit retries of the processors on the tester wait
   * as they would anywhere (the tester's `idle()` waits for them).
   */
  schedule(ms: number, fire: () => void): () => void {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }

  /** Calls `listener` after each {@link advance}: processors fire the wall-clock timers due. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
