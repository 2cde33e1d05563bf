import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { Processor, ProcessorEvents } from "@toka/processor";
import { waitForTopicLeaders } from "@toka/processor/kafka";
import { type Admin, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { inject, onTestFinished } from "vitest";

/** Brokers of the integration run (see setup/kafka.ts). */
export function brokers(): string[] {
  return inject("kafkaBrokers");
}

/** A name no other test uses: topics and groups never collide between tests or runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/**
 * A raw kafkajs client, silent, for driving and inspecting the broker in tests (the
 * integration run's broker unless a list is given, such as a test's own cluster).
 */
export function kafkaClient(brokerList: readonly string[] = brokers()): Kafka {
  return new Kafka({
    clientId: uniqueName("test"),
    brokers: [...brokerList],
    logLevel: logLevel.NOTHING,
  });
}

/** An admin client closed when the test finishes. */
export async function adminClient(brokerList?: readonly string[]): Promise<Admin> {
  const admin = kafkaClient(brokerList).admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

/**
 * Waits until every broker knows a leader of every partition of topics created with
 * kafkajs, as toka's own `createTopics` does: a request to another broker right after
 * creation fails otherwise. Create with `waitForLeaders: false`: kafkajs's wait asks
 * one broker and fails with "This server does not host this topic-partition" when that
 * one has not heard of the topic yet.
 */
export function awaitLeaders(
  topics: readonly string[],
  brokerList: readonly string[] = brokers(),
): Promise<void> {
  return waitForTopicLeaders({ brokers: brokerList, topics });
}

/**
 * Creates a topic with a unique name, deleted when the test finishes; resolves once
 * every broker knows its partitions' leaders.
 */
export async function createTopic(
  prefix: string,
  partitions = 1,
  configEntries: { name: string; value: string }[] = [],
): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = await adminClient();
  await admin.createTopics({
    waitForLeaders: false,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
  });
  await awaitLeaders([topic]);
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
 * Reads a topic from the beginning to its end as of the call, read_committed, handing
 * every record to `onMessage` in partition order.
 */
export async function readToEnd(
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  brokerList?: readonly string[],
): Promise<void> {
  const admin = await adminClient(brokerList);
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]),
  );
  if (remaining.size === 0) return;
  const consumer = kafkaClient(brokerList).consumer({
    groupId: uniqueName("reader"),
    readUncommitted: false,
  });
  await consumer.connect();
  try {
    // Batch ends are observed through the instrumentation event, which also fires for
    // batches holding only transaction markers (those never reach eachBatch).
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = remaining.get(payload.partition);
      if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end)
        remaining.delete(payload.partition);
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) onMessage(m, batch.partition);
      },
    });
    await waitUntil(`topic ${topic} read to its end`, () => remaining.size === 0, {
      timeoutMs: 120_000,
    });
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Header values as strings, each name's first value. kafkajs decodes a name that
 * Object.prototype has (`constructor`) into an array starting with the inherited member,
 * so only Buffers count; the result has no prototype, so `__proto__` is a plain name.
 */
export function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    const first = (Array.isArray(v) ? v : [v]).find((x) => Buffer.isBuffer(x));
    if (first !== undefined) headers[k] = first.toString();
  }
  return headers;
}

/**
 * Reads a table topic to its end and returns the latest value and headers per key
 * (deleted keys are absent).
 */
export async function readTable(
  topic: string,
  brokerList?: readonly string[],
): Promise<Map<string, { value: Buffer; headers: Record<string, string> }>> {
  const table = new Map<string, { value: Buffer; headers: Record<string, string> }>();
  await readToEnd(
    topic,
    (m) => {
      const key = m.key?.toString() ?? "";
      if (m.value === null) table.delete(key);
      else table.set(key, { value: m.value, headers: headersOf(m) });
    },
    brokerList,
  );
  return table;
}

type BatchEvent = ProcessorEvents["batch.processed"][0];

/**
 * Counts a processor's handled messages once they are written: a batch's effects wait in
 * the write-back cache, and count when its partition's `partition.flushed` follows.
 * `count` says what of a batch counts (default: the messages handed to callbacks).
 */
export function countWritten(
  processor: Pick<Processor, "on">,
  count: (batch: BatchEvent) => number = (batch) => batch.processed,
): () => number {
  const unflushed = new Map<number, number>();
  let written = 0;
  processor.on("batch.processed", (batch) => {
    unflushed.set(batch.partition, (unflushed.get(batch.partition) ?? 0) + count(batch));
  });
  processor.on("partition.flushed", ({ partition }) => {
    written += unflushed.get(partition) ?? 0;
    unflushed.delete(partition);
  });
  // Dropped unwritten: those batches are processed (and reported) again.
  const forget = ({ partition }: { partition: number }) => unflushed.delete(partition);
  processor.on("partition.unflushed-dropped", forget);
  processor.on("partition.revoked", forget);
  return () => written;
}
