import type { SecurityOptions } from "../connection-security.js";
import { TokaError, TokaErrorCode } from "../errors.js";
import { isRetriable, retrying } from "../retry.js";
import { ClusterMetadata, parseBrokers } from "./cluster-metadata.js";
import { describeKafkaError, kafkaErrorCode } from "./kafka-error-codes.js";

/** How long {@link waitForTopicLeaders} waits by default. */
export const TOPIC_LEADERS_TIMEOUT_MS = 30_000;

/** A topic to wait for; without `partitions`, the count the brokers agree on. */
export interface ExpectedTopic {
  readonly topic: string;
  readonly partitions?: number;
}

/** What one broker does not know yet. */
interface Lack {
  readonly broker: string;
  readonly topic: string;
  /** Partitions without a leader in the broker's metadata; empty when the topic is unknown there. */
  readonly partitions: readonly number[];
  readonly why: string;
}

/**
 * Some broker does not know a leader of every partition yet: {@link awaitTopicLeaders}
 * asks again. Not marked `retriable`: once the wait gave up, the timeout it ends in is
 * final, also for callers that retry what their cause chain marks retriable.
 */
class TopicsNotReady extends Error {
  override readonly name = "TopicsNotReady";

  constructor(
    readonly lacks: readonly Lack[],
    cause: unknown,
  ) {
    super(lacks.map(describe).join("; "), cause === undefined ? undefined : { cause });
  }
}

function describe(lack: Lack): string {
  return lack.partitions.length > 0
    ? `broker ${lack.broker} knows no leader of ${lack.topic} partition(s) ${lack.partitions.join(", ")} (${lack.why})`
    : `broker ${lack.broker} ${lack.why}`;
}

/**
 * Waits until a Metadata request to each broker of the cluster shows every partition of
 * the topics with a leader: a topic just created is known to its controller first and
 * reaches the other brokers a moment later, and a producer or reader that asks one of
 * those meanwhile gets UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this
 * topic-partition").
 *
 * @throws TokaError `TOKA_TIMEOUT` after `timeoutMs` (not retriable), naming the
 * brokers and the topics and partitions they still lack, the last check's failure as
 * its `cause`.
 */
export async function awaitTopicLeaders(
  metadata: ClusterMetadata,
  topics: readonly ExpectedTopic[],
  {
    timeoutMs = TOPIC_LEADERS_TIMEOUT_MS,
    signal,
  }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  if (topics.length === 0) return;
  await retrying(() => checkEveryBroker(metadata, topics), {
    timeoutMs,
    initialDelayMs: 50,
    maxDelayMs: 1_000,
    signal,
    retriable: (error) => error instanceof TopicsNotReady || isRetriable(error),
    exhausted: (error) => {
      const first = error instanceof TopicsNotReady ? error.lacks[0] : undefined;
      return new TokaError(
        TokaErrorCode.Timeout,
        `topic(s) ${topics.map((t) => t.topic).join(", ")} did not have a leader for every partition on every broker within ${timeoutMs / 1000} s: ${(error as Error).message}`,
        {
          topic: first?.topic ?? topics[0]!.topic,
          partition: first?.partitions[0],
          cause: error,
        },
      );
    },
  });
}

/**
 * {@link awaitTopicLeaders} for callers that create topics with another client (tests
 * creating topics with kafkajs, tools): connects to `brokers` with `ssl` and `sasl` when
 * given, else over plaintext.
 */
export function waitForTopicLeaders(
  options: SecurityOptions & {
    /** Bootstrap brokers, `host:port`. */
    readonly brokers: readonly string[];
    readonly topics: readonly (string | ExpectedTopic)[];
    /** Default {@link TOPIC_LEADERS_TIMEOUT_MS}. */
    readonly timeoutMs?: number;
    readonly signal?: AbortSignal;
  },
): Promise<void> {
  const metadata = new ClusterMetadata(parseBrokers(options.brokers), {
    clientId: "toka-topic-readiness",
    connectTimeoutMs: 10_000,
    ssl: options.ssl,
    sasl: options.sasl,
  });
  return awaitTopicLeaders(
    metadata,
    options.topics.map((t) => (typeof t === "string" ? { topic: t } : t)),
    {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
  ).finally(() => metadata.close());
}

/** One check: the cluster's brokers, then each broker's metadata of the topics. */
async function checkEveryBroker(
  metadata: ClusterMetadata,
  topics: readonly ExpectedTopic[],
): Promise<void> {
  const brokers = await metadata.brokers();
  const names = topics.map((t) => t.topic);
  const views = await Promise.all(
    [...brokers].map(async ([nodeId, address]) => {
      const broker = `${nodeId} (${address.host}:${address.port})`;
      try {
        return { broker, response: await metadata.fetchFrom(address, names) };
      } catch (error) {
        return { broker, error };
      }
    }),
  );
  const lacks: Lack[] = [];
  let cause: unknown;
  // Without an expected count, the largest any broker reports (a topic's partitions
  // reach a broker together, so a broker that knows the topic knows them all).
  const expected = new Map(topics.map((t) => [t.topic, t.partitions ?? 0]));
  for (const view of views) {
    for (const t of view.response?.topics ?? []) {
      if (t.errorCode === 0 && !topics.find((e) => e.topic === t.topic)?.partitions) {
        expected.set(t.topic, Math.max(expected.get(t.topic) ?? 0, t.partitions.length));
      }
    }
  }
  for (const { broker, response, error } of views) {
    if (!response) {
      cause = error;
      lacks.push({
        broker,
        topic: names[0]!,
        partitions: [],
        why: `did not answer: ${(error as Error).message}`,
      });
      continue;
    }
    for (const name of names) {
      const t = response.topics.find((x) => x.topic === name);
      if (t?.errorCode !== 0) {
        lacks.push({
          broker,
          topic: name,
          partitions: [],
          why: `does not know topic ${name} (${describeKafkaError(t?.errorCode ?? kafkaErrorCode("UNKNOWN_TOPIC_OR_PARTITION"))})`,
        });
        continue;
      }
      const missing: number[] = [];
      const codes = new Set<number>();
      for (let p = 0; p < Math.max(expected.get(name)!, 1); p++) {
        const partition = t.partitions.find((x) => x.partition === p);
        if (partition && partition.leader >= 0 && partition.errorCode === 0) continue;
        missing.push(p);
        if (partition && partition.errorCode !== 0) codes.add(partition.errorCode);
      }
      if (missing.length > 0) {
        lacks.push({
          broker,
          topic: name,
          partitions: missing,
          why:
            codes.size > 0
              ? [...codes].map(describeKafkaError).join(", ")
              : "not in its metadata or leader -1",
        });
      }
    }
  }
  if (lacks.length > 0) throw new TopicsNotReady(lacks, cause);
}
