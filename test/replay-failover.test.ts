import { isDeepStrictEqual } from "node:util";
import { jsonCodec } from "@toka/codec";
import { eventLog, type Fold, Replay } from "@toka/event-sourcing";
import { silentLogger } from "@toka/processor";
import { kafkajsClient, waitForTopicLeaders } from "@toka/processor/kafka";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import {
  clusterTests,
  createClusterTopics,
  killNodeNow,
  restartNode,
  startCluster,
  stopCluster,
} from "./cluster.js";
import {
  adminClient,
  kafkaClient,
  readTable,
  readToEnd,
  uniqueName,
  waitUntil,
} from "./helpers.js";
import { seededRandom as random } from "./seeded-random.js";

/**
 * A replay over an RF 3 log on the three-node cluster of scripts/kafka.sh while a node
 * is SIGKILLed mid-read: the log stays readable from the other replicas, so the replay
 * must finish and its table must equal a fold of what a read_committed kafkajs consumer
 * reads afterwards. The cluster is started here (on TOKA_KAFKA_CLUSTER_PORT, as
 * kafka.sh reads it) because its nodes get killed; `TOKA_CLUSTER_TESTS=0` skips it.
 * `TOKA_TEST_SEED` repeats a run.
 */
let cluster: string[] = [];

beforeAll(async () => {
  if (clusterTests) cluster = await startCluster();
}, 300_000);

afterAll(async () => {
  if (clusterTests) await stopCluster();
}, 120_000);

const PARTITIONS = 6;
const KEYS = 60;
const RECORDS = 12_000;

const Deposit = z.object({ amount: z.number().int() });
type Deposit = z.infer<typeof Deposit>;
/** Every event a key folded, as `[offset, amount]`: the table holds the whole log. */
const Folded = z.object({
  partition: z.number().int(),
  events: z.array(z.tuple([z.number(), z.number()])),
});
type Folded = z.infer<typeof Folded>;

/** Broker node IDs of scripts/kafka.sh: node n listens on the first port + n - 1. */
function nodeOf(broker: string): number {
  const first = Number(cluster[0]!.split(":")[1]);
  return Number(broker.split(":")[1]) - first + 1;
}

/** Writes the log: plain records, one committed and one aborted transaction among them. */
async function writeLog(topic: string, rand: () => number): Promise<void> {
  const kafka = kafkaClient(cluster);
  const producer = kafka.producer({ idempotent: true });
  const transactional = kafka.producer({
    transactionalId: uniqueName("replay-tx"),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await Promise.all([producer.connect(), transactional.connect()]);
  onTestFinished(async () => {
    await Promise.all([producer.disconnect(), transactional.disconnect()]);
  });
  const message = () => ({
    key: `acct-${Math.floor(rand() * KEYS)}`,
    value: JSON.stringify({ amount: Math.floor(rand() * 10_000) - 5_000 }),
  });
  for (let sent = 0; sent < RECORDS; sent += 1_000) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 1_000 }, message) });
    if (sent === 4_000 || sent === 8_000) {
      const tx = await transactional.transaction();
      await tx.send({ topic, acks: -1, messages: Array.from({ length: 200 }, message) });
      if (sent === 4_000) await tx.abort();
      else await tx.commit();
    }
  }
}

/** What the replay's table must hold: the fold of the log as a kafkajs consumer reads it. */
async function foldOfLog(topic: string): Promise<Map<string, Folded>> {
  const expected = new Map<string, Folded>();
  await readToEnd(
    topic,
    (m, partition) => {
      const key = m.key!.toString();
      const entry = expected.get(key) ?? { partition, events: [] };
      expected.set(key, entry);
      entry.events.push([Number(m.offset), Deposit.parse(JSON.parse(m.value!.toString())).amount]);
    },
    cluster,
  );
  return expected;
}

/** The leaders of the topic's partitions by node. */
async function leadersByNode(topic: string): Promise<Map<number, number[]>> {
  const admin = await adminClient(cluster);
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const byNode = new Map<number, number[]>();
  for (const p of topics[0]!.partitions) {
    byNode.set(p.leader, [...(byNode.get(p.leader) ?? []), p.partitionId]);
  }
  return byNode;
}

/** Restarts the node on its data directory; resolves once it is back in every ISR of `topic`. */
async function restartAndRejoin(node: number, topic: string) {
  await restartNode(node);
  const admin = await adminClient(cluster);
  let seen = "";
  await waitUntil(
    `node ${node} back in the cluster and in every in-sync replica set of ${topic}`,
    async () => {
      const { brokers } = await admin.describeCluster();
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const isrs = topics[0]!.partitions.map((p) => p.isr.length);
      seen = `brokers ${brokers.map((b) => b.nodeId).join(",")}; ISR sizes ${isrs.join(",")}`;
      return brokers.length === 3 && isrs.every((n) => n === 3);
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last seen: ${seen}`, { cause: error });
  });
}

describe.runIf(clusterTests)("replay on a three-node cluster while a broker dies", () => {
  test.each([
    ["the leader of some of the log's partitions", "leader"],
    ["the first bootstrap broker", "bootstrap"],
  ] as const)(
    "a replay survives SIGKILL of %s and equals the log",
    async (_what, victimKind) => {
      const seed = Number(process.env.TOKA_TEST_SEED ?? Date.now() % 1_000_000_007);
      console.log(`replay-failover (${victimKind}): seed ${seed}`);
      const rand = random(seed);

      const topic = uniqueName("replay-log");
      await createClusterTopics(cluster, [topic], PARTITIONS);
      await writeLog(topic, rand);

      const leaders = await leadersByNode(topic);
      // A leader that is not node 1, so the two cases kill different kinds of broker.
      const victim =
        victimKind === "bootstrap"
          ? nodeOf(cluster[0]!)
          : [...leaders]
              .filter(([node]) => node !== nodeOf(cluster[0]!))
              .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0]![0];
      // Committed records: the plain ones and one committed transaction.
      const total = RECORDS + 200;
      const killAt = Math.floor(total * (0.2 + 0.4 * rand()));
      console.log(
        `replay-failover (${victimKind}): killing node ${victim} (leader of partitions ${leaders.get(victim)?.join(",") ?? "none"}) after ${killAt} of ${total} events`,
      );

      let folded = 0;
      const fold: Fold<Folded, Deposit> = {
        name: uniqueName("replay-failover"),
        log: eventLog(topic, jsonCodec(Deposit)),
        table: jsonCodec(Folded),
        step(current, event, meta) {
          folded += 1;
          if (folded === killAt) killNodeNow(victim);
          return {
            partition: meta.partition,
            events: [...(current?.events ?? []), [Number(meta.offset), event.amount]],
          };
        },
      };
      const replay = new Replay(fold, {
        brokers: cluster,
        logger: silentLogger,
        replicationFactor: 3,
        // Small fetches and frequent flushes: reads and table writes are both under way
        // when the node dies.
        maxBatchBytes: 16 * 1024,
        flushKeys: 20,
      });
      const result = await replay.run();
      expect(folded).toBe(total);
      expect(result.events).toBe(total);

      await restartAndRejoin(victim, topic);

      const expected = await foldOfLog(topic);
      const table = await readTable(result.table, cluster);
      const actual = new Map(
        [...table].map(([key, { value }]) => [key, Folded.parse(JSON.parse(value.toString()))]),
      );
      const mismatches: string[] = [];
      for (const key of new Set([...expected.keys(), ...actual.keys()])) {
        const want = expected.get(key);
        const got = actual.get(key);
        if (isDeepStrictEqual(want, got)) continue;
        const offsets = (f: Folded | undefined) =>
          f ? `${f.events[0]?.[0]}..${f.events.at(-1)?.[0]} (${f.events.length} events)` : "none";
        const wantEvents = want?.events ?? [];
        const gotEvents = got?.events ?? [];
        let at = 0;
        while (at < wantEvents.length && isDeepStrictEqual(wantEvents[at], gotEvents[at])) at++;
        mismatches.push(
          `key ${key} partition ${want?.partition ?? got?.partition}: first difference at event ${at}: expected [offset, amount] ${JSON.stringify(wantEvents[at])} actual ${JSON.stringify(gotEvents[at])}; offsets expected ${offsets(want)} actual ${offsets(got)}`,
        );
      }
      expect(mismatches, `seed ${seed}: keys whose replayed table differs from the log`).toEqual(
        [],
      );
      expect(actual.size).toBe(expected.size);
    },
    300_000,
  );

  test("right after the first bootstrap broker dies, a group-offset commit succeeds and readLog reads the whole log", async () => {
    const seed = Number(process.env.TOKA_TEST_SEED ?? Date.now() % 1_000_000_007);
    console.log(`replay-failover (readLog): seed ${seed}`);
    const rand = random(seed);
    const topic = uniqueName("read-log");
    await createClusterTopics(cluster, [topic], PARTITIONS);
    const admin = await adminClient(cluster);
    await writeLog(topic, rand);
    const ends = await admin.fetchTopicOffsets(topic);
    const client = kafkajsClient({
      brokers: cluster,
      clientId: uniqueName("read-log"),
      logger: silentLogger,
    });
    const group = uniqueName("read-log-group");
    const first = nodeOf(cluster[0]!);

    // Before the controller fences it (broker.session.timeout.ms), the dead node is still
    // in the metadata, leading its partitions and perhaps coordinating the group.
    killNodeNow(first);
    const commitAdmin = client.admin();
    await commitAdmin.connect();
    onTestFinished(() => commitAdmin.disconnect());
    await commitAdmin.commitOffsets(
      group,
      ends.map((e) => ({ topic, partition: e.partition, offset: e.high })),
    );
    const read: string[] = [];
    await client.readLog(
      {
        topic,
        ranges: ends.map((e) => ({ partition: e.partition, start: e.low, end: e.high })),
        readCommitted: true,
        maxBytesPerPartition: 16 * 1024,
      },
      async (batch) => {
        for (const r of batch.records) {
          read.push(
            `${batch.partition}/${r.offset} ${r.keyText()}=${Buffer.from(r.value!).toString()}`,
          );
        }
      },
    );

    await restartAndRejoin(first, topic);
    expect(await commitAdmin.committedOffsets(group, topic)).toEqual(
      new Map(ends.map((e) => [e.partition, e.high])),
    );
    const expected: string[] = [];
    await readToEnd(
      topic,
      (m, partition) =>
        expected.push(`${partition}/${m.offset} ${m.key!.toString()}=${m.value!.toString()}`),
      cluster,
    );
    const order = (a: string, b: string) => {
      const [pa, oa] = a.split(" ")[0]!.split("/").map(Number);
      const [pb, ob] = b.split(" ")[0]!.split("/").map(Number);
      return pa! - pb! || oa! - ob!;
    };
    read.sort(order);
    expected.sort(order);
    const at = expected.findIndex((e, i) => read[i] !== e);
    expect(
      at === -1 && read.length === expected.length
        ? "equal"
        : `seed ${seed}: first difference at ${at}: expected ${expected[at]} actual ${read[at]}; ${expected.length} expected, ${read.length} read`,
    ).toBe("equal");
  }, 300_000);

  test("toka's createTopics resolves only once every broker's metadata has a leader for every partition", async () => {
    const topic = uniqueName("ready");
    const admin = kafkajsClient({
      brokers: cluster,
      clientId: uniqueName("ready"),
      logger: silentLogger,
    }).admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    await admin.createTopics([
      { topic, partitions: PARTITIONS, compacted: false, replicationFactor: 3 },
    ]);
    // One check of each broker's metadata, right away: no time to wait.
    await waitForTopicLeaders({ brokers: cluster, topics: [topic], timeoutMs: 1 });
  });
});
