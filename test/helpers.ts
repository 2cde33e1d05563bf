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
