import { expect, test, vi } from "vitest";
import type { BrokerAddress, LeaderLookup } from "../src/client/broker-connection.js";
import { LogReader } from "../src/client/log-reader.js";
import { LogWriter } from "../src/client/log-writer.js";
import { closedPort } from "./fake-broker.js";

/** Metadata naming a leader nobody listens on, as right after a broker was SIGKILLed. */
async function deadLeader(): Promise<{ lookup: LeaderLookup; address: string }> {
  const port = await closedPort();
  const leader: BrokerAddress = {
    host: "127.0.0.1",
    port,
    clientId: "direct-failures-test",
    connectTimeoutMs: 1_000,
  };
  return {
    lookup: async () => ({ partitions: 2, leaders: new Map([[1, leader]]) }),
    address: `127.0.0.1:${port}`,
  };
}

/** The error and each `cause` below it. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

test("a read whose leader refuses connections ends after the no-progress limit with the coordinates and ECONNREFUSED in the cause chain", async () => {
  const { lookup, address } = await deadLeader();
  const error = await new LogReader(lookup, 300)
    .read(
      {
        topic: "events",
        ranges: [{ partition: 1, start: "5", end: "9" }],
        readCommitted: true,
        maxBytesPerPartition: 1024,
      },
      async () => {},
    )
    .catch((e: unknown) => e);
  expect(error).toMatchObject({
    code: "TOKA_KAFKA_FAILED",
    retriable: true,
    topic: "events",
    partition: 1,
    offset: "5",
  });
  expect((error as Error).message).toContain(
    "reading the log made no progress for 0.3 s; check that its partition leaders are reachable; partitions left (at offset, of end): 1 (5 of 9); last failure:",
  );
  const causes = chain(error);
  expect(causes[1]).toMatchObject({ code: "TOKA_KAFKA_FAILED", partition: 1, offset: "5" });
  expect((causes[1] as Error).message).toContain(`from their leader ${address} failed`);
  expect(causes[2]).toMatchObject({
    name: "BrokerConnectionError",
    broker: address,
    code: "ECONNREFUSED",
  });
});

test("a write whose leader refuses connections ends after the no-progress limit with the partition and ECONNREFUSED in the cause chain", async () => {
  const { lookup, address } = await deadLeader();
  const writer = new LogWriter(lookup, 300);
  const error = await writer
    .send([{ topic: "table", partition: 1, key: "k", value: null, headers: {} }])
    .catch((e: unknown) => e);
  writer.close();
  expect(error).toMatchObject({
    code: "TOKA_PRODUCE_FAILED",
    retriable: true,
    topic: "table",
    partition: 1,
  });
  const causes = chain(error);
  expect((causes[1] as Error).message).toContain(`to their leader ${address} failed`);
  expect(causes[2]).toMatchObject({ broker: address, code: "ECONNREFUSED" });
});

test("a write retried through a dead leader stops at once when its signal is aborted, with the signal's reason", async () => {
  const { lookup: dead } = await deadLeader();
  let lookups = 0;
  const lookup: LeaderLookup = (topic) => {
    lookups += 1;
    return dead(topic);
  };
  const writer = new LogWriter(lookup, 60_000);
  const stop = new AbortController();
  const reason = new Error("membership lost");
  const sent = writer
    .send([{ topic: "table", partition: 1, key: "k", value: null, headers: {} }], {
      signal: stop.signal,
    })
    .catch((e: unknown) => e);
  await vi.waitUntil(() => lookups >= 2, { timeout: 10_000, interval: 10 });
  // The abort ends the retry loop (which alone starts attempts) long before the
  // writer's own 60 s limit.
  stop.abort(reason);
  expect(await sent).toBe(reason);
  writer.close();
});

test("a partition without a leader is retried, then named with its offset", async () => {
  const lookup: LeaderLookup = async () => ({ partitions: 1, leaders: new Map() });
  await expect(
    new LogReader(lookup, 200).read(
      {
        topic: "events",
        ranges: [{ partition: 0, start: "0", end: "3" }],
        readCommitted: true,
        maxBytesPerPartition: 1024,
      },
      async () => {},
    ),
  ).rejects.toMatchObject({
    code: "TOKA_KAFKA_FAILED",
    topic: "events",
    partition: 0,
    offset: "0",
    cause: { message: expect.stringContaining("the partition has no leader") },
  });
});
