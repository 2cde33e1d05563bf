import { type Codec, jsonCodec } from "@toka/codec";
import {
  memoryStorage,
  type Storage,
  type StorageFactory,
  type WriteBatch,
} from "@toka/state-store";
import { describe, expect, onTestFinished, test, vi } from "vitest";
import { z } from "zod";
import { defaultPartition } from "../src/client/index.js";
import {
  silentLogger,
  type TokaError,
  TokaErrorCode,
  View,
  type ViewOptions,
  ViewStatus,
  type ViewUpdate,
} from "../src/index.js";
import { ViewPartition } from "../src/view-partition.js";
import { FakeKafka } from "./fake-kafka.js";
import { rejection } from "./rejection.js";

const TABLE = "accounts-table";
const Account = z.object({ balance: z.number().int() });
type Account = z.infer<typeof Account>;
const codec = jsonCodec(Account);
const json = (balance: number) => JSON.stringify({ balance });

function newView(kafka: FakeKafka, options: Partial<ViewOptions<Account>> = {}): View<Account> {
  const view = new View<Account>({
    client: kafka,
    table: TABLE,
    codec,
    logger: silentLogger,
    ...options,
  });
  onTestFinished(() => view.close());
  return view;
}

/** A storage factory that records every write of its storages. */
function recordingStorage(inner: StorageFactory = memoryStorage()) {
  const writes: { partition: number; batch: WriteBatch }[] = [];
  const factory: StorageFactory = (topic, partition) => {
    const storage = inner(topic, partition);
    return new Proxy(storage, {
      get(target, property, receiver) {
        if (property === "write") {
          return (batch: WriteBatch) => {
            writes.push({ partition, batch });
            return target.write(batch);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Storage;
  };
  return { factory, writes };
}

describe("View recovery", () => {
  test("recovers every partition from the beginning, then runs", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    for (let i = 0; i < 200; i++) kafka.append(`acct-${i}`, json(i));
    kafka.append("acct-7", null);
    kafka.append("acct-8", json(800));
    const view = newView(kafka);
    const statuses: ViewStatus[] = [];
    view.on("status", (s) => statuses.push(s));
    const progress: { recovered: number; total: number }[] = [];
    view.on("view.recovering", (p) => progress.push(p));
    const updates: ViewUpdate<Account>[] = [];
    view.on("view.updated", (u) => updates.push(u));

    await view.start();

    expect(statuses).toEqual([ViewStatus.Starting, ViewStatus.Recovering, ViewStatus.Running]);
    expect(view.recovery()).toMatchObject({ recovered: 202, total: 202, records: 202, done: true });
    expect(progress.at(-1)).toEqual({ recovered: 202, total: 202 });
    expect(progress.length).toBeGreaterThan(2);
    // The snapshot taken at start is not reported as updates.
    expect(updates).toEqual([]);
    expect(await view.get("acct-1")).toEqual({ balance: 1 });
    expect(await view.get("acct-7")).toBeUndefined();
    expect(await view.get("acct-8")).toEqual({ balance: 800 });
    expect(await view.has("acct-199")).toBe(true);
    expect(await view.has("acct-7")).toBe(false);
    expect(await view.get("nobody")).toBeUndefined();
    expect(kafka.consumerOf.options).toMatchObject({
      copartitioned: false,
      readCommitted: true,
      fromBeginning: true,
    });
    expect(kafka.consumerOf.options.groupId).toMatch(/^toka-view-accounts-table-/);
  });

  test("writes each fetched batch in one storage write with the checkpoint", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    kafka.batchSize = 10;
    for (let i = 0; i < 100; i++) kafka.append(`k${i}`, json(i));
    const { factory, writes } = recordingStorage();
    const view = newView(kafka, { storage: factory });
    await view.start();

    const sizes = kafka.logs.map((log) => log.length);
    expect(writes).toHaveLength(sizes.reduce((n, size) => n + Math.ceil(size / 10), 0));
    for (const { partition, batch } of writes) {
      const puts = [...(batch.puts ?? [])];
      expect(puts.length).toBeGreaterThan(0);
      expect(batch.checkpoint?.inputOffsets).toEqual({});
      const offset = Number(batch.checkpoint?.tableOffset);
      expect(offset % 10 === 0 || offset === sizes[partition]).toBe(true);
    }
  });

  test("a partition whose tail is a transaction marker recovers (onBatchDone)", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    const { partition } = kafka.append("a", json(1));
    kafka.appendMarker(partition);
    kafka.appendMarker(partition);
    const view = newView(kafka);
    await view.start();
    expect(view.status).toBe(ViewStatus.Running);
    const stats = view.stats().partitions[partition]!;
    expect(stats).toMatchObject({ offset: "3", highWatermark: "3", lag: 0, recovered: true });
  });

  test("an empty table is recovered at once", async () => {
    const kafka = new FakeKafka(TABLE, 3);
    const view = newView(kafka);
    await view.start();
    expect(view.recovery()).toMatchObject({ recovered: 0, total: 0, records: 0, done: true });
  });

  test("a restart reads only the delta and ignores records below the checkpoint", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    for (let i = 0; i < 100; i++) kafka.append(`k${i}`, json(i));
    const storage = memoryStorage();
    const first = newView(kafka, { storage });
    await first.start();
    await first.close();
    const checkpoints = kafka.logs.map((log) => log.length);

    for (let i = 0; i < 10; i++) kafka.append(`k${i}`, json(1000 + i));
    kafka.append("k50", null);
    const { factory, writes } = recordingStorage(storage);
    const second = newView(kafka, { storage: factory });
    // Before the seek takes effect the consumer delivers from offset 0.
    const consumerCreated = new Promise<void>((resolve) => {
      second.on("status", (s) => {
        if (s === ViewStatus.Recovering) resolve();
      });
    });
    const started = second.start();
    await consumerCreated;
    await new Promise((r) => setImmediate(r));
    kafka.consumerOf.ignoreNextSeek = true;
    await started;

    expect(second.recovery()).toMatchObject({ total: 11, recovered: 11, records: 11 });
    // Each partition was sought to its checkpoint: where the first view stopped.
    expect(
      kafka.consumerOf.seeks.sort((a, b) => a.partition - b.partition).map((s) => s.offset),
    ).toEqual(checkpoints.map(String));
    expect(await second.get("k3")).toEqual({ balance: 1003 });
    expect(await second.get("k50")).toBeUndefined();
    expect(await second.get("k60")).toEqual({ balance: 60 });
    const written = writes.reduce((n, w) => n + [...(w.batch.puts ?? [])].length, 0);
    expect(written).toBe(10);
  });

  test("close during recovery rejects start() with TOKA_INVALID_STATE", async () => {
    const kafka = new FakeKafka(TABLE, 1);
    kafka.append("a", json(1));
    // The consumer delivers nothing: recovery cannot finish.
    kafka.startDown = true;
    const view = newView(kafka);
    const started = view.start();
    await view.waitFor(ViewStatus.Recovering, { timeoutMs: 1000 });
    await new Promise((r) => setImmediate(r));
    expect(view.recovery()).toMatchObject({ recovered: 0, total: 1, done: false });
    // A lost connection during recovery shows as reconnecting, too.
    kafka.consumerOf.crashAndRestart();
    expect(view.status).toBe(ViewStatus.Reconnecting);
    await view.close();
    const error = await rejection(started);
    expect(error.code).toBe(TokaErrorCode.InvalidState);
    expect(view.status).toBe(ViewStatus.Closed);
  });
});

describe("View staleness", () => {
  test("a partition behind its high watermark is stale since it was last caught up", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_000 });
    onTestFinished(() => void vi.useRealTimers());
    const partition = new ViewPartition(TABLE, 0, memoryStorage()(TABLE, 0), codec, silentLogger);
    await partition.open("0");
    const record = (offset: number) => ({
      topic: TABLE,
      partition: 0,
      key: Buffer.from("a"),
      value: Buffer.from(json(offset)),
      offset: String(offset),
      timestamp: 0,
      headers: {},
    });
    await partition.apply([record(0), record(1)], "2");
    expect(partition.staleMs()).toBe(0);
    vi.setSystemTime(5_000);
    // A fetch shows two more records than it delivered: behind since 1_000.
    await partition.apply([], "4");
    vi.setSystemTime(8_000);
    expect([partition.lag, partition.staleMs()]).toEqual([2, 7_000]);
    await partition.apply([record(2), record(3)], "4");
    expect([partition.lag, partition.staleMs()]).toEqual([0, 0]);
  });
});

describe("View following", () => {
  test("applies updates and tombstones after recovery, reported as view.updated", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    kafka.append("a", json(1));
    const view = newView(kafka);
    await view.start();
    const updates: ViewUpdate<Account>[] = [];
    view.on("view.updated", (u) => updates.push(u));

    const b = kafka.append("b", json(2));
    const a = kafka.append("a", null);
    await view.waitForOffset(a.partition, a.offset);
    await view.waitForOffset(b.partition, b.offset);
    expect(await view.get("a")).toBeUndefined();
    expect(await view.get("b")).toEqual({ balance: 2 });
    expect(updates).toEqual(
      expect.arrayContaining([
        { key: "b", value: { balance: 2 }, partition: b.partition, offset: String(b.offset) },
        { key: "a", value: undefined, partition: a.partition, offset: String(a.offset) },
      ]),
    );
    expect(view.stats().updates).toBe(2);
  });

  test("waitForKey resolves on the current value or the first matching change", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    kafka.append("a", json(1));
    const view = newView(kafka);
    await view.start();

    expect(await view.waitForKey("a")).toEqual({ balance: 1 });
    const rich = view.waitForKey("a", (v) => (v?.balance ?? 0) >= 10, { timeoutMs: 5000 });
    kafka.append("a", json(5));
    kafka.append("a", json(12));
    kafka.append("a", json(20));
    expect(await rich).toEqual({ balance: 12 });
    const gone = view.waitForKey("a", (v) => v === undefined, { timeoutMs: 5000 });
    kafka.append("a", null);
    expect(await gone).toBeUndefined();
  });

  test("waits time out with TOKA_TIMEOUT and reject bad arguments", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    const view = newView(kafka);
    await expect(view.waitForKey("a")).rejects.toMatchObject({
      code: TokaErrorCode.InvalidState,
    });
    await expect(view.waitForOffset(0, 0)).rejects.toMatchObject({
      code: TokaErrorCode.InvalidState,
    });
    await expect(view.catchUp()).rejects.toMatchObject({ code: TokaErrorCode.InvalidState });
    await view.start();
    const timeout = await rejection(view.waitForKey("a", undefined, { timeoutMs: 20 }));
    expect(timeout.code).toBe(TokaErrorCode.Timeout);
    expect(timeout.message).toContain('key "a"');
    expect((await rejection(view.waitForOffset(0, 5, { timeoutMs: 20 }))).code).toBe(
      TokaErrorCode.Timeout,
    );
    expect((await rejection(view.waitForOffset(9, 0))).code).toBe(TokaErrorCode.InvalidArgument);
    expect((await rejection(view.waitForOffset(0, "-1"))).code).toBe(TokaErrorCode.InvalidArgument);
    const aborted = new AbortController();
    const wait = view.waitForKey("a", undefined, { signal: aborted.signal });
    aborted.abort(new Error("no longer needed"));
    await expect(wait).rejects.toThrow("no longer needed");
  });

  test("catchUp resolves once the watermarks taken at the call are applied", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    const view = newView(kafka);
    await view.start();
    for (let i = 0; i < 100; i++) kafka.append(`k${i}`, json(i));
    await view.catchUp({ timeoutMs: 5000 });
    for (let i = 0; i < 100; i++) expect(await view.get(`k${i}`)).toEqual({ balance: i });
  });

  test("pending waits reject when the view closes", async () => {
    const kafka = new FakeKafka(TABLE, 1);
    const view = newView(kafka);
    await view.start();
    const wait = rejection(view.waitForKey("never"));
    await view.close();
    expect((await wait).code).toBe(TokaErrorCode.InvalidState);
  });
});

describe("View reads", () => {
  test("iterate merges all partitions in key order, with ranges, prefix and limit", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    const keys = Array.from({ length: 60 }, (_, i) => `user-${String(i).padStart(2, "0")}`);
    for (const [i, key] of keys.entries()) kafka.append(key, json(i));
    kafka.append("zeta", json(-1));
    kafka.append("é-accent", json(-2));
    kafka.append("😀-emoji", json(-3));
    kafka.append("\uffff-last-bmp", json(-4));
    const view = newView(kafka);
    await view.start();

    const all: [string, Account][] = [];
    for await (const entry of view.iterate()) all.push(entry);
    const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    expect(all.map(([k]) => k)).toEqual([...all.map(([k]) => k)].sort(byBytes));
    expect(all).toHaveLength(64);
    // Keys spread over partitions, so the merge is what sorts them.
    expect(new Set(keys.map((k) => defaultPartition(k, 4))).size).toBe(4);

    const page: string[] = [];
    for await (const [k] of view.iterate({ prefix: "user-", gte: "user-10", limit: 5 }))
      page.push(k);
    expect(page).toEqual(["user-10", "user-11", "user-12", "user-13", "user-14"]);
    const range: string[] = [];
    for await (const [k] of view.iterate({ gt: "user-57", lt: "zeta" })) range.push(k);
    expect(range).toEqual(["user-58", "user-59"]);
    const none: string[] = [];
    for await (const [k] of view.iterate({ limit: 0 })) none.push(k);
    expect(none).toEqual([]);

    // Breaking out early releases every partition's iterator.
    for await (const _ of view.iterate()) break;
    const error = await rejection(
      (async () => {
        for await (const _ of view.iterate({ limit: -1 })) break;
      })(),
    );
    expect(error.code).toBe(TokaErrorCode.InvalidArgument);
  });

  test("a value that does not decode is reported with coordinates and is not fatal", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    kafka.append("good", json(1));
    const bad = kafka.append("bad", new Uint8Array([0xff, 0x00, 0x7b]));
    const view = newView(kafka);
    const failures: TokaError[] = [];
    view.on("view.decode-failed", (e) => failures.push(e));
    await view.start();

    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      code: TokaErrorCode.DecodeFailed,
      topic: TABLE,
      partition: bad.partition,
      offset: String(bad.offset),
      key: "bad",
    });
    expect(view.status).toBe(ViewStatus.Running);
    // get throws the error that was reported; has and iterate go on.
    expect(await rejection(view.get("bad"))).toBe(failures[0]);
    expect(await view.has("bad")).toBe(true);
    const keys: string[] = [];
    for await (const [k] of view.iterate()) keys.push(k);
    expect(keys).toEqual(["good"]);
    expect(view.stats().decodeFailures).toBe(1);

    // A schema violation is a decode failure too; a later valid value heals the key.
    const wrongShape = kafka.append("bad", JSON.stringify({ balance: "lots" }));
    await view.waitForOffset(wrongShape.partition, wrongShape.offset);
    expect(failures).toHaveLength(2);
    kafka.append("bad", json(3));
    expect(await view.waitForKey("bad")).toEqual({ balance: 3 });
    expect(await view.get("bad")).toEqual({ balance: 3 });
  });

  test("reads before start and after close throw TOKA_INVALID_STATE", async () => {
    const kafka = new FakeKafka(TABLE, 1);
    const view = newView(kafka);
    expect((await rejection(view.get("a"))).code).toBe(TokaErrorCode.InvalidState);
    await view.start();
    await view.close();
    expect((await rejection(view.get("a"))).message).toContain("closed");
    expect((await rejection(view.has("a"))).code).toBe(TokaErrorCode.InvalidState);
  });
});

describe("View connection loss", () => {
  test("reconnecting keeps serving the last known values, then resumes at its position", async () => {
    const kafka = new FakeKafka(TABLE, 4);
    for (let i = 0; i < 40; i++) kafka.append(`k${i}`, json(i));
    const view = newView(kafka);
    await view.start();
    const consumer = kafka.consumerOf;
    const statuses: ViewStatus[] = [];
    view.on("status", (s) => statuses.push(s));
    const reconnecting: TokaError[] = [];
    view.on("view.reconnecting", (e) => reconnecting.push(e));

    consumer.crashAndRestart(new Error("broker went away"));
    expect(view.status).toBe(ViewStatus.Reconnecting);
    expect(reconnecting[0]).toMatchObject({ code: TokaErrorCode.KafkaFailed, retriable: true });
    expect(await view.get("k5")).toEqual({ balance: 5 });
    const listed: string[] = [];
    for await (const [k] of view.iterate({ limit: 3 })) listed.push(k);
    expect(listed).toHaveLength(3);

    // Written while the view is disconnected: not seen until it is back.
    const late = kafka.append("k5", json(555));
    await new Promise((r) => setTimeout(r, 20));
    expect(await view.get("k5")).toEqual({ balance: 5 });

    const seeksBefore = consumer.seeks.length;
    consumer.rejoin();
    expect(view.status).toBe(ViewStatus.Running);
    expect(statuses).toEqual([ViewStatus.Reconnecting, ViewStatus.Running]);
    // Every partition is sought to the view's own position (it never commits).
    const seeks = consumer.seeks.slice(seeksBefore);
    expect(seeks.map((s) => s.partition).sort()).toEqual([0, 1, 2, 3]);
    for (const s of seeks)
      expect(s.offset).toBe(
        String(kafka.logs[s.partition]!.length - (s.partition === late.partition ? 1 : 0)),
      );
    await view.waitForOffset(late.partition, late.offset, { timeoutMs: 5000 });
    expect(await view.get("k5")).toEqual({ balance: 555 });
  });

  test("a consumer crash that is not restarted fails the view", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    const view = newView(kafka);
    await view.start();
    const running = view.run();
    const failures: TokaError[] = [];
    view.on("view.failed", (e) => failures.push(e));
    kafka.consumerOf.crash(new Error("fatal"));
    const error = await rejection(running);
    expect(error.code).toBe(TokaErrorCode.KafkaFailed);
    expect(failures).toEqual([error]);
    expect(view.status).toBe(ViewStatus.Failed);
    expect((await rejection(view.get("a"))).code).toBe(TokaErrorCode.InvalidState);
    expect(await rejection(view.start())).toBe(error);
    await view.close();
    expect(view.status).toBe(ViewStatus.Failed);
  });
});

describe("View lifecycle and options", () => {
  test("start and close are idempotent; run resolves on abort; asyncDispose closes", async () => {
    const kafka = new FakeKafka(TABLE, 2);
    const view = newView(kafka);
    const first = view.start();
    expect(view.start()).toBe(first);
    await first;
    await Promise.all([view.close(), view.close()]);
    expect(view.status).toBe(ViewStatus.Closed);
    expect((await rejection(view.start())).code).toBe(TokaErrorCode.InvalidState);

    const other = newView(kafka);
    const controller = new AbortController();
    const running = other.run({ signal: controller.signal });
    await other.waitFor(ViewStatus.Running, { timeoutMs: 5000 });
    controller.abort();
    await running;
    expect(other.status).toBe(ViewStatus.Closed);

    {
      await using disposable = newView(kafka);
      await disposable.start();
    }
    expect(kafka.consumers.every((c) => c.handlers !== undefined)).toBe(true);
  });

  test("a missing table topic fails start with TOKA_TOPIC_MISSING", async () => {
    const kafka = new FakeKafka("other-table", 1);
    const view = newView(kafka);
    const error = await rejection(view.start());
    expect(error).toMatchObject({ code: TokaErrorCode.TopicMissing, topic: TABLE });
    expect(view.status).toBe(ViewStatus.Failed);
  });

  test("options are validated at construction with the option's name", () => {
    const kafka = new FakeKafka(TABLE, 1);
    const make = (options: Record<string, unknown>) => () =>
      new View({ client: kafka, table: TABLE, codec, ...options } as ViewOptions<Account>);
    expect(make({ table: "" })).toThrow(/invalid view option "table"/);
    expect(make({ table: "no spaces" })).toThrow(/"table".*letters, digits/);
    expect(make({ codec: {} as Codec<Account> })).toThrow(/invalid view option "codec"/);
    expect(make({ concurrency: 0 })).toThrow(/invalid view option "concurrency"/);
    expect(make({ storage: "level" })).toThrow(/invalid view option "storage"/);
    expect(make({ client: undefined })).toThrow(/needs "brokers".*or a "client"/);
    expect(make({ client: undefined, brokers: ["localhost"] })).toThrow(
      /invalid view option "brokers.0": expected "host:port"/,
    );
    try {
      make({ table: "" })();
    } catch (error) {
      expect((error as TokaError).code).toBe(TokaErrorCode.InvalidConfig);
    }
  });
});
