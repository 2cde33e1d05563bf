// The kafkajs client's group consumer fetches over toka's own connections (kafkajs keeps
// only the membership): records in order, read_committed, seeks, and a rebalance that
// waits for the batch being handled.
import { silentLogger } from "@toka/processor";
import {
  type ClientConsumer,
  type ConsumerOptions,
  type IncomingBatch,
  kafkajsClient,
} from "@toka/processor/kafka";
import { CompressionCodecs, CompressionTypes } from "kafkajs";
import { expect, onTestFinished, test, vi } from "vitest";
import { brokers, createTopic, kafkaClient, uniqueName } from "./helpers.js";

function consumerOf(groupId: string, options: Partial<ConsumerOptions> = {}): ClientConsumer {
  const client = kafkajsClient({ brokers: brokers(), clientId: "fetching", logger: silentLogger });
  const consumer = client.consumer({
    groupId,
    copartitioned: false,
    readCommitted: true,
    fromBeginning: true,
    maxBytesPerPartition: 4 * 1024,
    concurrency: 4,
    sessionTimeoutMs: 10_000,
    ...options,
  });
  onTestFinished(() => consumer.disconnect());
  return consumer;
}

test("reads committed records in order, skips an aborted transaction, reports the end past its markers and reads again from a seek", async () => {
  const topic = await createTopic("fetched", 2);
  const kafka = kafkaClient();
  const producer = kafka.producer({ transactionalId: uniqueName("tx"), maxInFlightRequests: 1 });
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  const expected = new Map<number, string[]>([
    [0, []],
    [1, []],
  ]);
  for (let round = 0; round < 6; round++) {
    const values = Array.from({ length: 300 }, (_, i) => `r${round}-${i}`);
    const tx = await producer.transaction();
    await tx.send({
      topic,
      messages: values.map((value, i) => ({ partition: i % 2, key: `k${i}`, value })),
    });
    if (round === 2) {
      await tx.abort();
      continue;
    }
    await tx.commit();
    for (const [i, value] of values.entries()) expected.get(i % 2)!.push(value);
  }
  const admin = kafka.admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));

  const consumer = consumerOf(uniqueName("fetching"));
  await consumer.connect();
  await consumer.subscribe([topic]);
  const received = new Map<number, string[]>([
    [0, []],
    [1, []],
  ]);
  const done = new Map<number, string>();
  let sought = false;
  await consumer.run({
    onAssignment: () => {},
    onBatch: async (batch: IncomingBatch) => {
      const list = received.get(batch.partition)!;
      for (const record of batch.records) list.push(Buffer.from(record.value!).toString());
      return true;
    },
    onBatchDone: (tp, lastOffset) => {
      done.set(tp.partition, lastOffset);
      // Partition 1 once more from its start, after it was read to its end once.
      if (tp.partition === 1 && !sought && BigInt(lastOffset) + 1n === BigInt(ends.get(1)!)) {
        sought = true;
        consumer.seek({ topic, partition: 1, offset: "0" });
      }
    },
    onCrash: (error) => {
      throw error;
    },
  });
  await vi.waitUntil(() => received.get(0)!.length >= 750 && received.get(1)!.length >= 1500, {
    timeout: 60_000,
    interval: 50,
  });
  expect(received.get(0)).toEqual(expected.get(0));
  expect(received.get(1)).toEqual([...expected.get(1)!, ...expected.get(1)!]);
  // The last offsets are the transactions' commit markers, which hold no record.
  for (const partition of [0, 1])
    expect(BigInt(done.get(partition)!) + 1n).toBe(BigInt(ends.get(partition)!));
});

test("a rebalance waits until the batch being handled is done: the joining member gets its partitions only after it", async () => {
  const topic = await createTopic("handover", 2);
  const kafka = kafkaClient();
  const producer = kafka.producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  await producer.send({
    topic,
    messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `v${i}` })),
  });
  const groupId = uniqueName("handover");
  const events: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let rejoinSeen = false;

  const first = consumerOf(groupId, { concurrency: 1 });
  await first.connect();
  await first.subscribe([topic]);
  let firstBatches = 0;
  await first.run({
    onAssignment: (assignment) => events.push(`first assigned ${assignment.length}`),
    onBatch: async (batch) => {
      if (firstBatches++ > 0) return true;
      // The first batch is held until the test saw the group rebalance begin.
      while (await batch.heartbeat!()) await new Promise((r) => setTimeout(r, 50));
      rejoinSeen = true;
      events.push("first saw the rebalance");
      await released;
      events.push("first batch done");
      return false;
    },
    onCrash: (error) => {
      throw error;
    },
  });
  await vi.waitUntil(() => firstBatches > 0, { timeout: 30_000, interval: 50 });

  const second = consumerOf(groupId);
  await second.connect();
  await second.subscribe([topic]);
  let secondAssigned = false;
  // Not awaited: kafkajs's run() resolves once the member joined, which is the point.
  const secondRunning = second.run({
    onAssignment: (assignment) => {
      if (assignment.length === 0) return;
      secondAssigned = true;
      events.push("second assigned");
    },
    onBatch: async () => true,
    onCrash: (error) => {
      throw error;
    },
  });
  await vi.waitUntil(() => rejoinSeen, { timeout: 30_000, interval: 50 });
  // The rebalance is under way; the group waits for the first member's join, which
  // waits for its batch. Held a while, so that a join that did not wait would show.
  await new Promise((r) => setTimeout(r, 2_000));
  release();
  await secondRunning;
  await vi.waitUntil(() => secondAssigned, { timeout: 30_000, interval: 50 });
  expect(events.slice(0, 3)).toEqual([
    "first assigned 2",
    "first saw the rebalance",
    "first batch done",
  ]);
  expect(events).toContain("second assigned");
});

test("a chunk sought away from while its compressed batch was decompressed is not handed over: delivery goes on from the seek", async () => {
  const topic = await createTopic("compressed", 1);
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  // Three batches of ten records each, gzip-compressed.
  for (let batch = 0; batch < 3; batch++) {
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 10 }, (_, i) => ({ key: "k", value: `${batch * 10 + i}` })),
    });
  }
  // Decompression held at the test's signal: the window in which a seek can come.
  const gzip = CompressionCodecs[CompressionTypes.GZIP];
  onTestFinished(() => {
    CompressionCodecs[CompressionTypes.GZIP] = gzip;
  });
  let hold: { started: () => void; release: Promise<void> } | undefined;
  CompressionCodecs[CompressionTypes.GZIP] = () => {
    const codec = gzip();
    return {
      compress: (encoder: unknown) => codec.compress(encoder),
      decompress: async (buffer: Buffer) => {
        const held = hold;
        hold = undefined;
        if (held) {
          held.started();
          await held.release;
        }
        return codec.decompress(buffer);
      },
    };
  };

  // A batch a fetch: each chunk holds one of the three.
  const consumer = consumerOf(uniqueName("fetching"), { maxBytesPerPartition: 64 });
  await consumer.connect();
  await consumer.subscribe([topic]);
  const delivered: string[][] = [];
  let release = () => {};
  const decompressing = new Promise<void>((started) => {
    hold = { started, release: new Promise<void>((resolve) => (release = resolve)) };
  });
  await consumer.run({
    onAssignment: () => {},
    onBatch: async (batch: IncomingBatch) => {
      delivered.push(batch.records.map((r) => r.offset));
      return true;
    },
    onCrash: (error) => {
      throw error;
    },
  });
  await decompressing;
  // The first batch is being decompressed; send the partition back to offset 0 meanwhile
  // then let the decompression finish. The chunk it belongs to predates the seek.
  consumer.seek({ topic, partition: 0, offset: "0" });
  release();
  await vi.waitUntil(() => delivered.flat().length >= 30, { timeout: 30_000, interval: 50 });
  expect(delivered.flat().slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
});
