import { afterEach, expect, test, vi } from "vitest";
import { kafkajsConsumer } from "../src/client/kafkajs-client.js";
import { isTokaError } from "../src/errors.js";
import { CONSUMER_OPTIONS, fakeKafkajsConsumer } from "./fake-kafkajs-consumer.js";

afterEach(() => {
  vi.useRealTimers();
});

/** The error a commit fails with, or "sent". */
async function outcome(commit: Promise<void>): Promise<string> {
  try {
    await commit;
    return "sent";
  } catch (error) {
    expect(isTokaError(error) && error.retriable).toBe(true);
    return (error as Error).message;
  }
}

test("an offset commit goes out only for partitions of the last join, while the group confirmed the member within half a session", async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  const { kafka, state, emit } = fakeKafkajsConsumer();
  const consumer = kafkajsConsumer(kafka, CONSUMER_OPTIONS, async () => {});
  await consumer.run({ onAssignment: () => {}, onBatch: async () => true, onCrash: () => {} });
  const commit = (partition: number) =>
    outcome(consumer.commit([{ topic: "t", partition, offset: "7" }]));

  // Before any join, nothing is owned.
  expect(await commit(0)).toMatch(/rebalancing/);
  emit("group-join", { memberId: "m", memberAssignment: { t: [0, 1] } });
  expect(await commit(0)).toBe("sent");

  // A rebalance began: the partitions may be given to others before the next join.
  emit("rebalancing", {});
  expect(await commit(1)).toMatch(/rebalancing/);

  // The next join took partition 0 away: a late flush of it, or a retry, is not sent.
  emit("group-join", { memberId: "m", memberAssignment: { t: [1] } });
  expect(await commit(0)).toMatch(/does not own t\/0/);
  expect(await commit(1)).toBe("sent");

  // No confirmation for half a session: the coordinator may be expiring the member.
  vi.setSystemTime(Date.now() + 5_000);
  expect(await commit(1)).toMatch(/not confirmed this member for half a session/);
  emit("heartbeat", {});
  expect(await commit(1)).toBe("sent");

  expect(state.commits).toEqual([
    [{ topic: "t", partition: 0, offset: "7" }],
    [{ topic: "t", partition: 1, offset: "7" }],
    [{ topic: "t", partition: 1, offset: "7" }],
  ]);
});
