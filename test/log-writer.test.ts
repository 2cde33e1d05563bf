import { silentLogger } from "@toka/processor";
import { defaultPartition, kafkajsClient } from "@toka/processor/kafka";
import { expect, onTestFinished, test } from "vitest";
import { brokers, createTopic, headersOf, readToEnd } from "./helpers.js";

const client = () =>
  kafkajsClient({ brokers: brokers(), clientId: "log-writer-test", logger: silentLogger });

test("a producer with idempotent: false writes what a consumer reads back, in order, murmur2-partitioned", async () => {
  const topic = await createTopic("log-writer", 3);
  const producer = client().producer({ idempotent: false });
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  // Large enough for several batches per partition (512 KiB each).
  const value = new TextEncoder().encode("v".repeat(1_000));
  const records = Array.from({ length: 3_000 }, (_, i) => ({
    topic,
    ...(i % 2 === 0 ? { partition: i % 3 } : {}),
    key: i % 10 === 0 ? null : `key-${i}`,
    value: i % 7 === 0 ? null : value,
    headers: { "toka-id": `id-${i}`, note: "ünïcødé" },
  }));

  const produced = await producer.send(records);

  const expected = records.map((r, i) => ({
    partition: r.partition ?? defaultPartition(r.key ?? "", 3),
    key: r.key,
    value: r.value === null ? null : "v".repeat(1_000),
    headers: { "toka-id": `id-${i}`, note: "ünïcødé" },
  }));
  const read: {
    partition: number;
    key: string | null;
    value: string | null;
    headers: Record<string, string>;
  }[] = [];
  await readToEnd(topic, (m, partition) =>
    read.push({
      partition,
      key: m.key === null ? null : m.key.toString(),
      value: m.value === null ? null : m.value.toString(),
      headers: headersOf(m),
    }),
  );
  for (const partition of [0, 1, 2]) {
    const written = expected.filter((r) => r.partition === partition);
    expect(read.filter((r) => r.partition === partition)).toEqual(written);
    expect(produced.find((p) => p.partition === partition)).toEqual({
      topic,
      partition,
      baseOffset: "0",
      nextOffset: String(written.length),
    });
  }
});
