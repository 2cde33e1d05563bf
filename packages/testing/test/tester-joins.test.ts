import { jsonCodec } from "@toka/codec";
import { defineGroup, join, lookup, output, persist } from "@toka/processor";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

interface Profile {
  name: string;
  country: string;
}
interface Order {
  customer: string;
  amount: number;
}
interface Enriched {
  amount: number;
  name: string | null;
}

const profileCodec = jsonCodec<Profile>();
const orderCodec = jsonCodec<Order>();
const enrichedCodec = jsonCodec<Enriched>();

/** Keeps the latest profile per user: its table is what the others join and look up. */
const profiles = defineGroup("profiles", {
  persist: persist(profileCodec),
  inputs: ({ input }) => [input("profile-updates", profileCodec, (ctx, p) => ctx.setValue(p))],
});

function setup(t: Tester, partitions = 3) {
  for (const topic of ["profile-updates", "payments", "orders", "enriched"]) {
    t.createTopic(topic, partitions);
  }
}

describe("joins and lookups on the tester", () => {
  test("join: a payment keyed by user reads the user's profile from the co-partitioned table", async () => {
    const t = tester();
    setup(t);
    const payments = defineGroup("payments", {
      joins: [join("profiles-table", profileCodec)],
      outputs: [output("enriched", enrichedCodec)],
      inputs: ({ input }) => [
        input("payments", jsonCodec<number>(), (ctx, amount) => {
          const profile = ctx.join("profiles-table");
          ctx.emit("enriched", ctx.key, { amount, name: profile?.name ?? null });
        }),
      ],
    });
    await t.startProcessor(profiles);
    await t.startProcessor(payments);
    await t.emit("payments", "alice", 5, { codec: jsonCodec<number>() });
    await t.emit(
      "profile-updates",
      "alice",
      { name: "Alice", country: "NL" },
      { codec: profileCodec },
    );
    // Idle: the payments group's replica of profiles-table has the new profile too.
    await t.emit("payments", "alice", 7, { codec: jsonCodec<number>() });
    expect(t.messages("enriched", enrichedCodec).map((m) => m.value)).toEqual([
      { amount: 5, name: null },
      { amount: 7, name: "Alice" },
    ]);
  });

  test("join: a joined table set up front is there before the first input", async () => {
    const t = tester();
    setup(t);
    const payments = defineGroup("payments", {
      joins: [join("profiles-table", profileCodec)],
      outputs: [output("enriched", enrichedCodec)],
      inputs: ({ input }) => [
        input("payments", jsonCodec<number>(), (ctx, amount) => {
          ctx.emit("enriched", ctx.key, { amount, name: ctx.join("profiles-table")?.name ?? null });
        }),
      ],
    });
    await t.setTableValue(profiles, "bob", { name: "Bob", country: "DE" });
    await t.startProcessor(payments);
    await t.emit("payments", "bob", 1, { codec: jsonCodec<number>() });
    expect(t.messages("enriched", enrichedCodec)[0]?.value).toEqual({ amount: 1, name: "Bob" });
  });

  test("lookup: an order keyed by order id reads its customer's profile through a view", async () => {
    const t = tester();
    setup(t);
    const orders = defineGroup("orders", {
      lookups: [lookup("profiles-table", profileCodec)],
      outputs: [output("enriched", enrichedCodec)],
      inputs: ({ input }) => [
        input("orders", orderCodec, async (ctx, order) => {
          const profile = await ctx.lookup("profiles-table", order.customer);
          ctx.emit("enriched", ctx.key, { amount: order.amount, name: profile?.name ?? null });
        }),
      ],
    });
    await t.startProcessor(profiles);
    await t.emit(
      "profile-updates",
      "carol",
      { name: "Carol", country: "FR" },
      { codec: profileCodec },
    );
    await t.startProcessor(orders);
    await t.emit("orders", "order-1", { customer: "carol", amount: 3 }, { codec: orderCodec });
    await t.emit("orders", "order-2", { customer: "dave", amount: 4 }, { codec: orderCodec });
    await t.emit(
      "profile-updates",
      "dave",
      { name: "Dave", country: "BE" },
      { codec: profileCodec },
    );
    await t.emit("orders", "order-3", { customer: "dave", amount: 5 }, { codec: orderCodec });
    expect(t.messages("enriched", enrichedCodec).map((m) => [m.key, m.value])).toEqual([
      ["order-1", { amount: 3, name: "Carol" }],
      ["order-2", { amount: 4, name: null }],
      ["order-3", { amount: 5, name: "Dave" }],
    ]);
  });
});
