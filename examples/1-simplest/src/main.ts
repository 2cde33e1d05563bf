// Placeholder until the processor lands: a real round trip through the broker.
import { Kafka, logLevel } from "kafkajs";

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:19092").split(",");
const kafka = new Kafka({ clientId: "toka-example-1", brokers, logLevel: logLevel.WARN });
const topic = `example-1-${Date.now()}`;

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 4 }] });

const producer = kafka.producer({ idempotent: true });
await producer.connect();
const users = ["alice", "bob", "carol"];
await producer.send({
  topic,
  messages: Array.from({ length: 30 }, (_, i) => ({ key: users[i % 3]!, value: `click ${i}` })),
});
await producer.disconnect();

const counts = new Map<string, number>();
const consumer = kafka.consumer({ groupId: `${topic}-counter` });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await new Promise<void>((resolve) => {
  let seen = 0;
  void consumer.run({
    eachMessage: async ({ message }) => {
      const user = message.key!.toString();
      counts.set(user, (counts.get(user) ?? 0) + 1);
      if (++seen === 30) resolve();
    },
  });
});
await consumer.disconnect();
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
console.log("clicks per user:", Object.fromEntries(counts));
