import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Guarantee,
  output,
  Processor,
  persist,
  silentLogger,
  TimerClock,
} from "@toka/processor";
import type { ClientConsumer, KafkaClient } from "@toka/processor/kafka";
import { expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();
const CLICKS = 4;

/**
 * Counts clicks per key. The first click schedules a wall-clock timer that emits; the
 * second (the end of the first batch of two) makes the clock pass it, makes the timer's
 * emit fail once and the group stop confirming this member: the timer's write is given
 * up and the write-back cache, holding the first batch, is dropped.
 */
function counter(t: Tester, membership: { confirmed: boolean }) {
  let arranged = false;
  return defineGroup("counter", {
    persist: persist(codec),
    outputs: [output("pings", codec)],
    inputs: ({ input, timer }) => [
      input("clicks", codec, (ctx, index) => {
        ctx.setValue((ctx.value() ?? 0) + 1);
        if (index === 0) ctx.schedule("ping", ctx.timestamp + 1_000, { clock: TimerClock.Wall });
        if (index === 1 && !arranged) {
          arranged = true;
          t.failNextProduce({ topic: "pings" });
          membership.confirmed = false;
          t.advanceTime(1_000);
        }
      }),
      timer((ctx) => ctx.emit("pings", ctx.key, 1)),
    ],
  });
}

/** The tester's client, its consumers confirmed by the group while `membership` says so. */
function clientWithMembership(t: Tester, membership: { confirmed: boolean }): KafkaClient {
  const client: KafkaClient = Object.create(t.client);
  client.consumer = (options) =>
    Object.assign(t.client.consumer(options), {
      memberConfirmedAt: () => (membership.confirmed ? Date.now() : undefined),
    }) satisfies ClientConsumer;
  return client;
}

test("inputs whose cache wall-clock timers dropped are fetched again, not skipped", async () => {
  const t = tester({ maxBatchRecords: 2 });
  t.createTopic("clicks", 1);
  t.createTopic("pings", 1);
  const membership = { confirmed: true };
  const graph = counter(t, membership);
  const processor = new Processor(graph, {
    client: clientWithMembership(t, membership),
    guarantee: Guarantee.ExactlyOnce,
    clock: t.clock,
    // The first batch waits in the write-back cache: it did not reach the input's end.
    commitIntervalMs: 3_600_000,
    logger: silentLogger,
  });
  let dropped = 0;
  processor.on("partition.unflushed-dropped", () => {
    dropped += 1;
    membership.confirmed = true;
  });
  await t.start(processor);
  await t.emitMany(
    "clicks",
    Array.from({ length: CLICKS }, (_, i) => ({ key: "alice", value: i })),
    { codec },
  );

  expect(dropped, "the timer's failed write dropped the cache").toBeGreaterThan(0);
  expect(await t.tableValue(graph, "alice")).toBe(CLICKS);
});
