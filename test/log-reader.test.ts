import { isTokaError, silentLogger } from "@toka/processor";
import { kafkajsClient, type LogBatch, type LogReadRequest } from "@toka/processor/kafka";
import { CompressionTypes } from "kafkajs";
import { expect, onTestFinished, test } from "vitest";
import {
  adminClient,
  brokers,
  createTopic,
  headersOf,
  kafkaClient,
  readToEnd,
  uniqueName,
} from "./helpers.js";

interface Seen {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

const client = () =>
  kafkajsClient({ brokers: brokers(), clientId: "log-reader-test", logger: silentLogger });

/** Reads with `readLog`, keeping every record's parts and every batch's next offset. */
async function readWithLogReader(request: LogReadRequest) {
  const records: Seen[] = [];
  const batches: LogBatch[] = [];
  await client().readLog(request, async (batch) => {
    batches.push(batch);
    for (const r of batch.records) {
      const key = r.key === null ? null : Buffer.from(r.key).toString();
      expect(r.keyText()).toBe(key ?? "");
      expect(r.offsetNumber).toBe(Number(r.offset));
      records.push({
        partition: batch.partition,
        offset: r.offset,
        key,
        value: r.value === null ? null : Buffer.from(r.value).toString(),
        headers: { ...r.headers },
      });
    }
  });
  return { records, batches };
}

/** A log with what a reader must get right: nulls, headers, transactions, compression. */
async function writeMixedLog(topic: string) {
  const kafka = kafkaClient();
  const plain = kafka.producer({ idempotent: true });
  const transactional = kafka.producer({
    transactionalId: uniqueName("tx"),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await plain.connect();
  await transactional.connect();
  onTestFinished(async () => {
    await plain.disconnect();
    await transactional.disconnect();
  });
  await plain.send({
    topic,
    messages: [
      { partition: 0, key: "k1", value: "v1", headers: { "toka-id": "id-1", note: "ünïcødé" } },
      { partition: 0, key: null, value: "no key" },
      { partition: 0, key: "tombstone", value: null },
      { partition: 1, key: "k2", value: "v2", headers: { a: "1", b: "2" } },
    ],
  });
  const committed = await transactional.transaction();
  await committed.send({
    topic,
    messages: [
      { partition: 0, key: "tx", value: "committed" },
      { partition: 1, key: "tx", value: "committed" },
    ],
  });
  await committed.commit();
  const aborted = await transactional.transaction();
  await aborted.send({
    topic,
    messages: [
      { partition: 0, key: "tx", value: "aborted" },
      { partition: 1, key: "tx", value: "aborted" },
    ],
  });
  await aborted.abort();
  await plain.send({
    topic,
    compression: CompressionTypes.GZIP,
    messages: Array.from({ length: 50 }, (_, i) => ({
      partition: i % 2,
      key: `gz-${i}`,
      value: `compressed ${i}`,
    })),
  });
}

test("readLog reads what a read_committed kafkajs consumer reads: nulls, headers, transactions, gzip", async () => {
  const topic = await createTopic("log-reader", 2);
  await writeMixedLog(topic);
  const admin = await adminClient();
  const marks = await admin.fetchTopicOffsets(topic);

  const expected: Seen[] = [];
  await readToEnd(topic, (m, partition) =>
    expected.push({
      partition,
      offset: m.offset,
      key: m.key === null ? null : m.key.toString(),
      value: m.value === null ? null : m.value.toString(),
      headers: headersOf(m),
    }),
  );
  const { records, batches } = await readWithLogReader({
    topic,
    ranges: marks.map((m) => ({ partition: m.partition, start: m.low, end: m.high })),
    readCommitted: true,
    maxBytesPerPartition: 1024,
  });

  const byPosition = (a: Seen, b: Seen) =>
    a.partition - b.partition || Number(a.offset) - Number(b.offset);
  expect(records.sort(byPosition)).toEqual(expected.sort(byPosition));
  expect(records.filter((r) => r.value === "aborted")).toEqual([]);
  expect(records.filter((r) => r.value === "committed")).toHaveLength(2);
  expect(records.find((r) => r.key === "k1")?.headers).toEqual({
    "toka-id": "id-1",
    note: "ünïcødé",
  });
  // Each partition's last batch reports the end: the markers after the records count.
  for (const m of marks) {
    const last = batches.filter((b) => b.partition === m.partition).at(-1);
    expect(last?.nextOffset).toBe(m.high);
  }
});

test("readLog reads exactly [start, end) of a partition, and header() finds one header", async () => {
  const topic = await createTopic("log-reader-range", 1);
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  await producer.send({
    topic,
    messages: Array.from({ length: 100 }, (_, i) => ({
      key: `k${i}`,
      value: `v${i}`,
      headers: { first: "x", "toka-id": `id-${i}` },
    })),
  });

  const seen: string[] = [];
  const ids: (string | undefined)[] = [];
  await client().readLog(
    {
      topic,
      ranges: [{ partition: 0, start: "37", end: "64" }],
      readCommitted: false,
      maxBytesPerPartition: 4096,
    },
    async (batch) => {
      for (const r of batch.records) {
        seen.push(r.offset);
        ids.push(r.header("toka-id"));
      }
    },
  );

  expect(seen).toEqual(Array.from({ length: 27 }, (_, i) => String(37 + i)));
  expect(ids).toEqual(Array.from({ length: 27 }, (_, i) => `id-${37 + i}`));
});

test("readLog names the partition and offset when a range starts past the log's end", async () => {
  const topic = await createTopic("log-reader-out-of-range", 1);
  const error = await client()
    .readLog(
      {
        topic,
        ranges: [{ partition: 0, start: "5", end: "10" }],
        readCommitted: true,
        maxBytesPerPartition: 4096,
      },
      async () => {},
    )
    .catch((e: unknown) => e);
  expect(isTokaError(error)).toBe(true);
  expect((error as Error).message).toBe(
    `OFFSET_OUT_OF_RANGE (1): offset 5 is outside the partition's log: it was deleted by retention or is past the end; read a range within the partition's watermarks [topic=${topic} partition=0 offset=5]`,
  );
});

test("a failing onBatch fails readLog with its own error, without a retry", async () => {
  const topic = await createTopic("log-reader-failing", 1);
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  await producer.send({ topic, messages: [{ key: "k", value: "v" }] });
  let calls = 0;
  const failure = Object.assign(new Error("the fold failed"), { retriable: true });
  const error = await client()
    .readLog(
      {
        topic,
        ranges: [{ partition: 0, start: "0", end: "1" }],
        readCommitted: true,
        maxBytesPerPartition: 4096,
      },
      async () => {
        calls += 1;
        throw failure;
      },
    )
    .catch((e: unknown) => e);
  expect(error).toBe(failure);
  expect(calls).toBe(1);
});

test("commitOffsets commits a group's offsets without joining it", async () => {
  const topic = await createTopic("log-reader-commit", 2);
  const group = uniqueName("committed");
  const admin = client().admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  await admin.commitOffsets(group, [
    { topic, partition: 0, offset: "3" },
    { topic, partition: 1, offset: "7" },
  ]);
  expect(await admin.committedOffsets(group, topic)).toEqual(
    new Map([
      [0, "3"],
      [1, "7"],
    ]),
  );
});
