import { jsonCodec, stringCodec } from "@toka/codec";
import { defineGroup, join, lookup, loop, Processor, persist, silentLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import {
  adminClient,
  brokers,
  createTopic,
  kafkaClient,
  readTable,
  tempDir,
  uniqueName,
  waitUntil,
} from "./helpers.js";

const User = z.object({ country: z.string() });
const Total = z.object({ total: z.number() });
const Sale = z.object({ amount: z.number() });

describe("join, lookup and loopback", () => {
  test("a group joins a co-partitioned table, looks up another and re-keys through its loop", async () => {
    const users = await createTopic("users-table", 4, [
      { name: "cleanup.policy", value: "compact" },
    ]);
    const rates = await createTopic("rates-table", 1, [
      { name: "cleanup.policy", value: "compact" },
    ]);
    const orders = await createTopic("orders", 4);
    const producer = kafkaClient().producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    await producer.send({
      topic: users,
      messages: [
        { key: "ann", value: '{"country":"fr"}' },
        { key: "bob", value: '{"country":"de"}' },
        { key: "cy", value: '{"country":"fr"}' },
      ],
    });
    await producer.send({
      topic: rates,
      messages: [
        { key: "fr", value: "2" },
        { key: "de", value: "3" },
      ],
    });

    const group = uniqueName("sales");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec(Total)),
      joins: [join(users, jsonCodec(User))],
      lookups: [lookup(rates, stringCodec)],
      loop: loop(jsonCodec(Sale)),
      inputs: ({ input, loop: fromLoop }) => [
        input(orders, stringCodec, async (ctx, qty) => {
          const user = ctx.join(users);
          if (!user) throw new Error(`unknown user ${ctx.key}`);
          const rate = Number((await ctx.lookup(rates, user.country)) ?? "0");
          const amount = Number(qty) * rate;
          ctx.setValue({ total: (ctx.value()?.total ?? 0) + amount });
          // Re-key by country: lands on another partition, handled by the loop callback.
          ctx.loopback(`country:${user.country}`, { amount });
        }),
        fromLoop((ctx, sale) => {
          ctx.setValue({ total: (ctx.value()?.total ?? 0) + sale.amount });
        }),
      ],
    });
    const processor = new Processor(graph, {
      brokers: brokers(),
      logger: silentLogger,
      errorPolicy: "fail",
    });
    onTestFinished(() => processor.close());
    await processor.start();

    await producer.send({
      topic: orders,
      messages: [
        { key: "ann", value: "1" },
        { key: "bob", value: "2" },
        { key: "cy", value: "5" },
        { key: "ann", value: "1" },
      ],
    });
    const expected = new Map([
      ["ann", { total: 4 }],
      ["bob", { total: 6 }],
      ["cy", { total: 10 }],
      ["country:fr", { total: 14 }],
      ["country:de", { total: 6 }],
    ]);
    const table = await waitUntil("all totals", async () => {
      const t = new Map(
        [...(await readTable(`${group}-table`))].map(([k, v]) => [
          k,
          JSON.parse(v.value.toString()),
        ]),
      );
      return t.get("country:fr")?.total === 14 && t.get("ann")?.total === 4 && t;
    });
    expect(table).toEqual(expected);
    const admin = await adminClient();
    const loopOffsets = await admin.fetchTopicOffsets(`${group}-loop`);
    expect(
      loopOffsets.filter((o) => o.high !== "0").length,
      "the loop spread over partitions",
    ).toBeGreaterThan(0);
  });

  test("a joined table with another partition count is refused at start", async () => {
    const users = await createTopic("users-table", 2, [
      { name: "cleanup.policy", value: "compact" },
    ]);
    const orders = await createTopic("orders", 4);
    const graph = defineGroup(uniqueName("sales"), {
      joins: [join(users, jsonCodec(User))],
      inputs: ({ input }) => [input(orders, stringCodec, () => {})],
    });
    const processor = new Processor(graph, { brokers: brokers(), logger: silentLogger });
    onTestFinished(() => processor.close());
    await expect(processor.start()).rejects.toMatchObject({
      code: "TOKA_NOT_COPARTITIONED",
      message: expect.stringContaining(`${users}=2`),
    });
  });

  test("a joined table is restored from its backlog before processing, then followed; a restart reads only the delta", async () => {
    const users = await createTopic("users-table", 2, [
      { name: "cleanup.policy", value: "compact" },
    ]);
    const orders = await createTopic("orders", 2);
    const producer = kafkaClient().producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const user = (id: number, country: string | null) => ({
      key: `u${id}`,
      value: country === null ? null : JSON.stringify({ country }),
    });
    // A backlog with overwrites and a tombstone, ending in a transaction's commit markers.
    await producer.send({
      topic: users,
      messages: Array.from({ length: 200 }, (_, i) => user(i, `c${i}`)),
    });
    await producer.send({
      topic: users,
      messages: [...Array.from({ length: 50 }, (_, i) => user(i, "x")), user(199, null)],
    });
    const transactional = kafkaClient().producer({
      transactionalId: uniqueName("users-tx"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await transactional.connect();
    onTestFinished(() => transactional.disconnect());
    const transaction = await transactional.transaction();
    await transaction.send({ topic: users, messages: [user(200, "t"), user(201, "t")] });
    await transaction.commit();

    const group = uniqueName("countries");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec(z.object({ country: z.string().nullable() }))),
      joins: [join(users, jsonCodec(User))],
      inputs: ({ input }) => [
        input(orders, stringCodec, (ctx) => {
          ctx.setValue({ country: ctx.join(users)?.country ?? null });
        }),
      ],
    });
    const storage = levelStorage({ path: await tempDir() });
    const countries = async () =>
      new Map(
        [...(await readTable(`${group}-table`))].map(([k, v]) => [
          k,
          JSON.parse(v.value.toString()).country as string | null,
        ]),
      );
    const start = async () => {
      const processor = new Processor(graph, {
        brokers: brokers(),
        storage,
        logger: silentLogger,
        errorPolicy: "fail",
      });
      onTestFinished(() => processor.close());
      let recovered = 0;
      processor.on("partition.recovered", (e) => {
        recovered += e.records;
      });
      await processor.start();
      await processor.waitFor("running");
      return { processor, recovered: () => recovered };
    };

    const first = await start();
    expect(first.recovered(), "every record of the backlog was restored").toBe(253);
    await producer.send({
      topic: orders,
      messages: ["u0", "u100", "u199", "u200"].map((key) => ({ key, value: "1" })),
    });
    const restored = await waitUntil("the orders of the backlog's users", async () => {
      const t = await countries();
      return t.size === 4 && t;
    });
    expect(restored).toEqual(
      new Map([
        ["u0", "x"],
        ["u100", "c100"],
        ["u199", null],
        ["u200", "t"],
      ]),
    );

    // Followed after recovery: an update is joined by a later order.
    await producer.send({ topic: users, messages: [user(100, "y")] });
    await waitUntil("the followed update joined", async () => {
      await producer.send({ topic: orders, messages: [{ key: "u100", value: "1" }] });
      return (await countries()).get("u100") === "y";
    });
    await first.processor.close();

    // Restarted on the same local state: only what was written meanwhile is read.
    await producer.send({
      topic: users,
      messages: [user(7, "z"), user(8, "z"), user(9, "z")],
    });
    const second = await start();
    expect(second.recovered(), "only the delta was restored").toBe(3);
    await producer.send({ topic: orders, messages: [{ key: "u7", value: "1" }] });
    await waitUntil("the delta joined", async () => (await countries()).get("u7") === "z");
  });
});
