import { jsonCodec, stringCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  Processor,
  persist,
  silentLogger,
  type TokaError,
  TokaErrorCode,
  View,
  type ViewUpdate,
} from "@toka/processor";
import { levelStorage, memoryStorage, type StorageFactory } from "@toka/state-store";
import { type Message, Partitioners } from "kafkajs";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import {
  brokers,
  countWritten,
  createTopic,
  kafkaClient,
  tempDir,
  uniqueName,
  waitUntil,
} from "./helpers.js";

const Profile = z.object({ name: z.string(), visits: z.number().int() });
type Profile = z.infer<typeof Profile>;
const profileCodec = jsonCodec(Profile);
const COMPACTED = [{ name: "cleanup.policy", value: "compact" }];

/** Produces with Kafka's default (murmur2) partitioner, as toka's producers do. */
async function produce(topic: string, messages: Message[]) {
  // Idempotent: a request retried on a loaded machine must not write its records twice,
  // or the recovery counts below would see the copies.
  const producer = kafkaClient().producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
    }
  } finally {
    await producer.disconnect();
  }
}

function profile(key: string, visits: number): Message {
  return { key, value: JSON.stringify({ name: key, visits }) };
}

function startView(table: string, storage: StorageFactory = memoryStorage()) {
  const view = new View({
    brokers: brokers(),
    table,
    codec: profileCodec,
    storage,
    logger: silentLogger,
  });
  onTestFinished(() => view.close());
  return view;
}

async function contents<T>(view: View<T>): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for await (const [key, value] of view.iterate()) out.set(key, value);
  return out;
}

/** A table of `keys` profiles, every 10th deleted, three undecodable, some with dedup headers. */
function tableRecords(keys: number) {
  const messages: Message[] = [];
  const expected = new Map<string, Profile>();
  for (let i = 0; i < keys; i++) {
    const key = `user-${i}`;
    messages.push({
      ...profile(key, i),
      // Exactly-once bookkeeping of a processor: the view ignores headers.
      ...(i % 7 === 0
        ? { headers: { "toka-dedup": '{"applied":{"in":"3"},"ids":[],"duplicates":0}' } }
        : {}),
    });
    expected.set(key, { name: key, visits: i });
  }
  for (let i = 0; i < keys; i += 10) {
    messages.push({ key: `user-${i}`, value: null });
    expected.delete(`user-${i}`);
  }
  const bad = ["broken-1", "broken-2", "broken-3"];
  messages.push({ key: bad[0]!, value: Buffer.from([0xff, 0xfe, 0x00]) });
  messages.push({ key: bad[1]!, value: Buffer.from("{not json") });
  messages.push({ key: bad[2]!, value: Buffer.from('{"name":"x","visits":"many"}') });
  return { messages, expected, bad };
}

describe("View on a real broker", () => {
  test("recovers an 8-partition compacted table exactly, with tombstones and undecodable values", async () => {
    const table = await createTopic("view-table", 8, COMPACTED);
    const { messages, expected, bad } = tableRecords(5000);
    await produce(table, messages);

    const view = startView(table);
    const failures: TokaError[] = [];
    view.on("view.decode-failed", (error) => failures.push(error));
    const started = Date.now();
    await view.start();
    const elapsed = Date.now() - started;

    const recovery = view.recovery();
    expect(recovery).toMatchObject({ done: true, records: messages.length });
    expect(recovery.recovered).toBe(recovery.total);
    console.info(
      `view recovery: ${recovery.records} records of 8 partitions in ${recovery.durationMs} ms (start() ${elapsed} ms)`,
    );
    expect(view.stats().partitions).toHaveLength(8);
    expect(view.stats().partitions.every((p) => p.lag === 0 && p.recovered)).toBe(true);

    const all = await contents(view);
    expect(all).toEqual(expected);
    const keys = [...all.keys()];
    expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const key of ["user-1", "user-4999", "user-777"])
      expect(await view.get(key)).toEqual(expected.get(key));
    expect(await view.get("user-10")).toBeUndefined();
    expect(await view.has("user-10")).toBe(false);

    expect(failures.map((e) => e.key).sort()).toEqual(bad);
    for (const error of failures) {
      expect(error.code).toBe(TokaErrorCode.DecodeFailed);
      expect(error.topic).toBe(table);
      expect(error.partition).toBeTypeOf("number");
      expect(error.offset).toMatch(/^\d+$/);
    }
    const getError = await view.get("broken-2").catch((error: TokaError) => error);
    expect(getError).toMatchObject({ code: TokaErrorCode.DecodeFailed, key: "broken-2" });
    expect(view.status).toBe("running");
  });

  test("follows updates and tombstones after recovery", async () => {
    const table = await createTopic("view-table", 4, COMPACTED);
    await produce(table, [profile("a", 1), profile("b", 1)]);
    const view = startView(table);
    await view.start();
    const updates: ViewUpdate<Profile>[] = [];
    view.on("view.updated", (u) => updates.push(u));

    const seen = view.waitForKey("a", (p) => p?.visits === 2, { timeoutMs: 20_000 });
    await produce(table, [profile("a", 2), { key: "b", value: null }, profile("c", 3)]);
    expect(await seen).toEqual({ name: "a", visits: 2 });
    await view.catchUp({ timeoutMs: 20_000 });
    expect(await view.get("b")).toBeUndefined();
    expect(await view.get("c")).toEqual({ name: "c", visits: 3 });
    expect(updates.map((u) => [u.key, u.value?.visits]).sort()).toEqual([
      ["a", 2],
      ["b", undefined],
      ["c", 3],
    ]);
    expect(view.stats().updates).toBe(3);
    expect(view.recovery().records).toBe(2);
  });

  test("a restarted view on LevelDB reads only the delta", async () => {
    const table = await createTopic("view-table", 6, COMPACTED);
    const dir = await tempDir();
    await produce(
      table,
      Array.from({ length: 1000 }, (_, i) => profile(`k${i}`, i)),
    );
    const first = startView(table, levelStorage({ path: dir }));
    await first.start();
    expect(first.recovery().records).toBe(1000);
    await first.close();

    const delta = [
      ...Array.from({ length: 150 }, (_, i) => profile(`k${i * 3}`, 10_000 + i)),
      { key: "k1", value: null },
    ];
    await produce(table, delta);
    const second = startView(table, levelStorage({ path: dir }));
    await second.start();
    expect(second.recovery()).toMatchObject({ records: 151, total: 151, recovered: 151 });
    expect(await second.get("k3")).toEqual({ name: "k3", visits: 10_001 });
    expect(await second.get("k1")).toBeUndefined();
    expect(await second.get("k2")).toEqual({ name: "k2", visits: 2 });
    expect((await contents(second)).size).toBe(999);
  });

  test("a missing table topic fails start with TOKA_TOPIC_MISSING", async () => {
    const view = startView(uniqueName("no-such-table"));
    await expect(view.start()).rejects.toMatchObject({ code: TokaErrorCode.TopicMissing });
    expect(view.status).toBe("failed");
  });
});

const Count = z.object({ count: z.number().int(), sum: z.number().int() });
type Count = z.infer<typeof Count>;

describe("View over a processor's table", () => {
  test("a transactional processor's table: recovers over commit markers, then follows", async () => {
    const input = await createTopic("view-clicks", 4);
    const group = uniqueName("view-counter");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec(Count)),
      inputs: ({ input: edge }) => [
        edge(input, stringCodec, (ctx, amount) => {
          const current = ctx.value() ?? { count: 0, sum: 0 };
          ctx.setValue({ count: current.count + 1, sum: current.sum + Number(amount) });
        }),
      ],
    });
    const expected = new Map<string, Count>();
    const emitAll = async (messages: [string, string][]) => {
      const emitter = new Emitter({
        brokers: brokers(),
        topic: input,
        codec: stringCodec,
        logger: silentLogger,
      });
      onTestFinished(() => emitter.close());
      await Promise.all(messages.map(([key, value]) => emitter.emit(key, value)));
      await emitter.close();
      for (const [key, amount] of messages) {
        const c = expected.get(key) ?? { count: 0, sum: 0 };
        expected.set(key, { count: c.count + 1, sum: c.sum + Number(amount) });
      }
    };
    const runProcessor = async (messages: number) => {
      const processor = new Processor(graph, {
        brokers: brokers(),
        guarantee: "exactly-once-transactional",
        logger: silentLogger,
      });
      onTestFinished(() => processor.close());
      // A read_committed view sees a batch only once its partition's transaction committed.
      const written = countWritten(processor);
      await processor.start();
      return {
        processor,
        done: () => waitUntil(`${messages} messages committed`, () => written() >= messages),
      };
    };

    const first = await runProcessor(400);
    await emitAll(Array.from({ length: 400 }, (_, i) => [`user-${i % 40}`, String(i % 5)]));
    await first.done();
    await first.processor.close();

    // The table's tail in every partition is a transaction marker.
    const view = new View({
      brokers: brokers(),
      table: `${group}-table`,
      codec: jsonCodec(Count),
      logger: silentLogger,
    });
    onTestFinished(() => view.close());
    await view.start();
    expect(await contents(view)).toEqual(expected);

    const second = await runProcessor(100);
    await emitAll(Array.from({ length: 100 }, (_, i) => [`user-${i % 50}`, "7"]));
    await second.done();
    // Keys 0..49 twice each: user-45 is new in this run and ends at count 2.
    expect(await view.waitForKey("user-45", (c) => c?.count === 2, { timeoutMs: 30_000 })).toEqual({
      count: 2,
      sum: 14,
    });
    await view.catchUp({ timeoutMs: 30_000 });
    expect(await contents(view)).toEqual(expected);
    await second.processor.close();
  });
});
