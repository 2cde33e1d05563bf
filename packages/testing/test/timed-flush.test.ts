import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Guarantee,
  Processor,
  persist,
  silentLogger,
  TokaError,
  TokaErrorCode,
} from "@toka/processor";
import type { ClientConsumer, KafkaClient } from "@toka/processor/kafka";
import { describe, expect, test, vi } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();

function summer() {
  return defineGroup("summer", {
    persist: persist(codec),
    inputs: ({ input }) => [
      input("amounts", codec, (ctx, amount) => ctx.setValue((ctx.value() ?? 0) + amount)),
    ],
  });
}

/**
 * An exactly-once summer on the tester whose consumer reports the group's confirmations
 * that `confirmed` says, flushing on a 20 ms commit interval; counts what it processed
 * and its flushes.
 */
function summerWithMembership(t: Tester, confirmed: () => number | undefined) {
  const { client, asked } = clientWithMembership(t, confirmed);
  const graph = summer();
  const processor = new Processor(graph, {
    client,
    guarantee: Guarantee.ExactlyOnce,
    commitIntervalMs: 20,
    logger: silentLogger,
  });
  const counts = { processed: 0, flushes: 0, dropped: 0 };
  processor.on("batch.processed", (e) => {
    counts.processed += e.processed;
  });
  processor.on("partition.unflushed-dropped", () => {
    counts.dropped += 1;
  });
  processor.on("partition.flushed", () => {
    counts.flushes += 1;
  });
  return { graph, processor, counts, asked };
}

/** The tester's client, its consumers reporting the group's confirmations that `confirmed` says. */
function clientWithMembership(t: Tester, confirmed: () => number | undefined) {
  let asked = 0;
  const client: KafkaClient = Object.create(t.client);
  client.consumer = (options) =>
    Object.assign(t.client.consumer(options), {
      memberConfirmedAt: () => {
        asked += 1;
        return confirmed();
      },
    }) satisfies ClientConsumer;
  return { client, asked: () => asked };
}

/**
 * Three amounts, then a transaction that aborted: its record and marker keep the batch
 * short of the log's end, so the processor writes it on the commit-interval timer, outside
 * any batch (no heartbeat to send).
 */
async function amountsBeforeAnAbortedTransaction(t: Tester) {
  const record = (amount: number) => ({
    topic: "amounts",
    key: "alice",
    value: codec.encode(amount),
    headers: {},
  });
  const plain = t.client.producer();
  await plain.connect();
  await plain.send([1, 2, 3].map(record));
  const transactional = t.client.producer({ transactionalId: "upstream" });
  await transactional.connect();
  t.failNextProduce({ topic: "amounts" });
  await expect(
    transactional.sendInTransaction([record(100)], { groupId: "upstream", offsets: [] }),
  ).rejects.toThrow(/injected/);
}

describe("a flush on the commit-interval timer", () => {
  test("waits while the group has not confirmed the member lately, then writes", async () => {
    const t = tester();
    t.createTopic("amounts");
    let confirmedAt: number | undefined;
    const { graph, processor, counts, asked } = summerWithMembership(t, () => confirmedAt);
    await amountsBeforeAnAbortedTransaction(t);
    await t.start(processor);

    // The timer fired three times and found no recent confirmation each time.
    const before = asked();
    await vi.waitUntil(() => asked() >= before + 3);
    expect(counts.flushes).toBe(0);
    expect(t.messages("summer-table")).toEqual([]);

    confirmedAt = Date.now();
    await vi.waitUntil(() => counts.flushes === 1);
    expect(await t.tableValue(graph, "alice")).toBe(6);
    await processor.close();
  });

  test("a confirmation that ages while the write is retried leaves the batch to be read again, applied once", async () => {
    const t = tester();
    t.createTopic("amounts");
    // Fresh for the timer's check, stale when the failed write is about to be sent again,
    // then fresh.
    let answers = [Date.now(), undefined];
    const { graph, processor, counts } = summerWithMembership(t, () =>
      answers.length > 0 ? answers.shift() : Date.now(),
    );
    await amountsBeforeAnAbortedTransaction(t);
    t.failNextProduce({ topic: "summer-table" });
    await t.start(processor);
    await vi.waitUntil(() => counts.flushes === 1, { timeout: 5_000 });
    // Read again after the abandoned write, reported dropped: the three amounts ran
    // twice, counted once.
    expect(counts.dropped).toBe(1);
    expect(counts.processed).toBe(6);
    expect(await t.tableValue(graph, "alice")).toBe(6);
    answers = [];
    await processor.close();
  });
});

test("a close whose flush keeps failing stops retrying after a session timeout and leaves the inputs to the next owner", async () => {
  const t = tester();
  t.createTopic("amounts");
  let failing = true;
  const client: KafkaClient = Object.create(t.client);
  client.producer = (options) => {
    const producer = t.client.producer(options);
    const send = producer.send.bind(producer);
    producer.send = (records, sendOptions) =>
      failing
        ? Promise.reject(
            new TokaError(TokaErrorCode.KafkaFailed, "no leader answers", { retriable: true }),
          )
        : send(records, sendOptions);
    return producer;
  };
  const graph = summer();
  const first = new Processor(graph, {
    client,
    guarantee: Guarantee.ExactlyOnce,
    // Nothing is written before the close: the cache holds the three amounts.
    commitIntervalMs: 600_000,
    sessionTimeoutMs: 1_000,
    logger: silentLogger,
  });
  let dropped = 0;
  first.on("partition.unflushed-dropped", () => {
    dropped += 1;
  });
  await amountsBeforeAnAbortedTransaction(t);
  await t.start(first);
  await vi.waitUntil(async () => (await first.stats()).partitions[0]?.inputs[0]?.offset === "3");

  // Would retry for as long as the member heartbeats, i.e. for ever.
  await first.close();
  expect(dropped).toBe(1);
  expect(t.messages("summer-table")).toEqual([]);

  failing = false;
  const next = new Processor(graph, {
    client: t.client,
    guarantee: Guarantee.ExactlyOnce,
    logger: silentLogger,
  });
  await t.start(next);
  // Written by the timed flush (the default interval, on the system clock): the input's
  // last batch ends before the aborted transaction, short of the log's end.
  await vi.waitUntil(async () => (await t.tableValue(graph, "alice")) === 6, { timeout: 10_000 });
  await next.close();
});
