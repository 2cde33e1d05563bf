import { TokaErrorCode } from "@toka/processor";
import {
  type ClientConsumer,
  type ConsumerOptions,
  defaultPartition,
  type IncomingBatch,
  type TopicPartition,
} from "@toka/processor/kafka";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

interface Recorded {
  readonly consumer: ClientConsumer;
  readonly assignments: TopicPartition[][];
  readonly batches: IncomingBatch[];
  readonly done: [string, string, string][];
}

/** A raw consumer of the client boundary that records what it is told. */
async function consumer(
  t: Tester,
  topics: string[],
  options: Partial<ConsumerOptions> & {
    onBatch?: (batch: IncomingBatch, consumer: ClientConsumer) => Promise<boolean> | boolean;
  } = {},
): Promise<Recorded> {
  const c = t.client.consumer({
    groupId: "readers",
    copartitioned: false,
    readCommitted: true,
    fromBeginning: true,
    maxBytesPerPartition: 1 << 20,
    concurrency: 1,
    sessionTimeoutMs: 10_000,
    ...options,
  });
  const recorded: Recorded = { consumer: c, assignments: [], batches: [], done: [] };
  t.register({ close: () => c.disconnect() });
  await c.connect();
  await c.subscribe(topics);
  await c.run({
    onAssignment: (a) => recorded.assignments.push([...a]),
    onBatch: async (batch) => {
      recorded.batches.push(batch);
      return options.onBatch ? options.onBatch(batch, c) : true;
    },
    onBatchDone: (tp, last, hw) => recorded.done.push([`${tp.topic}/${tp.partition}`, last, hw]),
    onCrash: (error) => {
      throw error;
    },
  });
  return recorded;
}

const offsets = (r: Recorded) => r.batches.map((b) => b.records.map((m) => m.offset));

describe("the in-memory client: consumer groups", () => {
  test("co-partitioned: partition p of every topic goes to one member; a join moves only the newcomer's share", async () => {
    const t = tester();
    t.createTopic("a", 3);
    t.createTopic("b", 3);
    const first = await consumer(t, ["a", "b"], { copartitioned: true });
    expect(first.assignments).toHaveLength(1);
    expect(first.assignments[0]).toHaveLength(6);
    const second = await consumer(t, ["a", "b"], { copartitioned: true });
    await t.idle();
    // A join reassigns every member, with its complete new assignment; sticky, the first
    // keeps what it owned up to its share.
    expect(first.assignments.at(-1)).toEqual([
      { topic: "a", partition: 0 },
      { topic: "a", partition: 1 },
      { topic: "b", partition: 0 },
      { topic: "b", partition: 1 },
    ]);
    expect(second.assignments).toEqual([
      [
        { topic: "a", partition: 2 },
        { topic: "b", partition: 2 },
      ],
    ]);
    await second.consumer.disconnect();
    await t.idle();
    expect(first.assignments).toHaveLength(3);
    expect(first.assignments.at(-1)).toHaveLength(6);
  });

  test("co-partitioned: a partition that moves goes to the member whose stored state of it is furthest along", async () => {
    const t = tester();
    t.createTopic("a", 4);
    const first = await consumer(t, ["a"], { copartitioned: true });
    const second = await consumer(t, ["a"], {
      copartitioned: true,
      storedPartitions: () => new Map([[1, 500]]),
    });
    await t.idle();
    expect(first.assignments.at(-1)!.map((tp) => tp.partition)).toEqual([0, 2]);
    expect(second.assignments.at(-1)!.map((tp) => tp.partition)).toEqual([1, 3]);
  });

  test("without co-partitioning, partitions go round robin over all topics", async () => {
    const t = tester();
    t.createTopic("a", 3);
    t.createTopic("b", 1);
    const first = await consumer(t, ["a", "b"]);
    const second = await consumer(t, ["a", "b"]);
    await t.idle();
    expect(first.assignments.at(-1)).toEqual([
      { topic: "a", partition: 0 },
      { topic: "a", partition: 2 },
    ]);
    expect(second.assignments.at(-1)).toEqual([
      { topic: "a", partition: 1 },
      { topic: "b", partition: 0 },
    ]);
  });

  test("a topic created after subscribing is assigned when it appears", async () => {
    const t = tester();
    const reader = await consumer(t, ["later"]);
    expect(reader.assignments).toEqual([[]]);
    t.createTopic("later", 2);
    await t.emit("later", "k", bytes("v"));
    expect(reader.assignments.at(-1)).toHaveLength(2);
    expect(reader.batches).toHaveLength(1);
  });

  test("a new member starts at the group's committed offsets", async () => {
    const t = tester();
    t.createTopic("a");
    await t.emitMany(
      "a",
      ["0", "1", "2"].map((v) => ({ key: "k", value: bytes(v) })),
    );
    const first = await consumer(t, ["a"]);
    await t.idle();
    expect(offsets(first)).toEqual([["0", "1", "2"]]);
    await first.consumer.commit([{ topic: "a", partition: 0, offset: "2" }]);
    await first.consumer.disconnect();
    const second = await consumer(t, ["a"]);
    await t.idle();
    expect(offsets(second)).toEqual([["2"]]);
    expect(t.committedOffset("readers", "a", 0)).toBe("2");
  });

  test("fromBeginning false starts a partition without commits at its end", async () => {
    const t = tester();
    t.createTopic("a");
    await t.emit("a", "k", bytes("old"));
    const reader = await consumer(t, ["a"], { fromBeginning: false });
    await t.emit("a", "k", bytes("new"));
    expect(reader.batches.flatMap((b) => b.records.map((r) => text(r.value)))).toEqual(["new"]);
  });
});

describe("the in-memory client: delivery", () => {
  test("records keep key, value, headers, timestamp; onBatchDone follows each batch", async () => {
    const t = tester({ startTime: 5000 });
    t.createTopic("a", 2);
    const reader = await consumer(t, ["a"]);
    await t.emit("a", "alice", bytes("v"), { headers: { h: "1" }, id: "x" });
    const partition = defaultPartition("alice", 2);
    const [batch] = reader.batches;
    expect(batch).toMatchObject({ topic: "a", partition, highWatermark: "1" });
    expect(batch?.records[0]).toMatchObject({
      topic: "a",
      partition,
      offset: "0",
      headers: { h: "1", "toka-id": "x" },
      timestamp: 5000,
    });
    expect(text(batch?.records[0]?.key ?? null)).toBe("alice");
    expect(reader.done).toEqual([[`a/${partition}`, "0", "1"]]);
  });

  test("onBatch resolving false delivers the same batch again after a change", async () => {
    const t = tester({ idleTimeoutMs: 30 });
    t.createTopic("a");
    let refuse = true;
    const reader = await consumer(t, ["a"], { onBatch: () => !refuse });
    await expect(t.emit("a", "k", bytes("1"))).rejects.toThrow(/handed back a batch/);
    expect(offsets(reader)).toEqual([["0"]]);
    refuse = false;
    await t.emit("a", "k", bytes("2"));
    expect(offsets(reader)).toEqual([["0"], ["0", "1"]]);
  });

  test("a batch handed back while nothing changes fails idle() instead of spinning", async () => {
    const t = tester({ idleTimeoutMs: 30 });
    t.createTopic("a");
    await consumer(t, ["a"], { onBatch: () => false });
    await expect(t.emit("a", "k", bytes("1"))).rejects.toThrow(
      /group "readers" handed back a batch of a\/0 \(onBatch resolved false\)/,
    );
  });

  test("pause holds a partition back, resume releases it; seek applies at the next fetch", async () => {
    const t = tester();
    t.createTopic("a");
    let rewind = false;
    const reader = await consumer(t, ["a"], {
      onBatch: (_batch, c) => {
        // A seek during a batch wins over the position the batch resolved.
        if (rewind) c.seek({ topic: "a", partition: 0, offset: "0" });
        rewind = false;
        return true;
      },
    });
    reader.consumer.pause([{ topic: "a", partition: 0 }]);
    await t.emitMany(
      "a",
      ["0", "1"].map((v) => ({ key: "k", value: bytes(v) })),
    );
    expect(reader.batches).toEqual([]);
    reader.consumer.seek({ topic: "a", partition: 0, offset: "1" });
    reader.consumer.resume([{ topic: "a", partition: 0 }]);
    await t.idle();
    expect(offsets(reader)).toEqual([["1"]]);
    rewind = true;
    await t.emit("a", "k", bytes("2"));
    expect(offsets(reader)).toEqual([["1"], ["2"], ["0", "1", "2"]]);
  });

  test("batches are bounded by maxBatchRecords and maxBytesPerPartition", async () => {
    const t = tester({ maxBatchRecords: 3 });
    t.createTopic("a");
    const reader = await consumer(t, ["a"], { maxBytesPerPartition: 25 });
    await t.emitMany(
      "a",
      Array.from({ length: 7 }, () => ({ key: "k", value: new Uint8Array(4) })),
    );
    expect(reader.batches.map((b) => b.records.length)).toEqual([3, 3, 1]);
    const big = await consumer(t, ["a"], { groupId: "big", maxBytesPerPartition: 10 });
    await t.idle();
    // At least one record per batch, even past the byte bound.
    expect(big.batches.map((b) => b.records.length)).toEqual([2, 2, 2, 1]);
  });
});

describe("the in-memory client: producers and transactions", () => {
  test("send appends with acks and returns each partition's base offset", async () => {
    const t = tester();
    t.createTopic("a", 2);
    const producer = t.client.producer();
    await expect(
      producer.send([{ topic: "a", key: "k", value: null, headers: {} }]),
    ).rejects.toThrow(/not connected/);
    await producer.connect();
    await producer.send([{ topic: "a", partition: 1, key: null, value: bytes("x"), headers: {} }]);
    const batches = await producer.send([
      { topic: "a", partition: 1, key: "k", value: bytes("y"), headers: {} },
      { topic: "a", partition: 0, key: "k", value: bytes("z"), headers: {} },
      { topic: "a", partition: 1, key: "k", value: bytes("w"), headers: {} },
    ]);
    expect(batches).toEqual([
      { topic: "a", partition: 1, baseOffset: "1", nextOffset: "3" },
      { topic: "a", partition: 0, baseOffset: "0", nextOffset: "1" },
    ]);
    expect(await producer.send([])).toEqual([]);
    await expect(
      producer.sendInTransaction([], { groupId: "g", offsets: [] }),
    ).rejects.toMatchObject({ code: TokaErrorCode.InvalidState });
  });

  test("a topic missing on produce is created, unless autoCreateTopics is off", async () => {
    const on = tester({ defaultPartitions: 3 });
    const producer = on.client.producer();
    await producer.connect();
    await producer.send([{ topic: "new", key: "k", value: null, headers: {} }]);
    expect(on.partitionCount("new")).toBe(3);

    const off = tester({ autoCreateTopics: false });
    const strict = off.client.producer();
    await strict.connect();
    await expect(
      strict.send([{ topic: "new", key: "k", value: null, headers: {} }]),
    ).rejects.toMatchObject({ code: TokaErrorCode.TopicMissing, topic: "new" });
  });

  test("a transaction commits records, a marker per partition and the group's offsets", async () => {
    const t = tester();
    t.createTopic("out");
    t.createTopic("in");
    const producer = t.client.producer({ transactionalId: "tx-1" });
    await producer.connect();
    const produced = await producer.sendInTransaction(
      [{ topic: "out", key: "k", value: bytes("1"), headers: {} }],
      { groupId: "g", offsets: [{ topic: "in", partition: 0, offset: "7" }] },
    );
    // The marker follows at offset 1: the next offset counts data records only.
    expect(produced).toEqual([{ topic: "out", partition: 0, baseOffset: "0", nextOffset: "1" }]);
    expect(t.committedOffset("g", "in", 0)).toBe("7");
    const admin = t.client.admin();
    expect(await admin.watermarks("out")).toEqual([{ partition: 0, low: "0", high: "2" }]);

    const reader = await consumer(t, ["out"]);
    await t.idle();
    // The marker is never delivered, but the batch's end covers it.
    expect(offsets(reader)).toEqual([["0"]]);
    expect(reader.done).toEqual([["out/0", "1", "2"]]);
  });

  test("an aborted transaction is invisible to read-committed consumers only", async () => {
    const t = tester();
    t.createTopic("out");
    const producer = t.client.producer({ transactionalId: "tx-1" });
    await producer.connect();
    t.failNextProduce({ topic: "out" });
    await expect(
      producer.sendInTransaction([{ topic: "out", key: "k", value: bytes("1"), headers: {} }], {
        groupId: "g",
        offsets: [{ topic: "out", partition: 0, offset: "1" }],
      }),
    ).rejects.toThrow(/injected by the tester/);
    expect(t.committedOffset("g", "out", 0)).toBeUndefined();
    const committed = await consumer(t, ["out"], { groupId: "committed" });
    const uncommitted = await consumer(t, ["out"], { groupId: "raw", readCommitted: false });
    await t.idle();
    expect(committed.batches).toEqual([]);
    // Only filtered records: no batch, but the end is still reported.
    expect(committed.done).toEqual([["out/0", "1", "2"]]);
    expect(offsets(uncommitted)).toEqual([["0"]]);
  });

  test("a newer producer with the same transactional id fences the older one", async () => {
    const t = tester();
    t.createTopic("out");
    const old = t.client.producer({ transactionalId: "tx-1" });
    await old.connect();
    const current = t.client.producer({ transactionalId: "tx-1" });
    await current.connect();
    const records = [{ topic: "out", key: "k", value: bytes("1"), headers: {} }];
    await expect(old.sendInTransaction(records, { groupId: "g", offsets: [] })).rejects.toThrow(
      /was fenced/,
    );
    await current.sendInTransaction(records, { groupId: "g", offsets: [] });
    expect(t.messages("out")).toHaveLength(1);
  });

  test("a failed plain produce appends nothing, or with partial only to other topics", async () => {
    const t = tester();
    t.createTopic("out");
    const producer = t.client.producer();
    await producer.connect();
    t.failNextProduce();
    await expect(
      producer.send([{ topic: "out", key: "k", value: null, headers: {} }]),
    ).rejects.toMatchObject({ code: TokaErrorCode.KafkaFailed, retriable: true });
    expect(t.messages("out", undefined, { isolation: "uncommitted" })).toEqual([]);

    t.createTopic("other");
    t.failNextProduce({ topic: "out", partial: true });
    await expect(
      producer.send([
        { topic: "out", key: "k", value: null, headers: {} },
        { topic: "other", key: "k", value: null, headers: {} },
      ]),
    ).rejects.toThrow(/injected/);
    expect(t.messages("out")).toEqual([]);
    expect(t.messages("other")).toHaveLength(1);
  });
});

describe("the in-memory client: admin", () => {
  test("partition counts, topic creation, watermarks, committed offsets, offsets by time", async () => {
    const t = tester({ startTime: 1000 });
    const admin = t.client.admin();
    await admin.connect();
    await admin.createTopics([{ topic: "a", partitions: 2, compacted: true }]);
    await admin.createTopics([{ topic: "a", partitions: 5, compacted: false }]); // exists: no error
    expect(await admin.partitionCounts(["a", "missing"])).toEqual(new Map([["a", 2]]));
    await t.emit("a", "k", bytes("1"), { partition: 0 });
    t.advanceTime(1000);
    await t.emit("a", "k", bytes("2"), { partition: 0 });
    expect(await admin.watermarks("a")).toEqual([
      { partition: 0, low: "0", high: "2" },
      { partition: 1, low: "0", high: "0" },
    ]);
    await expect(admin.watermarks("missing")).rejects.toMatchObject({
      code: TokaErrorCode.TopicMissing,
    });
    expect(await admin.offsetsForTime("a", 1500)).toEqual(
      new Map([
        [0, "1"],
        [1, "0"],
      ]),
    );
    expect(await admin.committedOffsets("g", "a")).toEqual(new Map());
    t.setCommittedOffset("g", "a", 1, 0);
    expect(await admin.committedOffsets("g", "a")).toEqual(new Map([[1, "0"]]));
    await admin.disconnect();
  });

  test("groups: listed, described with members and assignments, their offsets by topic", async () => {
    const t = tester();
    t.createTopic("a", 2);
    t.createTopic("b", 1);
    const admin = t.client.admin();
    expect(await admin.describeGroup("readers")).toEqual({
      group: "readers",
      state: "Dead",
      members: [],
    });
    await consumer(t, ["a"]);
    await t.idle();
    expect(await admin.listTopics()).toEqual(["a", "b"]);
    expect(await admin.listGroups()).toEqual(["readers"]);
    const described = await admin.describeGroup("readers");
    expect(described).toMatchObject({ group: "readers", state: "Stable" });
    expect(described.members).toHaveLength(1);
    expect(described.members[0]?.assignment).toEqual({ a: [0, 1] });
    t.setCommittedOffset("stopped", "b", 0, 4);
    expect(await admin.describeGroup("stopped")).toMatchObject({ state: "Empty", members: [] });
    expect(await admin.groupOffsets("stopped")).toEqual(new Map([["b", new Map([[0, "4"]])]]));
  });
});
