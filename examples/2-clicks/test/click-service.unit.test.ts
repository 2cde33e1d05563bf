import { stringCodec } from "@toka/codec";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { clickCounter } from "../src/click-counter.js";
import { startClickService } from "../src/click-service.js";

// The tester is an in-memory Kafka: the same Processor, View and Emitter run on it
// (given `tester.client` instead of brokers), and `await tester.idle()` returns once
// everything emitted so far has been processed. No broker, no polling.
function tester() {
  const t = new Tester();
  onTestFinished(() => t.close());
  return t;
}

test("the counting group keeps one click count per user", async () => {
  const t = tester();
  const counter = clickCounter("click-counter", "user-clicks");
  t.createTopic("user-clicks", 4);
  await t.startProcessor(counter);

  for (const user of ["alice", "bob", "alice", "alice"]) {
    await t.emit("user-clicks", user, "2025-01-01T00:00:00Z", { codec: stringCodec });
  }

  expect(await t.table(counter)).toEqual(
    new Map([
      ["alice", { clicks: 3 }],
      ["bob", { clicks: 1 }],
    ]),
  );
});

test("the service counts clicks posted to its API and serves them from its view", async () => {
  const t = tester();
  const service = await startClickService({
    client: t.client,
    topic: "user-clicks",
    group: "click-counter",
  });
  onTestFinished(() => service.close());
  const post = (user: string, headers: Record<string, string> = {}) =>
    fetch(`${service.clicksUrl}/click/${user}`, { method: "POST", headers });

  for (const user of ["alice", "bob", "alice"]) expect((await post(user)).status).toBe(202);
  // A retried request carries the same Idempotency-Key and is counted once.
  expect((await post("carol", { "idempotency-key": "k-1" })).status).toBe(202);
  expect((await post("carol", { "idempotency-key": "k-1" })).status).toBe(202);
  await t.idle();

  const count = async (user: string) => {
    const response = await fetch(`${service.queryUrl}/${service.table}/${user}`);
    return { status: response.status, body: await response.json() };
  };
  expect(await count("alice")).toEqual({ status: 200, body: { clicks: 2 } });
  expect(await count("bob")).toEqual({ status: 200, body: { clicks: 1 } });
  expect(await count("carol")).toEqual({ status: 200, body: { clicks: 1 } });
  expect((await count("dave")).status).toBe(404);
  expect((await fetch(`${service.queryUrl}/ready`)).status).toBe(200);
  expect((await fetch(`${service.clicksUrl}/click/alice`)).status).toBe(405);
});

test("closing the service commits what it processed and stops taking clicks", async () => {
  const t = tester();
  const service = await startClickService({
    client: t.client,
    topic: "user-clicks",
    group: "click-counter",
    partitions: 1,
  });
  await fetch(`${service.clicksUrl}/click/alice`, { method: "POST" });
  await t.idle();

  await service.close();

  expect(t.committedOffset("click-counter", "user-clicks", 0)).toBe("1");
  await expect(fetch(`${service.clicksUrl}/click/alice`, { method: "POST" })).rejects.toThrow();
});
