import type { Kafka, Producer } from "kafkajs";
import { expect, test } from "vitest";
import { kafkajsProducer } from "../src/client/kafkajs-client.js";

/**
 * kafkajs producers in order of creation: the first loses its sequence numbers (a broker
 * restarted); the second, its replacement, asks a seed broker that is down when it first
 * connects, then connects.
 */
function producersLosingStateThenADeadSeedBroker() {
  const connects: string[] = [];
  let created = 0;
  const kafka = {
    producer: (): Producer => {
      const id = created++;
      let attempts = 0;
      return {
        connect: async () => {
          attempts += 1;
          connects.push(`producer ${id} attempt ${attempts}`);
          if (id === 1 && attempts === 1)
            throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:29093"), {
              name: "KafkaJSNonRetriableError",
              retriable: false,
            });
        },
        disconnect: async () => {},
        sendBatch: async ({ topicMessages }: { topicMessages: { topic: string }[] }) => {
          if (id === 0)
            throw Object.assign(new Error("out of order sequence number"), {
              type: "OUT_OF_ORDER_SEQUENCE_NUMBER",
            });
          return [
            { topicName: topicMessages[0]!.topic, partition: 0, errorCode: 0, baseOffset: "7" },
          ];
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, connects };
}

test("a replacement producer whose first connect fails connects again, and the send goes through", async () => {
  const { kafka, connects } = producersLosingStateThenADeadSeedBroker();
  const producer = kafkajsProducer(kafka, async () => {});
  await producer.connect();

  const [produced] = await producer.send([
    { topic: "readings", partition: 0, key: "k", value: null, headers: {} },
  ]);

  expect(produced?.baseOffset).toBe("7");
  expect(connects).toEqual([
    "producer 0 attempt 1",
    "producer 1 attempt 1",
    "producer 1 attempt 2",
  ]);
  await producer.disconnect();
});
