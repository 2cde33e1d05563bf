import { type Lifecycle, LifecycleStatus } from "./lifecycle.js";

/**
 * Resolves when `lifecycle` reaches `target`; rejects with its failure when it fails
 * first, with `TOKA_INVALID_STATE` as soon as its table cannot lead to `target` any more
 * (it began closing, or moved past `target` for good), and with `TOKA_TIMEOUT` after `timeoutMs`
 * (no limit when absent or not finite). The `waitFor(status)` of every component.
 */
export function waitForStatus<S extends string>(
  lifecycle: Lifecycle<S>,
  target: S,
  { timeoutMs }: { timeoutMs?: number | undefined } = {},
): Promise<void> {
  const { component } = lifecycle;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const check = (now: S) => {
      if (now === target) done(resolve);
      else if (now === LifecycleStatus.Failed) done(() => reject(lifecycle.failure));
      else if (!lifecycle.canReach(target))
        done(() =>
          reject(
            lifecycle.invalidState(
              now === LifecycleStatus.Closing || now === LifecycleStatus.Closed
                ? `the ${component} closed before it was ${target}`
                : `the ${component} is ${now} and can never be ${target}`,
            ),
          ),
        );
    };
    const stopObserving = lifecycle.observe(check);
    const done = (settle: () => void) => {
      stopObserving();
      if (timer) clearTimeout(timer);
      settle();
    };
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () =>
          done(() =>
            reject(
              lifecycle.timeout(
                `the ${component} was not ${target} within ${timeoutMs} ms (it is ${lifecycle.status})`,
              ),
            ),
          ),
        timeoutMs,
      );
    }
    check(lifecycle.status);
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
