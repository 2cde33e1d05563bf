import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { deadLetterTopic, silentLogger, tableTopic, View } from "@toka/processor";
import { Kafka, logLevel } from "kafkajs";
import { expect, inject, onTestFinished, test } from "vitest";
import { clickCountCodec } from "../src/click-counter.js";

const exampleDir = fileURLToPath(new URL("..", import.meta.url));

test("the click service counts clicks sent over HTTP and commits its offsets when SIGTERM stops it", async () => {
  const run = await setUp();
  const service = startService(run.env);
  const { clicksUrl, countsUrl } = await service.urls();
  expect(countsUrl).toMatch(new RegExp(`/${run.table}$`));

  // A client retrying a request it got no answer for sends the same Idempotency-Key:
  // the exactly-once processor counts that click once.
  expect(await click(clicksUrl, "dave", "dave-click-1")).toBe(202);
  expect(await click(clicksUrl, "dave", "dave-click-1")).toBe(202);
  const clicks = { alice: 3, bob: 5, carol: 2 };
  await clickAll(clicksUrl, clicks);
  const expected = { ...clicks, dave: 1 };

  expect(await countsOnceComplete(countsUrl, expected)).toEqual(expected);
  const queryUrl = countsUrl.slice(0, countsUrl.lastIndexOf("/"));
  expect((await fetch(`${queryUrl}/ready`)).status).toBe(200);
  expect((await fetch(`${queryUrl}/health`)).status).toBe(200);

  expect(await service.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  expect(service.stdout.at(-1)).toBe("stopped");
  // Closing the processor committed what it processed: nothing is processed again at
  // the next start.
  expect(await committedOffsets(run)).toEqual(await endOffsets(run));
  expect(await tableContents(run)).toEqual(expected);
});

test("clicks accepted just before SIGTERM are counted exactly once by the restarted service", async () => {
  const run = await setUp();
  const first = startService(run.env);
  const before = await first.urls();
  // SIGTERM right after the burst was accepted: the processor has counted part of it or
  // none (it finishes only the batch in flight), whichever the timing gives.
  const clicks = { alice: 40, bob: 30, carol: 20, dave: 10 };
  await clickAll(before.clicksUrl, clicks);
  expect(await first.stop("SIGTERM")).toEqual({ code: 0, signal: null });

  // What the first run did not count, the second one does; what it counted and
  // committed is not counted again.
  const second = startService(run.env);
  const after = await second.urls();
  expect(await countsOnceComplete(after.countsUrl, clicks)).toEqual(clicks);
  expect(await second.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  expect(await committedOffsets(run)).toEqual(await endOffsets(run));
  expect(await tableContents(run)).toEqual(clicks);
});

/** Unique names for one test, an admin client, and their clean-up. */
async function setUp() {
  const brokers = inject("kafkaBrokers");
  const suffix = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const topic = `clicks-${suffix}`;
  const group = `click-counter-${suffix}`;
  const table = tableTopic(group);
  const admin = new Kafka({
    clientId: `clicks-test-${suffix}`,
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  onTestFinished(async () => {
    await admin.deleteTopics({ topics: [topic, table, deadLetterTopic(group)] }).catch(() => {});
    await admin.disconnect();
  });
  const env = {
    KAFKA_BROKERS: brokers.join(","),
    CLICKS_TOPIC: topic,
    CLICKS_GROUP: group,
    PORT: "0",
    QUERY_PORT: "0",
  };
  return { brokers, topic, group, table, admin, env };
}
type Run = Awaited<ReturnType<typeof setUp>>;

/** POSTs the given number of clicks per user at once; all must be accepted. */
async function clickAll(clicksUrl: string, clicks: Readonly<Record<string, number>>) {
  const statuses = await Promise.all(
    Object.entries(clicks).flatMap(([user, n]) =>
      Array.from({ length: n }, () => click(clicksUrl, user)),
    ),
  );
  expect(statuses.filter((status) => status !== 202)).toEqual([]);
}

/**
 * The counts the query service shows once every expected click shows. The read side is
 * eventually consistent: poll until then, and let the caller compare exactly (a count
 * above the expected one ends the wait too, and fails the comparison).
 */
function countsOnceComplete(countsUrl: string, expected: Readonly<Record<string, number>>) {
  return waitUntil("the query service to show every click", async () => {
    const seen: Record<string, number> = {};
    for (const user of Object.keys(expected)) {
      const response = await fetch(`${countsUrl}/${user}`);
      seen[user] =
        response.status === 200 ? ((await response.json()) as { clicks: number }).clicks : 0;
    }
    const done = Object.entries(expected).every(([user, n]) => (seen[user] ?? 0) >= n);
    return done ? seen : undefined;
  });
}

/** The group's committed offset per partition of the clicks topic. */
async function committedOffsets({ admin, group, topic }: Run) {
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  // Kafka reports "-1" for a partition without a commit; on this fresh topic that is
  // right only for a partition that never got a click (its end offset is 0).
  return Object.fromEntries(
    (committed?.partitions ?? []).map((p) => [p.partition, p.offset === "-1" ? "0" : p.offset]),
  );
}

/** The end offset per partition of the clicks topic. */
async function endOffsets({ admin, topic }: Run) {
  const ends = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(ends.map((e) => [e.partition, e.high]));
}

/** What the service left in its table, read by a fresh view. */
async function tableContents({ brokers, table }: Run) {
  await using view = new View({ brokers, table, codec: clickCountCodec, logger: silentLogger });
  await view.start();
  const counts: Record<string, number> = {};
  for await (const [user, value] of view.iterate()) counts[user] = value.clicks;
  return counts;
}

/** POSTs a click; returns the HTTP status. */
async function click(clicksUrl: string, user: string, idempotencyKey?: string): Promise<number> {
  const response = await fetch(`${clicksUrl}/click/${encodeURIComponent(user)}`, {
    method: "POST",
    headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
  });
  await response.arrayBuffer();
  return response.status;
}

/** `src/main.ts` in a process of its own, as its start script runs it. */
function startService(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: exampleDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    stdout.push(...lines);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const describe = () => `stdout:\n${stdout.join("\n")}\nstderr:\n${stderr}`;
  return {
    stdout,
    /** The first group of the first stdout line matching `pattern`, once printed. */
    line: (pattern: RegExp) =>
      waitUntil(`the service to print ${pattern}`, () => {
        if (child.exitCode !== null) throw new Error(`the service exited early\n${describe()}`);
        for (const line of stdout) {
          const match = pattern.exec(line);
          if (match) return match[1];
        }
        return undefined;
      }),
    /** The URLs the service prints once it is ready. */
    async urls() {
      const clicksUrl = await this.line(/^clicks: POST (\S+)\/click\/<user>$/);
      const countsUrl = await this.line(/^counts: GET (\S+)\/<user>$/);
      return { clicksUrl, countsUrl };
    },
    /** Sends `signal` and waits (bounded) for the process to exit. */
    async stop(signal: NodeJS.Signals) {
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the service did not exit within 30 s of ${signal}\n${describe()}`)),
          30_000,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Polls `check` until it returns something other than `undefined`; fails with `what`
 * after `timeoutMs` instead of hanging. A check that throws fails the wait at once.
 */
async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}
