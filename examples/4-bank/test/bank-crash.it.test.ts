import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { protobufCodec } from "@toka/codec";
import { Emitter, silentLogger } from "@toka/processor";
import { Kafka, logLevel } from "kafkajs";
import { expect, inject, onTestFinished, test } from "vitest";
import { accountCommandCodec, decide, evolve } from "../src/account.js";
import { type Balance, project } from "../src/balances.js";
import {
  type AccountCommand,
  AccountCommandSchema,
  type AccountEvent,
  AccountEventSchema,
  type AccountState,
  AccountStateSchema,
} from "../src/gen/bank/v1/account_pb.js";

const exampleDir = fileURLToPath(new URL("..", import.meta.url));
const ACCOUNTS = 40;
const COMMANDS = 4_000;
const KILLS = 4;
/** Every DUPLICATE_EVERY-th command is sent twice with the same ID (an upstream retry). */
const DUPLICATE_EVERY = 50;

function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** The bank service (src/main.ts) as a child process that can be killed and restarted. */
class BankProcess {
  private child: ChildProcess | undefined;
  urls: Promise<{ commands: string; query: string }> | undefined;

  constructor(private readonly env: Record<string, string>) {
    onTestFinished(() => this.kill());
  }

  start() {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: exampleDir,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.child = child;
    this.urls = new Promise((resolve, reject) => {
      let buffer = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        for (const line of buffer.split("\n")) {
          if (line.startsWith('{"event":"ready"')) resolve(JSON.parse(line));
        }
      });
      child.once("exit", (code) =>
        reject(new Error(`the bank exited with ${code} before it was ready`)),
      );
    });
    this.urls.catch(() => {});
  }

  /** SIGKILL: no chance to finish a batch, commit or close anything. */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

test("balances stay exact while the bank process is SIGKILLed and restarted, and after a replay", async () => {
  const brokers = inject("kafkaBrokers");
  const name = `bank-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const stateDir = await mkdtemp(join(tmpdir(), "toka-bank-"));
  onTestFinished(() => rm(stateDir, { recursive: true, force: true }));
  const bank = new BankProcess({
    KAFKA_BROKERS: brokers.join(","),
    BANK_NAME: name,
    PARTITIONS: "4",
    PORT: "0",
    QUERY_PORT: "0",
    SESSION_TIMEOUT_MS: "6000",
    STATE_DIR: stateDir,
    LOG_LEVEL: "error",
  });
  bank.start();
  await bank.urls;

  // The model: the same decide/evolve/project, applied once per unique command in order.
  const states = new Map<string, AccountState>();
  const balances = new Map<string, Balance | undefined>();
  const apply = (key: string, command: AccountCommand) => {
    const state = states.get(key) ?? create(AccountStateSchema);
    const decided = decide(command, state);
    if (!Array.isArray(decided)) return 0;
    let next = state;
    for (const event of decided as AccountEvent[]) {
      next = evolve(next, event);
      balances.set(key, project(balances.get(key), event));
    }
    states.set(key, next);
    return decided.length;
  };
  const open = (i: number) =>
    create(AccountCommandSchema, { command: { case: "open", value: { owner: `owner-${i}` } } });

  const emitter = new Emitter({
    brokers,
    topic: `${name}-commands`,
    codec: accountCommandCodec,
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  const rand = random(42);
  let expectedEvents = 0;
  const produce = (async () => {
    const opens = Array.from({ length: ACCOUNTS }, (_, i) => {
      expectedEvents += apply(`acct-${i}`, open(i));
      return emitter.emit(`acct-${i}`, open(i), { id: `open-${i}` });
    });
    await Promise.all(opens);
    for (let start = 0; start < COMMANDS; start += 200) {
      const sends: Promise<void>[] = [];
      for (let i = start; i < start + 200; i++) {
        const key = `acct-${Math.floor(rand() * ACCOUNTS)}`;
        const amountCents = BigInt(1 + Math.floor(rand() * 1_000));
        const command = create(AccountCommandSchema, {
          command:
            rand() < 0.55
              ? { case: "deposit", value: { amountCents } }
              : { case: "withdraw", value: { amountCents } },
        });
        expectedEvents += apply(key, command);
        sends.push(emitter.emit(key, command, { id: `cmd-${i}` }));
        if (i % DUPLICATE_EVERY === 0) sends.push(emitter.emit(key, command, { id: `cmd-${i}` }));
      }
      await Promise.all(sends);
      await delay(400);
    }
  })();

  for (let kill = 0; kill < KILLS; kill++) {
    await delay(1_500 + rand() * 2_000);
    await bank.kill();
    // Once, lose the local state too: it is rebuilt from the table topics.
    if (kill === 1) await rm(stateDir, { recursive: true, force: true });
    bank.start();
  }
  await produce;
  const { commands, query } = (await bank.urls)!;
  expect(commands).toMatch(/^http:/);

  // Served balances converge to the model's, exactly.
  const served = async () => {
    const out = new Map<string, unknown>();
    for (const key of balances.keys()) {
      const res = await fetch(`${query}/balances/${key}`);
      out.set(key, res.status === 200 ? await res.json() : res.status);
    }
    return out;
  };
  await expect.poll(served, { timeout: 90_000, interval: 1_000 }).toEqual(balances);

  // The event log holds every event once (read_committed), and folds to the same states.
  const log = await readLog(brokers, `${name}-events`);
  expect(log.ids.size).toBe(log.count);
  expect(log.count).toBe(expectedEvents);
  const folded = new Map<string, AccountState>();
  for (const [key, event] of log.events)
    folded.set(key, evolve(folded.get(key) ?? create(AccountStateSchema), event));
  expect(folded).toEqual(states);

  // A replay of the balances into a new table, switched to while serving, gives the same.
  expect((await fetch(`${commands}/admin/rebuild`, { method: "POST" })).status).toBe(202);
  await expect
    .poll(
      async () =>
        ((await (await fetch(`${commands}/admin/rebuild`)).json()) as { status: string }).status,
      {
        timeout: 60_000,
      },
    )
    .toBe("switched");
  expect(await served()).toEqual(balances);
}, 180_000);

/** Reads a whole event log, read_committed: its events in order, their IDs and count. */
async function readLog(brokers: string[], topic: string) {
  const kafka = new Kafka({ brokers, clientId: "bank-test", logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]),
  );
  const codec = protobufCodec(AccountEventSchema);
  const events: [string, AccountEvent][] = [];
  const ids = new Set<string>();
  const consumer = kafka.consumer({
    groupId: `bank-test-${randomBytes(4).toString("hex")}`,
    readUncommitted: false,
  });
  await consumer.connect();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = remaining.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end)
      remaining.delete(payload.partition);
  });
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        events.push([m.key!.toString(), codec.decode(m.value!)]);
        ids.add(m.headers!["toka-id"]!.toString());
      }
    },
  });
  const deadline = Date.now() + 60_000;
  while (remaining.size > 0 && Date.now() < deadline) await delay(100);
  await consumer.disconnect();
  expect(remaining.size).toBe(0);
  return { events, ids, count: events.length };
}
