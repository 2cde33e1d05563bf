import type { EventEmitter } from "node:events";

/** How a long-lived object's status machine ends a wait that cannot succeed any more. */
export interface StatusWait<S extends string> {
  /** Emits `"status"` with the new status on every change. */
  readonly events: Pick<EventEmitter, "on" | "off">;
  readonly current: () => S;
  readonly target: S;
  /** The failed status: the wait rejects with `failure()`. */
  readonly failed: S;
  readonly failure: () => unknown;
  /** The closed status: unless it is the target, the wait rejects with `closedError()`. */
  readonly closed: S;
  readonly closedError: () => unknown;
  /** No limit when absent or not finite. */
  readonly timeoutMs?: number | undefined;
  readonly timeoutError: () => unknown;
}

/**
 * Resolves when the status reaches `target`; rejects when it fails or closes first, or
 * after `timeoutMs`. Shared by the processor's and the view's `waitFor`.
 */
export function waitForStatus<S extends string>(wait: StatusWait<S>): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const check = (now: S) => {
      if (now === wait.target) done(resolve);
      else if (now === wait.failed) done(() => reject(wait.failure()));
      else if (now === wait.closed) done(() => reject(wait.closedError()));
    };
    const done = (settle: () => void) => {
      wait.events.off("status", check);
      if (timer) clearTimeout(timer);
      settle();
    };
    wait.events.on("status", check);
    if (wait.timeoutMs !== undefined && Number.isFinite(wait.timeoutMs)) {
      timer = setTimeout(() => done(() => reject(wait.timeoutError())), wait.timeoutMs);
    }
    check(wait.current());
  });
}

/**
 * The `run({ signal })` of a long-lived object: starts it, resolves when it is closed
 * (an abort of `signal` closes it), rejects with its failure.
 */
export async function runUntilClosed(
  lifecycle: { start(): Promise<void>; close(): Promise<void>; waitClosed(): Promise<void> },
  signal: AbortSignal | undefined,
): Promise<void> {
  const onAbort = () => void lifecycle.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (signal?.aborted) return;
    await lifecycle.start();
    await lifecycle.waitClosed();
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
