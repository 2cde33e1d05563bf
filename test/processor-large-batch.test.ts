import { stringCodec } from "@toka/codec";
import { defineGroup, Processor, persist, silentLogger } from "@toka/processor";
import { expect, onTestFinished, test } from "vitest";
import {
  brokers,
  countWritten,
  createTopic,
  kafkaClient,
  readTable,
  uniqueName,
  waitUntil,
} from "./helpers.js";

// Regression: the table updates of one batch went out in one produce request, and a
// request whose batch for a partition exceeded the broker's message.max.bytes (1 MiB)
// was refused and retried forever.
test("a batch whose table updates exceed the broker's message size is produced in several requests", async () => {
  const input = await createTopic("big", 1);
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  const value = "v".repeat(300);
  for (let chunk = 0; chunk < 10; chunk++) {
    await producer.send({
      topic: input,
      messages: Array.from({ length: 2_000 }, (_, i) => ({ key: `key-${chunk}-${i}`, value })),
    });
  }

  const group = uniqueName("copier");
  const graph = defineGroup(group, {
    persist: persist(stringCodec),
    inputs: ({ input: edge }) => [edge(input, stringCodec, (ctx, v) => ctx.setValue(v))],
  });
  // 8 MiB per fetch: the first batch holds the whole backlog, ~6.5 MB of table updates.
  const processor = new Processor(graph, {
    brokers: brokers(),
    maxBatchBytes: 8 * 1024 * 1024,
    errorPolicy: "fail",
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  let largest = 0;
  processor.on("batch.processed", (e) => {
    largest = Math.max(largest, e.processed);
  });
  const written = countWritten(processor);
  await processor.start();
  await waitUntil("20000 messages written", () => written() >= 20_000, { timeoutMs: 90_000 });
  expect(largest).toBeGreaterThan(5_000);
  const table = await readTable(`${group}-table`);
  expect(table.size).toBe(20_000);
  expect(table.get("key-9-1999")?.value.toString()).toBe(value);
});
