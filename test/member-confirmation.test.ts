// The kafkajs client's consumer reports when the group last confirmed it: a processor's
// timed flush writes only while that is recent (see Processor.stillMember).
import { silentLogger } from "@toka/processor";
import { kafkajsClient } from "@toka/processor/kafka";
import { expect, onTestFinished, test, vi } from "vitest";
import { brokers, createTopic, uniqueName } from "./helpers.js";

test("a consumer's membership is confirmed at the join and by every heartbeat, and forgotten when it stops", async () => {
  const topic = await createTopic("confirmed", 1);
  const client = kafkajsClient({
    brokers: brokers(),
    clientId: "membership",
    logger: silentLogger,
  });
  const consumer = client.consumer({
    groupId: uniqueName("membership"),
    copartitioned: false,
    readCommitted: true,
    fromBeginning: true,
    maxBytesPerPartition: 1024 * 1024,
    concurrency: 1,
    sessionTimeoutMs: 6_000,
  });
  await consumer.connect();
  onTestFinished(() => consumer.disconnect());
  expect(consumer.memberConfirmedAt?.()).toBeUndefined();
  await consumer.subscribe([topic]);
  let assigned = false;
  await consumer.run({
    onAssignment: () => {
      assigned = true;
    },
    onBatch: async () => true,
    onCrash: (error) => {
      throw error;
    },
  });
  await vi.waitUntil(() => assigned, { timeout: 30_000, interval: 50 });
  const joined = consumer.memberConfirmedAt?.();
  expect(joined).toBeGreaterThan(Date.now() - 6_000);
  // Heartbeats every 600 ms (a tenth of the session) move it on while nothing is fetched.
  await vi.waitUntil(() => (consumer.memberConfirmedAt?.() ?? 0) > joined!, {
    timeout: 10_000,
    interval: 100,
  });
  await consumer.disconnect();
  expect(consumer.memberConfirmedAt?.()).toBeUndefined();
});
