import type { EachMessagePayload } from "kafkajs";
import { describe, expect, onTestFinished, test } from "vitest";
import { createTopic, kafkaClient, uniqueName, waitUntil } from "./helpers.js";

/** Consumes `topic` from the start until `count` messages arrived; returns them. */
async function consumeAll(topic: string, count: number, readUncommitted = true) {
  const consumer = kafkaClient().consumer({ groupId: uniqueName("g"), readUncommitted });
  onTestFinished(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: EachMessagePayload[] = [];
  await consumer.run({
    eachMessage: async (payload) => {
      seen.push(payload);
    },
  });
  await waitUntil(`${count} messages on ${topic}`, () => seen.length >= count);
  return seen;
}

describe("the integration broker is a real Kafka", () => {
  test("a topic with several partitions carries produced messages to a consumer", async () => {
    const topic = await createTopic("multi", 4);
    const admin = kafkaClient().admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(4);

    const producer = kafkaClient().producer({ idempotent: true });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic, acks: -1, messages });

    const seen = await consumeAll(topic, 40);
    expect(new Set(seen.map((m) => m.partition)).size).toBeGreaterThan(1);
    expect(seen.map((m) => m.message.value?.toString()).sort()).toEqual(
      messages.map((m) => m.value).sort(),
    );
  });

  test("a committed transaction is visible to read_committed, an aborted one is not", async () => {
    const topic = await createTopic("tx", 2);
    const client = kafkaClient();
    const producer = client.producer({
      transactionalId: uniqueName("tx"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    onTestFinished(() => producer.disconnect());

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: "a", value: "aborted" }] });
    await aborted.abort();

    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: [
        { key: "a", value: "committed-1" },
        { key: "b", value: "committed-2" },
      ],
    });
    await committed.commit();
    // The aborted record precedes "committed-1" in its partition, so a consumer that
    // showed it would have delivered it before the committed records.
    const seen = await consumeAll(topic, 2, false);
    expect(seen.map((m) => m.message.value?.toString()).sort()).toEqual([
      "committed-1",
      "committed-2",
    ]);

    const raw = await consumeAll(topic, 3, true);
    expect(raw.map((m) => m.message.value?.toString())).toContain("aborted");
  });
});
