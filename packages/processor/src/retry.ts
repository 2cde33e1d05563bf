import { setTimeout as delay } from "node:timers/promises";

/** Options of {@link retrying}. */
export interface RetryOptions {
  /**
   * Attempts in all (since the last progress) before the last error is thrown. Default
   * 8, or unbounded when `timeoutMs` is given.
   */
  readonly attempts?: number;
  /** The wait after the first failure; it doubles after each one. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** The longest wait between two attempts. Default 5 s. */
  readonly maxDelayMs?: number;
  /**
   * Gives up when the next attempt would start more than this long after the first one,
   * or after the last attempt that made `progress`. Default: no time limit.
   */
  readonly timeoutMs?: number;
  /**
   * A measure of the work done so far (records read, batches written). When it grew
   * during a failed attempt, the backoff and `timeoutMs` start over: a long read that
   * keeps moving through leader changes is not cut short.
   */
  readonly progress?: () => number;
  /**
   * Which failures are retried. Default {@link isRetriable}: marked so, itself or in its
   * cause chain.
   */
  readonly retriable?: (error: unknown) => boolean;
  /** Stops the waits between attempts; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The error to throw when the attempts or the time ran out, made from the last
   * failure (which it should keep as its `cause`). Default: the last failure itself.
   */
  readonly exhausted?: (lastError: unknown, elapsedMs: number) => unknown;
  /** Told of each failure that will be retried, and of the wait before the next attempt. */
  readonly onRetry?: (error: unknown, waitMs: number) => void;
}

/**
 * Runs `work` again while it fails with an error marked `retriable`, itself or in its
 * cause chain (kafkajs marks e.g. a topic's metadata not having reached every broker
 * yet, or a leader that moved; toka marks a lost connection), with exponential backoff
 * up to `maxDelayMs`, until the attempts or the time without progress run out. A failure
 * that is not retriable is thrown at once.
 */
export async function retrying<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const {
    initialDelayMs = 100,
    maxDelayMs = 5_000,
    timeoutMs,
    progress,
    retriable = isRetriable,
    signal,
    exhausted = (error: unknown) => error,
    onRetry,
  } = options;
  const attempts = options.attempts ?? (timeoutMs === undefined ? 8 : Number.POSITIVE_INFINITY);
  const startedAt = Date.now();
  let since = startedAt;
  let done = progress?.() ?? 0;
  let backoff = initialDelayMs;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await work();
    } catch (error) {
      if (!retriable(error)) throw error;
      const now = progress?.() ?? 0;
      if (now > done) {
        done = now;
        since = Date.now();
        backoff = initialDelayMs;
        failures = 0;
      }
      failures += 1;
      const wait = Math.min(backoff, maxDelayMs);
      const outOfTime = timeoutMs !== undefined && Date.now() + wait - since > timeoutMs;
      if (failures >= attempts || outOfTime) throw exhausted(error, Date.now() - startedAt);
      onRetry?.(error, wait);
      // An abort ends the wait with the signal's own reason, not a generic AbortError.
      await delay(wait, undefined, signal ? { signal } : undefined).catch(() =>
        signal?.throwIfAborted(),
      );
      backoff *= 2;
    }
  }
}

/** Whether an error, or an error in its `cause` chain, is marked `retriable`. */
export function isRetriable(error: unknown): boolean {
  for (
    let e = error as { retriable?: unknown; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.retriable === true) return true;
  }
  return false;
}

/**
 * Retries of what a partition's or a view's set-up asks the cluster (partition counts,
 * watermarks, committed offsets): about two minutes, through a broker's death, its
 * partitions' new leaders, or a new topic's metadata not yet known everywhere.
 */
export const THROUGH_FAILOVER = { attempts: 30, initialDelayMs: 200 } as const;
