import { jsonCodec, stringCodec } from "@toka/codec";
import { defineGroup, join, lookup, loop, Processor, persist, silentLogger } from "@toka/processor";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import {
  adminClient,
  brokers,
  createTopic,
  kafkaClient,
  readTable,
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
});
