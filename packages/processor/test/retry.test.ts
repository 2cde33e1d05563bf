import { expect, test } from "vitest";
import { isRetriable, retrying } from "../src/retry.js";

const retriable = (message: string) => Object.assign(new Error(message), { retriable: true });

test("a retriable failure is retried until the work succeeds", async () => {
  let calls = 0;
  const result = await retrying(
    async () => {
      calls += 1;
      if (calls < 3) throw retriable("not yet");
      return "done";
    },
    { initialDelayMs: 1 },
  );
  expect(result).toBe("done");
  expect(calls).toBe(3);
});

test("a failure that is not retriable is thrown at once", async () => {
  let calls = 0;
  const failure = new Error("bad request");
  await expect(
    retrying(
      async () => {
        calls += 1;
        throw failure;
      },
      { initialDelayMs: 1 },
    ),
  ).rejects.toBe(failure);
  expect(calls).toBe(1);
});

test("after the attempts, the last failure is thrown", async () => {
  let calls = 0;
  await expect(
    retrying(
      async () => {
        calls += 1;
        throw retriable(`attempt ${calls}`);
      },
      { attempts: 3, initialDelayMs: 1 },
    ),
  ).rejects.toThrow("attempt 3");
});

test("timeoutMs without progress ends the retries with the error made by exhausted", async () => {
  const startedAt = Date.now();
  const error = await retrying(
    async () => {
      throw retriable("still down");
    },
    {
      timeoutMs: 150,
      initialDelayMs: 10,
      maxDelayMs: 20,
      exhausted: (last) => new Error("gave up", { cause: last }),
    },
  ).catch((e: unknown) => e as Error);
  expect(error.message).toBe("gave up");
  expect((error.cause as Error).message).toBe("still down");
  expect(Date.now() - startedAt).toBeLessThan(1_000);
});

test("progress during a failed attempt restarts the time limit", async () => {
  let done = 0;
  const startedAt = Date.now();
  const result = await retrying(
    async () => {
      // Each attempt makes progress for 300 ms in all, well past the 100 ms limit.
      if (Date.now() - startedAt < 300) {
        done += 1;
        throw retriable("moved");
      }
      return done;
    },
    { timeoutMs: 100, initialDelayMs: 10, maxDelayMs: 20, progress: () => done },
  );
  expect(result).toBeGreaterThan(3);
});

test("an aborted signal ends the wait with its reason", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  setTimeout(() => controller.abort(reason), 20);
  await expect(
    retrying(
      async () => {
        throw retriable("down");
      },
      { timeoutMs: 10_000, initialDelayMs: 5_000, signal: controller.signal },
    ),
  ).rejects.toBe(reason);
});

test("isRetriable looks through the cause chain", () => {
  expect(isRetriable(new Error("outer", { cause: retriable("inner") }))).toBe(true);
  expect(isRetriable(new Error("plain"))).toBe(false);
});
