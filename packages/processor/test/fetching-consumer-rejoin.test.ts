import { setImmediate } from "node:timers/promises";
import { expect, test } from "vitest";
import { FetchingConsumer } from "../src/client/fetching-consumer.js";
import type {
  ClientAdmin,
  ClientConsumer,
  ConsumerHandlers,
  TopicPartition,
} from "../src/client/kafka-client.js";
import { silentLogger } from "../src/logger.js";

const CONFIRMED_AT = 1_000;

/** A fetching consumer over a membership that keeps its handlers for the test to call. */
async function consumerWithWrites(beforeRejoin: () => Promise<void>) {
  let membershipHandlers: ConsumerHandlers | undefined;
  const membership = {
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async () => {},
    run: async (handlers: ConsumerHandlers) => {
      membershipHandlers = handlers;
    },
    pause: () => {},
    resume: () => {},
    seek: () => {},
    commit: async () => {},
    memberConfirmedAt: () => CONFIRMED_AT,
  } satisfies ClientConsumer;
  const admin = { connect: async () => {}, disconnect: async () => {} } as unknown as ClientAdmin;
  const consumer = new FetchingConsumer(
    {
      groupId: "g",
      copartitioned: true,
      readCommitted: true,
      fromBeginning: true,
      maxBytesPerPartition: 1 << 20,
      concurrency: 1,
      sessionTimeoutMs: 60_000,
    },
    membership,
    admin,
    async () => ({ partitions: 1, leaders: new Map() }),
    silentLogger,
  );
  await consumer.run({
    onAssignment: () => {},
    onBatch: async () => true,
    onCrash: (error) => {
      throw error;
    },
    beforeRejoin,
  });
  const assign = (assignment: TopicPartition[]) => membershipHandlers?.onAssignment(assignment);
  return { consumer, assign };
}

test("a rejoin waits for the handlers' writes outside batches, and nothing counts as confirmed until the next assignment", async () => {
  const order: string[] = [];
  let finishWrites = () => {};
  const { consumer, assign } = await consumerWithWrites(
    () => new Promise<void>((resolve) => (finishWrites = resolve)),
  );
  expect(consumer.memberConfirmedAt()).toBe(CONFIRMED_AT);

  const joining = consumer.beforeJoin().then(() => order.push("join sent"));
  // A timed flush that fires now must see no membership to write under.
  expect(consumer.memberConfirmedAt()).toBeUndefined();
  // Every continuation of an already settled promise has run by the next macrotask.
  await setImmediate();
  order.push("writes done");
  finishWrites();
  await joining;
  expect(order).toEqual(["writes done", "join sent"]);
  expect(consumer.memberConfirmedAt()).toBeUndefined();

  assign([{ topic: "t", partition: 0 }]);
  expect(consumer.memberConfirmedAt()).toBe(CONFIRMED_AT);
  await consumer.disconnect();
  expect(consumer.memberConfirmedAt()).toBeUndefined();
});
