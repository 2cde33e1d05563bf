import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, Processor, persist, silentLogger } from "@toka/processor";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import {
  clusterTests,
  createClusterTopics,
  killNode,
  startCluster,
  stopCluster,
} from "./cluster.js";
import { Balance, Deposit } from "./fixtures/bank-schemas.js";
import { uniqueName, waitUntil } from "./helpers.js";

let brokers: string[] = [];

beforeAll(async () => {
  if (clusterTests) brokers = await startCluster();
}, 300_000);

afterAll(async () => {
  if (clusterTests) await stopCluster();
}, 120_000);

describe.runIf(clusterTests)("failover on a three-node cluster", () => {
  test("exactly-once balances stay exact when a broker is killed mid-stream", async () => {
    const kafka = new Kafka({ brokers, clientId: "failover-test", logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    const input = uniqueName("deposits");
    await createClusterTopics(brokers, [input], 6);
    const group = uniqueName("bank");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec(Balance)),
      inputs: ({ input: edge }) => [
        edge(input, jsonCodec(Deposit), (ctx, deposit) => {
          const b = ctx.value() ?? { balance: 0, deposits: 0 };
          ctx.setValue({ balance: b.balance + deposit.amount, deposits: b.deposits + 1 });
        }),
      ],
    });
    const processor = new Processor(graph, {
      brokers,
      guarantee: "exactly-once",
      replicationFactor: 3,
      logger: silentLogger,
    });
    onTestFinished(() => processor.close());
    await processor.start();

    const emitter = new Emitter({
      brokers,
      topic: input,
      codec: jsonCodec(Deposit),
      logger: silentLogger,
    });
    onTestFinished(() => emitter.close());
    const expected = new Map<string, number>();
    for (let chunk = 0; chunk < 10; chunk++) {
      if (chunk === 4) await killNode(2);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 500; i++) {
        const key = `acct-${(chunk * 500 + i) % 97}`;
        expected.set(key, (expected.get(key) ?? 0) + i);
        sends.push(emitter.emit(key, { amount: i }, { id: `d-${chunk}-${i}` }));
      }
      await Promise.all(sends);
    }

    // What each partition looked like at the last check, for a failure to tell what hung.
    let observed = "";
    await waitUntil(
      "every deposit applied",
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [input] });
        const ends = await admin.fetchTopicOffsets(input);
        const owned = processor.stats().partitions;
        observed = JSON.stringify(
          ends.map((e) => ({
            partition: e.partition,
            end: e.high,
            committed: committed?.partitions.find((p) => p.partition === e.partition)?.offset,
            processor: owned.find((p) => p.partition === e.partition),
          })),
        );
        return ends.every(
          (e) => committed?.partitions.find((p) => p.partition === e.partition)?.offset === e.high,
        );
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; partitions: ${observed}`, { cause: error });
    });
    expect(processor.status).toBe("running");

    const balances = new Map<string, number>();
    const consumer = kafka.consumer({ groupId: uniqueName("verify") });
    await consumer.connect();
    onTestFinished(() => consumer.disconnect());
    await consumer.subscribe({ topic: `${group}-table`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        balances.set(message.key!.toString(), JSON.parse(message.value!.toString()).balance);
      },
    });
    await waitUntil(
      "the table read",
      () => [...expected].every(([key, sum]) => balances.get(key) === sum),
      { timeoutMs: 60_000 },
    ).catch(() => undefined);
    expect(new Map([...balances].filter(([k]) => expected.has(k)))).toEqual(expected);
    // Its waits (up to 180 s to apply every deposit, 60 s to read the table) exceed the
    // integration project's default timeout, which cut slow failovers short.
  }, 300_000);
});
