import { setImmediate } from "node:timers/promises";
import type { Kafka, Producer } from "kafkajs";
import { expect, test } from "vitest";
import { kafkajsTransactionalProducer } from "../src/client/kafkajs-transactions.js";
import { TokaErrorCode } from "../src/index.js";

/**
 * A transaction coordinator and group coordinator as the transactional producer sees
 * them through kafkajs: producers (as in kafkajs, `connect` asks for no transactional
 * producer id; a producer's first `transaction()` is the InitProducerId that fences the
 * ones before), transactions that can be made to fail at a step, and the group's
 * committed offset of input partition 0.
 */
class FakeCoordinators {
  /** The group's committed offset of `in/0`; undefined when none. */
  committed: bigint | undefined = 10n;
  /** InitProducerIds so far: each one fences the producers before it. */
  initProducerIds = 0;
  /** The next transaction fails at this step. */
  failAt: "send" | "commit" | undefined;
  /** Whether a failing commit still went through at the coordinator. */
  commitLands = false;
  /** Runs at the next InitProducerId (the coordinator completing a prepared commit). */
  onInit: (() => void) | undefined;
  /** The answer to sends to partition 1 waits for this. */
  partition1Answer: Promise<void> | undefined;
  /** Producers' disconnects and held answers, in order. */
  readonly events: string[] = [];

  readonly kafka = {
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      fetchOffsets: async () => [
        {
          topic: "in",
          partitions: [
            { partition: 0, offset: this.committed === undefined ? "-1" : String(this.committed) },
          ],
        },
      ],
    }),
  } as unknown as Kafka;

  newProducer = (): Producer => {
    const sent: { offsets?: bigint } = {};
    let initialized = false;
    return {
      connect: async () => {},
      disconnect: async () => {
        this.events.push("producer disconnected");
      },
      transaction: async () => {
        if (!initialized) {
          initialized = true;
          this.initProducerIds += 1;
          this.onInit?.();
          this.onInit = undefined;
        }
        return this.transaction(sent);
      },
    } as unknown as Producer;
  };

  /** A transaction of a producer whose sent offsets are kept in `sent`. */
  private transaction(sent: { offsets?: bigint }) {
    return {
      sendBatch: async ({ topicMessages }: { topicMessages: { messages: unknown[] }[] }) => {
        const partition = (topicMessages[0]!.messages[0] as { partition: number }).partition;
        if (partition === 1 && this.partition1Answer) {
          await this.partition1Answer;
          this.events.push("partition 1 answered");
        } else if (this.failAt === "send") {
          this.failAt = undefined;
          throw Object.assign(new Error("connection lost"), { retriable: true });
        }
        return [{ topicName: "out", partition, errorCode: 0, baseOffset: "0" }];
      },
      sendOffsets: async ({ topics }: { topics: { partitions: { offset: string }[] }[] }) => {
        sent.offsets = BigInt(topics[0]!.partitions[0]!.offset);
      },
      commit: async () => {
        if (this.failAt === "commit") {
          this.failAt = undefined;
          if (this.commitLands) this.committed = sent.offsets;
          throw Object.assign(new Error("request timed out"), { retriable: true });
        }
        this.committed = sent.offsets;
      },
      // Nothing was added to it: kafkajs sends no EndTxn.
      abort: async () => {},
    };
  }
}

const records = [{ topic: "out", partition: 0, key: "k", value: null, headers: {} }];
/** A batch of input offsets 10 to 14: the group's offset goes from 10 to 15. */
const batch = {
  groupId: "g",
  offsets: [{ topic: "in", partition: 0, offset: "15" }],
  from: [{ topic: "in", partition: 0, offset: "10" }],
};

async function started(coordinators: FakeCoordinators) {
  const producer = kafkajsTransactionalProducer(
    coordinators.kafka,
    "g-0",
    coordinators.newProducer,
  );
  await producer.connect();
  return producer;
}

test("connecting fences the transactional id's previous producer before the partition is restored", async () => {
  const coordinators = new FakeCoordinators();
  // The previous owner's commit was prepared: its InitProducerId waits for it to complete.
  coordinators.onInit = () => {
    coordinators.committed = 15n;
  };
  await started(coordinators);
  expect(coordinators.initProducerIds).toBe(1);
  expect(coordinators.committed).toBe(15n);
});

test("a failed send discards its producer only once the transaction's other sends are answered", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  let answer = () => {};
  coordinators.partition1Answer = new Promise<void>((resolve) => (answer = resolve));
  coordinators.failAt = "send";
  const twoPartitions = [records[0]!, { ...records[0]!, partition: 1 }];
  const attempt = producer.sendInTransaction(twoPartitions, batch);
  const failed = expect(attempt).rejects.toMatchObject({ code: TokaErrorCode.ProduceFailed });
  // Every continuation of an already settled promise has run by the next macrotask.
  await setImmediate();
  answer();
  await failed;
  expect(coordinators.events).toEqual(["partition 1 answered", "producer disconnected"]);
});

test("a failed send is redone by a new producer when the group's offsets are still the batch's start", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "send";
  await expect(producer.sendInTransaction(records, batch)).rejects.toMatchObject({
    code: TokaErrorCode.ProduceFailed,
    retriable: true,
  });
  await producer.sendInTransaction(records, batch);
  expect(coordinators.initProducerIds).toBe(2);
  expect(coordinators.committed).toBe(15n);
});

test("after a failed attempt, offsets another instance moved on fence this producer without starting a new one", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "send";
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  // Meanwhile the partition's new owner processed input 10 to 12.
  coordinators.committed = 13n;
  await expect(producer.sendInTransaction(records, batch)).rejects.toMatchObject({
    code: TokaErrorCode.ProducerFenced,
  });
  // A new producer here would have fenced the owner and committed 15 over its 13.
  expect(coordinators.initProducerIds).toBe(1);
  expect(coordinators.committed).toBe(13n);
});

test("offsets at the batch's end that this producer did not commit are another instance's", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "send";
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  coordinators.committed = 15n;
  await expect(producer.sendInTransaction(records, batch)).rejects.toMatchObject({
    code: TokaErrorCode.ProducerFenced,
  });
  expect(coordinators.initProducerIds).toBe(1);
});

test("a commit whose answer was lost but which went through is not sent again", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "commit";
  coordinators.commitLands = true;
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  expect(await producer.sendInTransaction(records, batch)).toEqual([]);
  expect(coordinators.initProducerIds).toBe(1);
});

test("a prepared commit that the new producer's InitProducerId completes is not sent again", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "commit";
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  coordinators.onInit = () => {
    coordinators.committed = 15n;
  };
  expect(await producer.sendInTransaction(records, batch)).toEqual([]);
  expect(coordinators.initProducerIds).toBe(2);
});

test("an aborted commit is sent again by the new producer", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "commit";
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  expect(coordinators.committed).toBe(10n);
  const produced = await producer.sendInTransaction(records, batch);
  expect(produced).toHaveLength(1);
  expect(coordinators.committed).toBe(15n);
  expect(coordinators.initProducerIds).toBe(2);
});

test("a commit in doubt that went through, then another batch from the same start: reported behind, not sent", async () => {
  const coordinators = new FakeCoordinators();
  const producer = await started(coordinators);
  coordinators.failAt = "commit";
  coordinators.commitLands = true;
  await expect(producer.sendInTransaction(records, batch)).rejects.toThrow();
  // The batch came back smaller after a rebalance: 10 to 12. Its input 10 to 14 is in
  // the table already, so the local state it was computed from is behind.
  const smaller = { ...batch, offsets: [{ topic: "in", partition: 0, offset: "13" }] };
  await expect(producer.sendInTransaction(records, smaller)).rejects.toMatchObject({
    code: TokaErrorCode.ProducerFenced,
  });
  expect(coordinators.committed).toBe(15n);
  expect(coordinators.initProducerIds).toBe(1);
});
