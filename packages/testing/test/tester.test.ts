import { jsonCodec, stringCodec } from "@toka/codec";
import {
  DEFAULTS,
  defineGroup,
  ID_HEADER,
  loop,
  output,
  Processor,
  persist,
  silentLogger,
  TokaErrorCode,
} from "@toka/processor";
import { defaultPartition } from "@toka/processor/kafka";
import { memoryStorage } from "@toka/state-store";
import { describe, expect, expectTypeOf, test } from "vitest";
import { type Tester, TesterStatus } from "../src/index.js";
import { tester } from "./helpers.js";

interface Count {
  count: number;
  sum: number;
}

/** Counts and sums amounts per key; emits every new count to "counts". */
function counter(name = "counter", inputTopic = "amounts") {
  return defineGroup(name, {
    persist: persist(jsonCodec<Count>()),
    outputs: [output("counts", jsonCodec<Count>())],
    inputs: ({ input }) => [
      input(inputTopic, jsonCodec<number>(), (ctx, amount) => {
        const current = ctx.value() ?? { count: 0, sum: 0 };
        const next = { count: current.count + 1, sum: current.sum + amount };
        ctx.setValue(next);
        ctx.emit("counts", ctx.key, next);
      }),
    ],
  });
}

function setup(t: Tester, partitions = 1) {
  t.createTopic("amounts", partitions);
  t.createTopic("counts", partitions);
}

/** Twenty keys; `emitToEveryKey` sends each of them one message with the amount. */
const KEYS = Array.from({ length: 20 }, (_, i) => `k${i}`);
const emitToEveryKey = (t: Tester, amount: number) =>
  t.emitMany(
    "amounts",
    KEYS.map((key) => ({ key, value: amount })),
    { codec: jsonCodec<number>() },
  );

describe("a processor on the tester", () => {
  test("processes emitted messages into its table and outputs", async () => {
    const t = tester();
    setup(t);
    const graph = counter();
    const processor = await t.startProcessor(graph);
    expect(processor.status).toBe("running");

    await t.emit("amounts", "alice", 5, { codec: jsonCodec<number>() });
    await t.emit("amounts", "bob", 1, { codec: jsonCodec<number>() });
    await t.emit("amounts", "alice", 2, { codec: jsonCodec<number>() });

    expect(await t.tableValue(graph, "alice")).toEqual({ count: 2, sum: 7 });
    expect(await t.tableValue(graph, "bob")).toEqual({ count: 1, sum: 1 });
    expect(await t.tableValue(graph, "carol")).toBeUndefined();
    expect(await t.table(graph)).toEqual(
      new Map([
        ["alice", { count: 2, sum: 7 }],
        ["bob", { count: 1, sum: 1 }],
      ]),
    );
    const counts = t.messages("counts", jsonCodec<Count>());
    expect(counts.map((m) => [m.key, m.value])).toEqual([
      ["alice", { count: 1, sum: 5 }],
      ["bob", { count: 1, sum: 1 }],
      ["alice", { count: 2, sum: 7 }],
    ]);
    // Emitted IDs derive from the input's ID (EO-3).
    expect(counts.map((m) => m.id)).toEqual(["tester-1:1", "tester-2:1", "tester-3:1"]);
    expect(counts[0]).toMatchObject({ topic: "counts", partition: 0, offset: "0" });
  });

  test("types table values by the graph", async () => {
    const t = tester();
    setup(t);
    const graph = counter();
    expectTypeOf(t.tableValue(graph, "a")).resolves.toEqualTypeOf<Count | undefined>();
    expectTypeOf(t.table(graph)).resolves.toEqualTypeOf<Map<string, Count>>();
    // @ts-expect-error the table holds Count values
    await t.setTableValue(graph, "a", "not a count").catch(() => {});
    expectTypeOf(t.tableValue("counter", "a", stringCodec)).resolves.toEqualTypeOf<
      string | undefined
    >();
  });

  test("reads a table by group name and codec", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(counter());
    await t.emit("amounts", "alice", 3, { codec: jsonCodec<number>() });
    expect(await t.tableValue("counter", "alice", jsonCodec<Count>())).toEqual({
      count: 1,
      sum: 3,
    });
    await expect(t.tableValue("counter", "alice", undefined as never)).rejects.toMatchObject({
      code: TokaErrorCode.InvalidConfig,
    });
  });

  test("table values set up front are recovered by the processor", async () => {
    const t = tester();
    setup(t, 4);
    const graph = counter();
    await t.setTableValue(graph, "alice", { count: 10, sum: 100 });
    await t.setTableValue("counter", "bob", { count: 1, sum: 1 }, jsonCodec<Count>());
    expect(t.partitionCount("counter-table")).toBe(4);

    let recovered = 0;
    const processor = new Processor(graph, { client: t.client, logger: silentLogger });
    processor.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    await t.start(processor);
    expect(recovered).toBe(2);

    await t.emit("amounts", "alice", 1, { codec: jsonCodec<number>() });
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 11, sum: 101 });
    await expect(t.setTableValue(graph, "carol", { count: 1, sum: 1 })).rejects.toMatchObject({
      code: TokaErrorCode.InvalidState,
      group: "counter",
    });
  });

  test("setTableValue needs the graph's input topic to size the table", async () => {
    const t = tester();
    await expect(t.setTableValue(counter(), "alice", { count: 1, sum: 1 })).rejects.toMatchObject({
      code: TokaErrorCode.TopicMissing,
      topic: "amounts",
    });
  });

  test("puts a key on the partition Kafka's default partitioner picks", async () => {
    const t = tester();
    setup(t, 8);
    const graph = counter();
    await t.startProcessor(graph);
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const positions = await t.emitMany(
      "amounts",
      keys.map((key) => ({ key, value: 1 })),
      { codec: jsonCodec<number>() },
    );
    for (const [i, key] of keys.entries()) {
      expect(positions[i]?.partition).toBe(defaultPartition(key, 8));
      expect(t.partitionOf("amounts", key)).toBe(defaultPartition(key, 8));
    }
    // The table record of a key is in the key's partition too, and so is the emit.
    for (const m of t.messages("counter-table")) {
      expect(m.partition).toBe(defaultPartition(m.key!, 8));
    }
    for (const m of t.messages("counts")) expect(m.partition).toBe(defaultPartition(m.key!, 8));
    expect((await t.table(graph)).size).toBe(40);
  });

  test("a burst is delivered in batches of at most maxBatchRecords", async () => {
    const t = tester({ maxBatchRecords: 500 });
    setup(t);
    const graph = counter();
    // A commit interval longer than the burst: only the end of the input flushes.
    const processor = await t.startProcessor(graph, { commitIntervalMs: 60_000 });
    const batches: number[] = [];
    processor.on("batch.processed", (e) => {
      if (e.topic === "amounts") batches.push(e.processed);
    });
    await t.emitMany(
      "amounts",
      Array.from({ length: 1200 }, (_, i) => ({ key: `k${i % 7}`, value: 1 })),
      { codec: jsonCodec<number>() },
    );
    expect(batches).toEqual([500, 500, 200]);
    // One table record per key and flush: the write-back cache coalesces the burst's
    // batches until the last one reaches the end of the input.
    expect(t.messages("counter-table")).toHaveLength(7);
    expect((await t.tableValue(graph, "k0"))?.count).toBe(172);
  });

  test("raw bytes, explicit partitions, headers, IDs and timestamps", async () => {
    const t = tester({ startTime: 1000 });
    t.createTopic("raw", 3);
    const bytes = new Uint8Array([1, 2, 3]);
    const a = await t.emit("raw", "k", bytes, { partition: 2, headers: { h: "v" }, id: "id-1" });
    t.advanceTime(500);
    const b = await t.emit("raw", null, null, { id: null, timestamp: 42 });
    expect(a).toEqual({ topic: "raw", partition: 2, offset: "0" });
    expect(b.offset).toBe("0");
    const [first, second] = t.messages("raw");
    expect(first).toMatchObject({ key: "k", value: bytes, timestamp: 1000, id: "id-1" });
    expect(first?.headers).toEqual({ h: "v", [ID_HEADER]: "id-1" });
    expect(second).toMatchObject({ key: null, value: null, timestamp: 42, id: undefined });
    expect(t.clock.now()).toBe(1500);
    await expect(t.emit("raw", "k", "text" as never)).rejects.toMatchObject({
      code: TokaErrorCode.InvalidConfig,
    });
    await expect(t.emit("raw", "k", bytes, { partition: 3 })).rejects.toMatchObject({
      code: TokaErrorCode.InvalidConfig,
      partition: 3,
    });
  });

  test("the output queue hands out each message once", async () => {
    const t = tester();
    setup(t);
    await t.startProcessor(counter());
    const out = t.output("counts", jsonCodec<Count>());
    out.expectEmpty();
    await t.emit("amounts", "alice", 5, { codec: jsonCodec<number>() });
    expect(out.size).toBe(1);
    expect(out.next()?.value).toEqual({ count: 1, sum: 5 });
    expect(out.next()).toBeUndefined();
    await t.emitMany(
      "amounts",
      [
        { key: "a", value: 1 },
        { key: "b", value: 2 },
      ],
      { codec: jsonCodec<number>() },
    );
    expect(() => out.take(3)).toThrow(/expected 3 more message\(s\) on "counts", found 2/);
    expect(out.take(2).map((m) => m.key)).toEqual(["a", "b"]);
    await t.emit("amounts", "c", 3, { codec: jsonCodec<number>() });
    expect(() => out.expectEmpty()).toThrow(
      /expected no more messages on "counts", found 1: 0\/3 "c"/,
    );
    expect(out.drain().map((m) => m.key)).toEqual(["c"]);
    out.expectEmpty();
  });

  test("a real Emitter and a processor started without the tester's help", async () => {
    const t = tester();
    setup(t);
    const graph = counter();
    const processor = t.register(new Processor(graph, { client: t.client, logger: silentLogger }));
    // The tester delivers in the background, so plain start() and waitFor work too.
    await processor.start();
    await processor.waitFor("running");
    const emitter = t.emitter("amounts", jsonCodec<number>());
    await Promise.all([emitter.emit("alice", 1), emitter.emit("alice", 2)]);
    await t.idle();
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 2, sum: 3 });
    expect(t.messages("amounts")[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("chained processors: one group's output is the next group's input", async () => {
    const t = tester();
    t.createTopic("orders", 2);
    t.createTopic("order-totals", 2);
    t.createTopic("customer-totals", 2);
    const orders = defineGroup("orders", {
      persist: persist(jsonCodec<number>()),
      outputs: [output("order-totals", jsonCodec<{ customer: string; total: number }>())],
      inputs: ({ input }) => [
        input("orders", jsonCodec<{ customer: string; price: number }>(), (ctx, order) => {
          const total = (ctx.value() ?? 0) + order.price;
          ctx.setValue(total);
          ctx.emit("order-totals", order.customer, { customer: order.customer, total });
        }),
      ],
    });
    const customers = defineGroup("customers", {
      persist: persist(jsonCodec<number>()),
      outputs: [output("customer-totals", jsonCodec<number>())],
      inputs: ({ input }) => [
        input("order-totals", jsonCodec<{ customer: string; total: number }>(), (ctx, msg) => {
          ctx.setValue(msg.total);
          ctx.emit("customer-totals", ctx.key, msg.total);
        }),
      ],
    });
    await t.startProcessor(orders);
    await t.startProcessor(customers);
    const codec = jsonCodec<{ customer: string; price: number }>();
    await t.emit("orders", "order-1", { customer: "alice", price: 3 }, { codec });
    // One emit, two groups: idle means the second one is done too.
    expect(await t.tableValue(customers, "alice")).toBe(3);
    await t.emit("orders", "order-1", { customer: "alice", price: 4 }, { codec });
    expect(await t.tableValue(orders, "order-1")).toBe(7);
    expect(await t.tableValue(customers, "alice")).toBe(7);
    expect(t.messages("customer-totals", jsonCodec<number>()).map((m) => m.value)).toEqual([3, 7]);
  });

  test("loopback re-keys within the group", async () => {
    const t = tester();
    t.createTopic("transfers", 4);
    const bank = defineGroup("bank", {
      persist: persist(jsonCodec<number>()),
      loop: loop(jsonCodec<number>()),
      inputs: ({ input, loop: onLoop }) => [
        input("transfers", jsonCodec<{ to: string; amount: number }>(), (ctx, transfer) => {
          ctx.setValue((ctx.value() ?? 0) - transfer.amount);
          ctx.loopback(transfer.to, transfer.amount);
        }),
        onLoop((ctx, amount) => {
          ctx.setValue((ctx.value() ?? 0) + amount);
        }),
      ],
    });
    await t.startProcessor(bank);
    const codec = jsonCodec<{ to: string; amount: number }>();
    await t.emit("transfers", "alice", { to: "bob", amount: 5 }, { codec });
    await t.emit("transfers", "bob", { to: "carol", amount: 2 }, { codec });
    expect(await t.table(bank)).toEqual(
      new Map([
        ["alice", -5],
        ["bob", 3],
        ["carol", 2],
      ]),
    );
    expect(t.messages("bank-loop").map((m) => m.key)).toEqual(["bob", "carol"]);
  });

  test("two instances of a group share its partitions and hand them over", async () => {
    const t = tester();
    setup(t, 4);
    const graph = counter();
    const first = await t.startProcessor(graph);
    const second = await t.startProcessor(graph);
    // Co-partitioned and sticky: the first keeps half of what it owned, the second takes the rest.
    expect(first.stats().partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(second.stats().partitions.map((p) => p.partition)).toEqual([2, 3]);

    await emitToEveryKey(t, 1);
    await first.close();
    await t.idle();
    expect(second.stats().partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    await emitToEveryKey(t, 2);
    const table = await t.table(graph);
    for (const key of KEYS) expect(table.get(key)).toEqual({ count: 2, sum: 3 });
    expect(t.committedOffset("counter", "amounts", defaultPartition("k1", 4))).toBeDefined();
  });

  test("with standby replicas, the instance taking a closed instance's partitions reads nothing of their tables", async () => {
    const t = tester();
    setup(t, 4);
    const graph = counter();
    // Each instance its own storage: a standby is a copy of its own.
    const [first, second] = [
      await t.startProcessor(graph, { storage: memoryStorage(), standbyReplicas: 1 }),
      await t.startProcessor(graph, { storage: memoryStorage(), standbyReplicas: 1 }),
    ];
    await emitToEveryKey(t, 1);
    // The standbys follow on their own (every 200 ms): wait until each partition has one,
    // on the instance that does not own it, and they read every table record.
    const deadline = Date.now() + 10_000;
    await t.idle();
    const tableRecords = t.messages(graph.tableTopic).length;
    const caughtUp = () => {
      const standbys = [first, second].flatMap((p) => p.stats().standbys);
      const read = standbys.reduce((sum, s) => sum + Number(s.tableOffset), 0);
      const apart = [first, second].every((p) =>
        p
          .stats()
          .partitions.every((o) => !p.stats().standbys.some((s) => s.partition === o.partition)),
      );
      return standbys.length === 4 && read === tableRecords && apart;
    };
    while (!caughtUp()) {
      if (Date.now() > deadline)
        throw new Error(
          `standbys not caught up: ${JSON.stringify([first.stats(), second.stats()])}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    let recovered = 0;
    second.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    await first.close();
    await t.idle();
    expect(second.stats().partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(recovered).toBe(0);
    await emitToEveryKey(t, 2);
    const table = await t.table(graph);
    for (const key of KEYS) expect(table.get(key)).toEqual({ count: 2, sum: 3 });
  });

  test("a restarted processor with its storage reads only the table's delta", async () => {
    const t = tester();
    setup(t, 2);
    const graph = counter();
    const storage = memoryStorage();
    const first = await t.startProcessor(graph, { storage });
    await t.emit("amounts", "alice", 1, { codec: jsonCodec<number>() });
    await first.close();

    const second = new Processor(graph, { client: t.client, storage, logger: silentLogger });
    let recovered = 0;
    second.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    await t.start(second);
    expect(recovered).toBe(0);
    await t.emit("amounts", "alice", 1, { codec: jsonCodec<number>() });
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 2, sum: 2 });
  });

  // Regression: a restart whose checkpoint was ahead of the group's commit continued
  // after the checkpoint but never committed it; with no new input the group's offset
  // stayed behind forever.
  test("a restart commits the checkpointed offsets the group had lost", async () => {
    const t = tester();
    setup(t, 1);
    const graph = counter();
    const storage = memoryStorage();
    const first = await t.startProcessor(graph, { storage });
    await t.emit("amounts", "alice", 1, { codec: jsonCodec<number>() });
    await t.emit("amounts", "alice", 2, { codec: jsonCodec<number>() });
    await first.close();
    expect(t.committedOffset("counter", "amounts", 0)).toBe("2");
    t.setCommittedOffset("counter", "amounts", 0, 0);

    await t.startProcessor(graph, { storage });
    expect(t.committedOffset("counter", "amounts", 0)).toBe("2");
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 2, sum: 3 });
  });

  test("the same inputs give the same topics, offsets and headers in every run", async () => {
    const run = async () => {
      const t = tester();
      setup(t, 3);
      const latest = defineGroup("latest", {
        persist: persist(jsonCodec<Count>()),
        inputs: ({ input }) => [input("counts", jsonCodec<Count>(), (ctx, c) => ctx.setValue(c))],
      });
      await t.startProcessor(counter());
      await t.startProcessor(latest, { guarantee: "exactly-once" });
      for (let i = 0; i < 30; i++) {
        if (i % 10 === 0) t.advanceTime(1000);
        await t.emit("amounts", `k${i % 4}`, i, { codec: jsonCodec<number>() });
      }
      const topics = ["amounts", "counts", "counter-table", "latest-table"];
      return topics.map((topic) => t.messages(topic));
    };
    expect(await run()).toEqual(await run());
  });

  test("close closes every registered processor and is idempotent", async () => {
    const t = tester();
    setup(t);
    const processor = await t.startProcessor(counter());
    await t.close();
    expect(processor.status).toBe("closed");
    expect(t.status).toBe(TesterStatus.Closed);
    await t.close();
    await expect(t.idle()).rejects.toMatchObject({ code: TokaErrorCode.InvalidState });
    expect(() => t.createTopic("x")).toThrow(/after the tester was closed/);
  });

  test("createTopic is idempotent for the same partition count only", () => {
    const t = tester();
    expect(t.createTopic("a", 2)).toBe("a");
    expect(t.createTopic("a", 2)).toBe("a");
    expect(() => t.createTopic("a", 3)).toThrow(/exists with 2 partition\(s\), not 3/);
    expect(() => t.createTopic("b", 0)).toThrow(/whole number of partitions >= 1/);
  });

  test("a processor whose input is missing fails to start with the processor's error", async () => {
    const t = tester();
    await expect(t.startProcessor(counter())).rejects.toMatchObject({
      code: TokaErrorCode.TopicMissing,
      topic: "amounts",
    });
  });

  test("invalid options name the option", () => {
    expect(() => tester({ maxBatchRecords: 0 })).toThrow(/invalid tester option "maxBatchRecords"/);
    expect(DEFAULTS.errorPolicy).toBe("dead-letter");
  });
});

describe("processor start options on the tester", () => {
  test("startFrom latest skips what was written before the group's first start", async () => {
    const t = tester();
    setup(t, 2);
    const graph = counter();
    await t.setTableValue(graph, "alice", { count: 10, sum: 10 });
    await t.emit("amounts", "alice", 5, { codec: jsonCodec<number>() });
    await t.startProcessor(graph, { startFrom: "latest" });
    // The table is still recovered from its beginning; only inputs start at the end.
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 10, sum: 10 });
    await t.emit("amounts", "alice", 1, { codec: jsonCodec<number>() });
    expect(await t.tableValue(graph, "alice")).toEqual({ count: 11, sum: 11 });
  });

  test("a stateless group filters without a table", async () => {
    const t = tester();
    t.createTopic("amounts", 2);
    t.createTopic("large", 2);
    const filter = defineGroup("filter", {
      outputs: [output("large", jsonCodec<number>())],
      inputs: ({ input }) => [
        input("amounts", jsonCodec<number>(), (ctx, amount) => {
          if (amount >= 100) ctx.emit("large", ctx.key, amount);
        }),
      ],
    });
    await t.startProcessor(filter);
    await t.emitMany(
      "amounts",
      [5, 500, 50, 100].map((value) => ({ key: "k", value })),
      { codec: jsonCodec<number>() },
    );
    expect(t.messages("large", jsonCodec<number>()).map((m) => m.value)).toEqual([500, 100]);
    expect(t.partitionCount("filter-table")).toBeUndefined();
  });

  test("inputs with different partition counts are refused at start, naming them", async () => {
    const t = tester();
    t.createTopic("left", 2);
    t.createTopic("right", 3);
    const both = defineGroup("both", {
      inputs: ({ input }) => [
        input("left", stringCodec, () => {}),
        input("right", stringCodec, () => {}),
      ],
    });
    await expect(t.startProcessor(both)).rejects.toMatchObject({
      code: TokaErrorCode.NotCopartitioned,
      message: expect.stringMatching(/left=2, right=3/),
    });
  });
});

describe("regressions", () => {
  // start() waited for a signal armed only after the consumer's run() returned; an
  // instance assigned no partition (more instances than partitions) gave the signal
  // during run(), before it was armed, and start() never resolved.
  test("an instance that is assigned no partition finishes start()", async () => {
    const t = tester({ idleTimeoutMs: 200 });
    setup(t, 1);
    const first = await t.startProcessor(counter());
    const second = await t.startProcessor(counter());
    expect(second.status).toBe("running");
    expect(second.stats().partitions).toEqual([]);
    expect(first.stats().partitions).toHaveLength(1);
  });
});
