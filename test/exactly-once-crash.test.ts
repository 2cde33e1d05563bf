import { rm } from "node:fs/promises";
import { join } from "node:path";
import { jsonCodec } from "@toka/codec";
import { Emitter, type Guarantee, silentLogger } from "@toka/processor";
import { decodeDedup } from "@toka/processor/dedup";
import { describe, expect, onTestFinished, test } from "vitest";
import { BankWorker, waitForGroupCaughtUp } from "./bank-workers.js";
import { Deposit } from "./fixtures/bank-schemas.js";
import { brokers, createTopic, readTable, readToEnd, tempDir, uniqueName } from "./helpers.js";
import { seededRandom as random } from "./seeded-random.js";

const MESSAGES = 50_000;
const ACCOUNTS = 1_000;
const PARTITIONS = 8;
const PROCESSES = 3;
const KILLS = 12;
/** Every DUPLICATE_EVERY-th deposit is sent a second time with the same toka-id. */
const DUPLICATE_EVERY = 100;

/**
 * Runs the deposit workload through PROCESSES processor processes while killing them
 * with SIGKILL at random moments and restarting them (once with its local state
 * deleted); returns what the table and the output topic hold at the end.
 */
async function depositsUnderCrashes(guarantee: Guarantee, seed: number) {
  const rand = random(seed);
  const input = await createTopic("deposits", PARTITIONS);
  const output = await createTopic("balance-changed", PARTITIONS);
  const group = uniqueName("bank");
  const env = {
    KAFKA_BROKERS: brokers().join(","),
    TOKA_GROUP: group,
    TOKA_INPUT: input,
    TOKA_OUTPUT: output,
    TOKA_GUARANTEE: guarantee,
  };
  const root = await tempDir();
  const workers = Array.from({ length: PROCESSES }, (_, i) =>
    new BankWorker(env, join(root, `instance-${i}`)).start(),
  );

  const expected = new Map<string, number>();
  const inputIds: string[] = [];
  let duplicatesSent = 0;
  const emitter = new Emitter({
    brokers: brokers(),
    topic: input,
    codec: jsonCodec(Deposit),
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  const produce = (async () => {
    for (let start = 0; start < MESSAGES; start += 2_500) {
      const sends: Promise<void>[] = [];
      for (let i = start; i < start + 2_500; i++) {
        const key = `acct-${Math.floor(rand() * ACCOUNTS)}`;
        const amount = 1 + Math.floor(rand() * 100);
        const id = `deposit-${i}`;
        expected.set(key, (expected.get(key) ?? 0) + amount);
        inputIds.push(id);
        sends.push(emitter.emit(key, { amount }, { id }));
        if (i % DUPLICATE_EVERY === 0) {
          // An upstream retry: the same deposit, the same ID.
          sends.push(emitter.emit(key, { amount }, { id }));
          duplicatesSent += 1;
        }
      }
      await Promise.all(sends);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();

  let kills = 0;
  let wiped = false;
  while (kills < KILLS) {
    await new Promise((r) => setTimeout(r, 1_000 + rand() * 2_500));
    const worker = workers[Math.floor(rand() * workers.length)]!;
    await worker.kill();
    kills += 1;
    if (!wiped && kills >= KILLS / 2) {
      await rm(worker.stateDir, { recursive: true, force: true });
      wiped = true;
    }
    worker.start();
  }
  await produce;
  await emitter.close();

  // Within the test's own timeout, so that a stall fails with the workers' logs.
  await waitForGroupCaughtUp(group, input, 60_000).catch((error: Error) => {
    const logs = workers.map((w, i) => `worker ${i}:\n${w.log.join("\n")}`);
    throw new Error(`${error.message}\n${logs.join("\n")}`, { cause: error });
  });
  // Stopped before the table is read: no batch or transaction may still be under way.
  for (const w of workers) await w.stop();
  for (const w of workers) expect(w.failures, "no processor failed").toEqual([]);

  const table = await readTable(`${group}-table`);
  const balances = new Map<string, number>();
  let duplicatesCounted = 0;
  for (const [key, { value, headers }] of table) {
    balances.set(key, JSON.parse(value.toString()).balance);
    const dedup = headers["toka-dedup"];
    if (dedup) duplicatesCounted += decodeDedup(dedup)?.duplicates ?? 0;
  }
  // Each wrong balance as [key, expected, found], the evidence a failure prints.
  const wrong = [...expected]
    .filter(([key, sum]) => balances.get(key) !== sum)
    .map(([key, sum]) => [key, sum, balances.get(key)] as const);
  return {
    expected,
    balances,
    wrong,
    duplicatesSent,
    duplicatesCounted,
    inputIds,
    output,
    kills,
    wiped,
  };
}

/** How often each `toka-id` appears in a topic, read by a read_committed consumer. */
async function outputIdCounts(topic: string) {
  const counts = new Map<string, number>();
  await readToEnd(topic, (m) => {
    const id = m.headers?.["toka-id"]?.toString() ?? "";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  });
  return counts;
}

// A run takes about 45 s; the wait for the group to catch up fails first, with evidence.
describe("exactly-once under SIGKILL", { timeout: 180_000 }, () => {
  test("exactly-once: every balance is the sum of the unique deposits", async () => {
    const run = await depositsUnderCrashes("exactly-once", 1);
    expect(run.kills).toBeGreaterThanOrEqual(10);
    expect(run.wiped).toBe(true);
    expect(run.wrong).toEqual([]);
    expect(run.balances.size).toBe(run.expected.size);
    expect(run.duplicatesCounted).toBe(run.duplicatesSent);
  });

  test("exactly-once-transactional: balances exact and every output ID seen once", async () => {
    const run = await depositsUnderCrashes("exactly-once-transactional", 2);
    expect(run.wrong).toEqual([]);
    expect(run.duplicatesCounted).toBe(run.duplicatesSent);
    const counts = await outputIdCounts(run.output);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(new Set(counts.keys())).toEqual(new Set(run.inputIds.map((id) => `${id}:1`)));
  });

  test("at-least-once, the same workload: the checker sees double-applied deposits", async () => {
    const run = await depositsUnderCrashes("at-least-once", 3);
    // Duplicates are not deduplicated at all here, and crashes between produce and
    // commit re-apply deposits: balances come out too high.
    expect(run.wrong.length).toBeGreaterThan(0);
    expect(run.wrong.every(([key, sum]) => (run.balances.get(key) ?? 0) > sum)).toBe(true);
  });
});
