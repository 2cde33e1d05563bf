import { jsonCodec, stringCodec } from "@toka/codec";
import { serveViews, silentLogger, TokaErrorCode, View } from "@toka/processor";
import { type Message, Partitioners } from "kafkajs";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import { brokers, createTopic, kafkaClient } from "./helpers.js";

const Order = z.object({ item: z.string(), qty: z.number().int() });
const COMPACTED = [{ name: "cleanup.policy", value: "compact" }];

async function produce(topic: string, messages: Message[]) {
  const producer = kafkaClient().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The JSON bodies the service answers with (a value, an error or a listing). */
interface Body {
  readonly error: string;
  readonly items: readonly { key: string; value: unknown }[];
  readonly next?: string;
  readonly [field: string]: unknown;
}

async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  const body = (await response.json()) as Body;
  return { status: response.status, body, headers: response.headers };
}

describe("query service on real views", () => {
  test("serves values, listings, health and readiness over HTTP", async () => {
    const ordersTable = await createTopic("qs-orders", 4, COMPACTED);
    const namesTable = await createTopic("qs-names", 2, COMPACTED);
    const orders: Message[] = [];
    for (let i = 0; i < 30; i++) {
      orders.push({
        key: `order-${String(i).padStart(2, "0")}`,
        value: JSON.stringify({ item: `item-${i}`, qty: i }),
      });
    }
    orders.push({ key: "eu/berlin 1", value: JSON.stringify({ item: "pretzel", qty: 2 }) });
    orders.push({ key: "order-05", value: null });
    orders.push({ key: "order-99", value: Buffer.from("not json") });
    await produce(ordersTable, orders);
    await produce(namesTable, [{ key: "n", value: "Nina" }]);

    const view = new View({
      brokers: brokers(),
      table: ordersTable,
      codec: jsonCodec(Order),
      logger: silentLogger,
    });
    onTestFinished(() => view.close());
    const names = new View({
      brokers: brokers(),
      table: namesTable,
      codec: stringCodec,
      logger: silentLogger,
    });
    onTestFinished(() => names.close());
    const service = await serveViews({
      views: { orders: view, names },
      port: 0,
      defaultLimit: 10,
      maxLimit: 50,
      logger: silentLogger,
    });
    onTestFinished(() => service.close());
    const url = service.url;

    // Before the views run: up, but not ready.
    expect((await get(`${url}/health`)).status).toBe(200);
    const notReady = await get(`${url}/ready`);
    expect(notReady).toMatchObject({
      status: 503,
      body: { ready: false, views: { orders: "idle", names: "idle" } },
    });
    expect((await get(`${url}/orders/order-01`)).status).toBe(503);

    await Promise.all([view.start(), names.start()]);
    expect(await get(`${url}/ready`)).toMatchObject({
      status: 200,
      body: { ready: true, views: { orders: "running", names: "running" } },
    });

    expect(await get(`${url}/orders/order-01`)).toMatchObject({
      status: 200,
      body: { item: "item-1", qty: 1 },
    });
    expect((await get(`${url}/names/n`)).body).toBe("Nina");
    expect((await get(`${url}/orders/${encodeURIComponent("eu/berlin 1")}`)).body).toEqual({
      item: "pretzel",
      qty: 2,
    });
    const deleted = await get(`${url}/orders/order-05`);
    expect(deleted.status).toBe(404);
    expect(deleted.body.error).toContain("order-05");
    expect((await get(`${url}/orders/nobody`)).status).toBe(404);
    const unknown = await get(`${url}/customers/c1`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toContain('"customers"');
    const undecodable = await get(`${url}/orders/order-99`);
    expect(undecodable).toMatchObject({
      status: 500,
      body: { code: TokaErrorCode.DecodeFailed },
    });

    // Listings: key order across all partitions, default limit 10, then pages.
    const first = await get(`${url}/orders?prefix=order-`);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(10);
    expect(first.body.items[0]).toEqual({ key: "order-00", value: { item: "item-0", qty: 0 } });
    expect(first.body.next).toBe("order-10");
    const keys: string[] = [];
    let next: string | undefined;
    do {
      const after = next === undefined ? "" : `&after=${encodeURIComponent(next)}`;
      const page = await get(`${url}/orders?prefix=order-&limit=8${after}`);
      expect(page.status).toBe(200);
      keys.push(...page.body.items.map((item) => item.key));
      next = page.body.next;
    } while (next !== undefined);
    // 30 orders, one deleted, the undecodable one skipped.
    expect(keys).toHaveLength(29);
    expect(keys).toEqual([...keys].sort());
    expect(keys).not.toContain("order-05");

    for (const limit of ["0", "51", "ten"]) {
      const bad = await get(`${url}/orders?limit=${limit}`);
      expect(bad.status, `limit=${limit}`).toBe(400);
      expect(bad.body.error).toContain("limit");
    }
    const post = await get(`${url}/orders/order-01`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const del = await get(`${url}/orders/order-01`, { method: "DELETE" });
    expect(del.status).toBe(405);

    // The service follows the view: a new value is served once applied.
    await produce(ordersTable, [{ key: "order-01", value: JSON.stringify({ item: "x", qty: 9 }) }]);
    await view.waitForKey("order-01", (o) => o?.qty === 9, { timeoutMs: 20_000 });
    expect((await get(`${url}/orders/order-01`)).body).toEqual({ item: "x", qty: 9 });

    // A closed view makes the service unready; the service stays up.
    await names.close();
    expect(await get(`${url}/ready`)).toMatchObject({
      status: 503,
      body: { views: { orders: "running", names: "closed" } },
    });
    expect((await get(`${url}/names/n`)).status).toBe(503);
    expect((await get(`${url}/health`)).status).toBe(200);
    await service.close();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
