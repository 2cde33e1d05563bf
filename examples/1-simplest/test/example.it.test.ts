import { randomBytes } from "node:crypto";
import { expect, inject, test } from "vitest";
import { runExample } from "../src/clicks.js";

test("example 1 counts every click per user end to end on a real broker", async () => {
  const suffix = randomBytes(4).toString("hex");
  const counts = await runExample({
    brokers: inject("kafkaBrokers"),
    topic: `example-clicks-${suffix}`,
    group: `example-counter-${suffix}`,
    clicks: { alice: 3, bob: 5, carol: 2 },
  });
  expect(counts).toEqual({ alice: 3, bob: 5, carol: 2 });
});
