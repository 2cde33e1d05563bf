import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { jsonCodec } from "@toka/codec";
import { Emitter, type Guarantee, silentLogger } from "@toka/processor";
import { describe, expect, onTestFinished, test } from "vitest";
import { BankWorker, waitForGroupCaughtUp } from "./bank-workers.js";
import { Deposit } from "./fixtures/bank-schemas.js";
import { brokers, createTopic, readTable, tempDir, uniqueName } from "./helpers.js";

const MESSAGES = 20_000;
const ACCOUNTS = 500;
const CHUNK = 1_000;

/**
 * One instance runs from the start; a second and a third process join mid-stream and
 * leave again (gracefully), so partitions move between processes several times.
 */
async function depositsWhileScaling(guarantee: Guarantee) {
  const input = await createTopic("deposits", 8);
  const output = await createTopic("balance-changed", 8);
  const group = uniqueName("bank");
  const env = {
    KAFKA_BROKERS: brokers().join(","),
    TOKA_GROUP: group,
    TOKA_INPUT: input,
    TOKA_OUTPUT: output,
    TOKA_GUARANTEE: guarantee,
  };
  const root = await tempDir();
  const [a, b, c] = ["a", "b", "c"].map((name) => new BankWorker(env, join(root, name)));
  a!.start();

  const emitter = new Emitter({
    brokers: brokers(),
    topic: input,
    codec: jsonCodec(Deposit),
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  const expected = new Map<string, { balance: number; deposits: number }>();
  const chunks = MESSAGES / CHUNK;
  for (let chunk = 0; chunk < chunks; chunk++) {
    if (chunk === 4) b!.start();
    if (chunk === 8) c!.start();
    if (chunk === 13) await b!.stop();
    if (chunk === 17) await c!.stop();
    const sends: Promise<void>[] = [];
    for (let i = chunk * CHUNK; i < (chunk + 1) * CHUNK; i++) {
      const key = `acct-${(i * 7919) % ACCOUNTS}`;
      const amount = (i % 50) + 1;
      const e = expected.get(key) ?? { balance: 0, deposits: 0 };
      expected.set(key, { balance: e.balance + amount, deposits: e.deposits + 1 });
      sends.push(emitter.emit(key, { amount }));
    }
    await Promise.all(sends);
    await delay(500);
  }
  // Within the test's own timeout, so that a stall fails with the workers' logs.
  await waitForGroupCaughtUp(group, input, 90_000).catch((error: Error) => {
    const logs = [a, b, c].map((w, i) => `worker ${"abc"[i]}:\n${w!.log.join("\n")}`);
    throw new Error(`${error.message}\n${logs.join("\n")}`, { cause: error });
  });
  for (const w of [a, b, c]) expect(w!.failures).toEqual([]);
  await a!.stop();

  const table = await readTable(`${group}-table`);
  const actual = new Map([...table].map(([key, { value }]) => [key, JSON.parse(value.toString())]));
  return { expected, actual };
}

describe("instances joining and leaving mid-stream", () => {
  test("at-least-once: no deposit is lost", async () => {
    const { expected, actual } = await depositsWhileScaling("at-least-once");
    const lost = [...expected].filter(([key, e]) => (actual.get(key)?.deposits ?? 0) < e.deposits);
    expect(lost).toEqual([]);
    expect(actual.size).toBe(expected.size);
  });

  test("exactly-once: every balance is exact", async () => {
    const { expected, actual } = await depositsWhileScaling("exactly-once");
    expect(actual).toEqual(expected);
  });
});
