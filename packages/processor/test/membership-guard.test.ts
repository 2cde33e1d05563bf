import { expect, onTestFinished, test, vi } from "vitest";
import { whileMember } from "../src/membership-guard.js";

test("a long write heartbeats meanwhile, resolves with its result and leaves no timer behind", async () => {
  vi.useFakeTimers();
  onTestFinished(() => {
    vi.useRealTimers();
  });
  let heartbeats = 0;
  let finish: (value: string) => void = () => {};
  const running = whileMember(
    async () => {
      heartbeats += 1;
      return true;
    },
    10,
    (lost) =>
      new Promise<string>((resolve) => {
        finish = (value) => resolve(lost.aborted ? "aborted" : value);
      }),
  );
  await vi.advanceTimersByTimeAsync(35);
  expect(heartbeats).toBe(3);
  finish("written");
  expect(await running).toBe("written");
  expect(vi.getTimerCount(), "the heartbeat timer is cleared").toBe(0);
});

test("a heartbeat that reports a rebalance aborts the write's signal with a reason that says why", async () => {
  const beats = [true, true, false];
  const reason = await whileMember(
    async () => beats.shift() ?? false,
    10,
    (lost) => new Promise((resolve) => lost.addEventListener("abort", () => resolve(lost.reason))),
  );
  expect(reason).toMatchObject({ code: "TOKA_PRODUCE_FAILED" });
  expect((reason as Error).message).toContain("giving this member's partitions to others");
});

test("a heartbeat that fails for another reason (a coordinator moving) does not abort", async () => {
  let calls = 0;
  const aborted = await whileMember(
    async () => {
      calls += 1;
      throw new Error("coordinator not available");
    },
    10,
    async (lost) => {
      while (calls < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      return lost.aborted;
    },
  );
  expect(aborted).toBe(false);
});
