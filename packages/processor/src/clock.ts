/**
 * Time and timers as the processor's partitions use them: injected, so that a test can
 * drive commit retries and timed flushes without waiting for them.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fire` once after `ms`; the returned function cancels it. A timer never keeps
   * the process alive.
   */
  schedule(ms: number, fire: () => void): () => void;
  /**
   * A clock that jumps (the Tester's) calls `listener` after each jump, so that what came
   * due by then (wall-clock timers) is looked at at once; the returned function stops it.
   */
  onAdvance?(listener: () => void): () => void;
}

/** The process's own time and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fire) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
