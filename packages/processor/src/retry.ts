import { setTimeout as delay } from "node:timers/promises";

/**
 * Runs `work` again while it fails with an error marked `retriable`, itself or in its
 * cause chain (kafkajs marks e.g. a topic's metadata not having reached every broker
 * yet, or a leader that moved), with exponential backoff up to `maxDelayMs`; the last
 * error is thrown after `attempts`.
 */
export async function retrying<T>(
  work: () => Promise<T>,
  { attempts = 8, initialDelayMs = 100, maxDelayMs = 5_000 } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetriable(error) || attempt >= attempts) throw error;
      await delay(Math.min(initialDelayMs * 2 ** (attempt - 1), maxDelayMs));
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
