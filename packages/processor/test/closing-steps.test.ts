import { expect, test } from "vitest";
import { ClosingSteps } from "../src/closing-steps.js";
import type { Logger } from "../src/logger.js";
import { ManualClock } from "./manual-clock.js";

function recordingLogger() {
  const warnings: Record<string, unknown>[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => warnings.push({ message, ...fields }),
    error() {},
  };
  return { logger, warnings };
}

test("a step that takes long is named in a warning, again while it goes on, and no more once done", async () => {
  const clock = new ManualClock();
  const { logger, warnings } = recordingLogger();
  const steps = new ClosingSteps(logger, { group: "g" }, clock, 5_000);
  let finish = () => {};
  const running = steps.run("leaving the group", () => new Promise<void>((r) => (finish = r)));

  clock.advance(4_999);
  expect(warnings).toEqual([]);
  clock.advance(1);
  clock.advance(5_000);
  expect(warnings).toEqual([
    {
      message: "the close is still waiting",
      group: "g",
      step: "leaving the group",
      waitedMs: 5_000,
    },
    {
      message: "the close is still waiting",
      group: "g",
      step: "leaving the group",
      waitedMs: 10_000,
    },
  ]);

  finish();
  await running;
  expect(clock.pending()).toEqual([]);
});

test("a failed step does not stop the close: the next step runs", async () => {
  const clock = new ManualClock();
  const { logger } = recordingLogger();
  const steps = new ClosingSteps(logger, { group: "g" }, clock);
  const ran: string[] = [];
  await steps.run("first", () => Promise.reject(new Error("broker gone")));
  await steps.run("second", async () => ran.push("second"));
  expect(ran).toEqual(["second"]);
  expect(clock.pending()).toEqual([]);
});
