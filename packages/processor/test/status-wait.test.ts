import { describe, expect, test } from "vitest";
import { TokaError, TokaErrorCode } from "../src/errors.js";
import { PROCESSOR_TRANSITIONS, type ProcessorStatus } from "../src/events.js";
import { Lifecycle } from "../src/lifecycle.js";
import { runUntilClosed, waitForStatus } from "../src/status-wait.js";
import { rejection } from "./rejection.js";

function lifecycle() {
  return new Lifecycle<ProcessorStatus>({
    component: "processor",
    coordinates: { group: "orders" },
    transitions: PROCESSOR_TRANSITIONS,
  });
}

describe("waitForStatus", () => {
  test("resolves at once when the status is already the target", async () => {
    const l = lifecycle();
    await waitForStatus(l, "idle", { timeoutMs: 0 });
  });

  test("resolves when the status reaches the target, and stops observing", async () => {
    const l = lifecycle();
    let settled = false;
    const waiting = waitForStatus(l, "running", { timeoutMs: 5000 }).then(() => {
      settled = true;
    });
    l.moveTo("starting");
    l.moveTo("recovering");
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    l.moveTo("running");
    await waiting;
    expect(settled).toBe(true);
  });

  test("rejects with the failure when it fails first", async () => {
    const l = lifecycle();
    const waiting = waitForStatus(l, "running");
    l.moveTo("starting");
    const failure = new TokaError(TokaErrorCode.TopicMissing, "no topic");
    l.fail(failure);
    expect(await rejection(waiting)).toBe(failure);
    // Waiting for the failure itself resolves.
    await waitForStatus(l, "failed", { timeoutMs: 0 });
  });

  test("rejects TOKA_INVALID_STATE as soon as it begins closing", async () => {
    const l = lifecycle();
    const waiting = waitForStatus(l, "running");
    let finishShutdown: () => void = () => {};
    const closed = l.close(() => new Promise<void>((resolve) => (finishShutdown = resolve)));
    const error = await rejection(waiting);
    expect(l.status).toBe("closing");
    expect(error).toMatchObject({ code: TokaErrorCode.InvalidState, group: "orders" });
    expect(error.message).toContain("the processor closed before it was running");
    // Waiting for `closed` meanwhile resolves once the shutdown finished.
    const waitingClosed = waitForStatus(l, "closed", { timeoutMs: 5000 });
    finishShutdown();
    await closed;
    await waitingClosed;
  });

  test("rejects at once a target the table cannot lead to any more", async () => {
    const l = lifecycle();
    l.moveTo("starting");
    l.moveTo("running");
    const error = await rejection(waitForStatus(l, "starting"));
    expect(error).toMatchObject({ code: TokaErrorCode.InvalidState });
    expect(error.message).toContain("the processor is running and can never be starting");
    // Also when the status moves to where the target is out of reach: closing.
    const waiting = waitForStatus(l, "recovering");
    l.moveTo("closing");
    expect((await rejection(waiting)).message).toContain(
      "the processor closed before it was recovering",
    );
  });

  test("times out with TOKA_TIMEOUT naming target and current status", async () => {
    const l = lifecycle();
    l.moveTo("starting");
    const error = await rejection(waitForStatus(l, "running", { timeoutMs: 20 }));
    expect(error).toMatchObject({ code: TokaErrorCode.Timeout, group: "orders" });
    expect(error.message).toContain("the processor was not running within 20 ms (it is starting)");
    // The timed-out wait stopped observing: a later move settles nothing twice.
    l.moveTo("running");
  });

  test("an infinite timeout sets no timer", async () => {
    const l = lifecycle();
    const waiting = waitForStatus(l, "starting", { timeoutMs: Number.POSITIVE_INFINITY });
    l.moveTo("starting");
    await waiting;
  });
});

describe("runUntilClosed", () => {
  test("starts, resolves once closed by the signal's abort", async () => {
    const l = lifecycle();
    const controller = new AbortController();
    const target = {
      start: () => l.start(async () => l.moveTo("running")),
      close: () => l.close(async () => {}),
      waitClosed: () => waitForStatus(l, "closed"),
    };
    const running = runUntilClosed(target, controller.signal);
    await waitForStatus(l, "running", { timeoutMs: 1000 });
    controller.abort();
    await running;
    expect(l.status).toBe("closed");
  });

  test("rejects with the failure", async () => {
    const l = lifecycle();
    const failure = new TokaError(TokaErrorCode.KafkaFailed, "crashed");
    const target = {
      start: () => l.start(async () => l.moveTo("running")),
      close: () => l.close(async () => {}),
      waitClosed: () => waitForStatus(l, "closed"),
    };
    const running = runUntilClosed(target, undefined);
    await waitForStatus(l, "running", { timeoutMs: 1000 });
    l.fail(failure);
    expect(await rejection(running)).toBe(failure);
  });
});
