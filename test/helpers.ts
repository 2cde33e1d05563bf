import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { inject, onTestFinished } from "vitest";

/** Brokers of the integration run (see setup/kafka.ts). */
export function brokers(): string[] {
  return inject("kafkaBrokers");
}

/** A name no other test uses: topics and groups never collide between tests or runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** A raw kafkajs client, silent, for driving and inspecting the broker in tests. */
export function kafkaClient(): Kafka {
  return new Kafka({
    clientId: uniqueName("test"),
    brokers: brokers(),
    logLevel: logLevel.NOTHING,
  });
}

/** An admin client closed when the test finishes. */
export async function adminClient(): Promise<Admin> {
  const admin = kafkaClient().admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

/** Creates a topic with a unique name, deleted when the test finishes. */
export async function createTopic(
  prefix: string,
  partitions = 1,
  configEntries: { name: string; value: string }[] = [],
): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = await adminClient();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
  });
  onTestFinished(async () => {
    const cleanup = kafkaClient().admin();
    await cleanup.connect();
    await cleanup.deleteTopics({ topics: [topic] }).catch(() => {});
    await cleanup.disconnect();
  });
  return topic;
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`; fails with
 * `what` and the last observation after `timeoutMs` instead of hanging.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 60_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
      last = result;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    }
    await delay(intervalMs);
  }
}

/** A temporary directory removed when the test finishes. */
export async function tempDir(prefix = "toka-test-"): Promise<string> {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Reads a table topic from the beginning to its current end and returns the latest
 * value and headers per key (deleted keys are absent).
 */
export async function readTable(
  topic: string,
): Promise<Map<string, { value: Buffer; headers: Record<string, string> }>> {
  const admin = await adminClient();
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]),
  );
  const table = new Map<string, { value: Buffer; headers: Record<string, string> }>();
  if (remaining.size === 0) return table;
  const consumer = kafkaClient().consumer({ groupId: uniqueName("reader") });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const key = m.key?.toString() ?? "";
            if (m.value === null) table.delete(key);
            else {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(m.headers ?? {}))
                if (v !== undefined) headers[k] = v.toString();
              table.set(key, { value: m.value, headers });
            }
          }
          const end = remaining.get(batch.partition);
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) {
            remaining.delete(batch.partition);
            if (remaining.size === 0) resolve();
          }
        },
      });
    });
    await waitUntil(`table ${topic} read to its end`, async () => {
      await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
      return remaining.size === 0;
    });
  } finally {
    await consumer.disconnect();
  }
  return table;
}
