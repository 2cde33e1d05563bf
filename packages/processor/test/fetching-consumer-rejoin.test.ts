import { setImmediate } from "node:timers/promises";
import { expect, test } from "vitest";
import { CONFIRMED_AT, fetchingConsumer } from "./fetching-consumer-fixture.js";

test("a rejoin waits for the handlers' writes outside batches, and nothing counts as confirmed until the next assignment", async () => {
  const order: string[] = [];
  let finishWrites = () => {};
  const { consumer, assign } = await fetchingConsumer({
    beforeRejoin: () => new Promise<void>((resolve) => (finishWrites = resolve)),
  });
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
