import { setTimeout as delay } from "node:timers/promises";

/**
 * Runs `work` again while it fails with an error marked `retriable` (kafkajs marks
 * e.g. a topic's metadata not having reached every broker yet), with exponential
 * backoff; the last error is thrown after `attempts`.
 */
export async function retrying<T>(
  work: () => Promise<T>,
  { attempts = 8, initialDelayMs = 100 } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const retriable = (error as { retriable?: unknown } | null)?.retriable === true;
      if (!retriable || attempt >= attempts) throw error;
      await delay(initialDelayMs * 2 ** (attempt - 1));
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
