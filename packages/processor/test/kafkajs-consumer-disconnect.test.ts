import { expect, test } from "vitest";
import type { TopicPartition } from "../src/client/kafka-client.js";
import { kafkajsConsumer } from "../src/client/kafkajs-client.js";
import { CONSUMER_OPTIONS, fakeKafkajsConsumer } from "./fake-kafkajs-consumer.js";

test("after toka began to disconnect it, a join that completes is not set up, one of a stopped consumer fails, and crashes restart nothing", async () => {
  const { kafka, state, emit } = fakeKafkajsConsumer();
  let connectionsClosed = 0;
  const consumer = kafkajsConsumer(
    kafka,
    CONSUMER_OPTIONS,
    async () => {},
    undefined,
    () => {
      connectionsClosed += 1;
    },
  );
  const assignments: (readonly TopicPartition[])[] = [];
  const crashes: unknown[] = [];
  await consumer.run({
    onAssignment: (assignment) => assignments.push(assignment),
    onBatch: async () => true,
    onCrash: (error) => crashes.push(error),
  });
  const restart = state.config?.retry?.restartOnFailure;
  expect(await restart?.(new Error("the group coordinator is not available"))).toBe(true);

  await consumer.disconnect();
  expect(state.disconnects).toBe(1);
  expect(connectionsClosed).toBe(1);
  expect(await restart?.(new Error("the group coordinator is not available"))).toBe(false);

  // A join the disconnect waits for (kafkajs leaves the group after it) is not set up.
  const join = { memberId: "m", memberAssignment: { t: [0] } };
  emit("group-join", join);
  expect(assignments).toEqual([]);
  // kafkajs's restart after a crash, begun before the disconnect stopped kafkajs, joins
  // afterwards: failing its join is what ends that runner.
  emit("stop", {});
  expect(() => emit("group-join", join)).toThrow(/disconnected while this join/);
  expect(assignments).toEqual([]);
  emit("crash", { error: new Error("the join failed"), restart: false });
  expect(crashes).toEqual([]);
});
