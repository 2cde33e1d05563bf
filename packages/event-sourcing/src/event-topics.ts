import { isTokaError, type SecurityOptions, TokaError, TokaErrorCode } from "@toka/processor";
import { type ClientAdmin, kafkajsSecurity, waitForTopicLeaders } from "@toka/processor/kafka";
import { Kafka, logLevel } from "kafkajs";
import type { Connection } from "./connection.js";

/** A topic an event-sourcing component needs. */
export interface NeededTopic {
  readonly topic: string;
  /** `log`: a stream kept forever (`retention.ms=-1`); `stream`: default retention; `table`: compacted. */
  readonly kind: "log" | "stream" | "table";
}

/** Default partition count of topics created for an aggregate whose commands topic is missing. */
export const DEFAULT_PARTITIONS = 8;

/**
 * Creates the missing `topics` with the partition count of `like` (the first of them
 * that exists) or `partitions`. Event logs get `retention.ms=-1` when the brokers are
 * known (the client boundary creates topics without configs, so a custom `client`
 * without `brokers` creates them with the broker's default retention: create event
 * logs yourself then). An existing event log with a finite retention is reported as a
 * warning, with the command that fixes it. Resolves once every broker knows a leader of
 * every partition of the created topics.
 *
 * @returns the partition count.
 * @throws TokaError `TOKA_NOT_COPARTITIONED` when existing topics have different counts,
 * `TOKA_TIMEOUT` when the created topics' leaders did not reach every broker in time,
 * `TOKA_KAFKA_FAILED` when Kafka fails.
 */
export async function ensureTopics(
  connection: Connection,
  topics: readonly NeededTopic[],
  partitions: number,
  replicationFactor?: number,
): Promise<number> {
  const admin = connection.client.admin();
  await admin.connect();
  try {
    const counts = await admin.partitionCounts(topics.map((t) => t.topic));
    const existing = [...counts.values()];
    const count = existing[0] ?? partitions;
    if (existing.some((c) => c !== count)) {
      throw new TokaError(
        TokaErrorCode.NotCopartitioned,
        `topics ${[...counts].map(([t, c]) => `${t}=${c}`).join(", ")} have different partition counts; give them the same count`,
        { topic: topics[0]?.topic },
      );
    }
    const missing = topics.filter((t) => !counts.has(t.topic));
    const logs = topics.filter((t) => t.kind === "log").map((t) => t.topic);
    const { brokers } = connection;
    if (brokers) {
      await withKafkajsAdmin(brokers, connection.security, async (kafka) => {
        if (missing.length > 0) {
          await kafka.createTopics({
            // kafkajs's wait asks one broker, which may not know the topic yet and then
            // fails; waitForTopicLeaders below asks every broker and retries.
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: t.topic,
              numPartitions: count,
              replicationFactor: replicationFactor ?? -1,
              configEntries:
                t.kind === "log"
                  ? [{ name: "retention.ms", value: "-1" }]
                  : t.kind === "table"
                    ? [{ name: "cleanup.policy", value: "compact" }]
                    : [],
            })),
          });
          // As the client boundary's createTopics does.
          await waitForTopicLeaders({
            brokers,
            topics: missing.map((t) => t.topic),
            ...connection.security,
          });
        }
        await warnAboutRetention(connection, kafka, logs);
      });
    } else {
      await createThroughBoundary(admin, missing, count, replicationFactor);
    }
    return count;
  } catch (cause) {
    if (isTokaError(cause)) throw cause;
    throw new TokaError(TokaErrorCode.KafkaFailed, "creating or checking topics failed", {
      topic: topics[0]?.topic,
      cause,
    });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function createThroughBoundary(
  admin: ClientAdmin,
  missing: readonly NeededTopic[],
  partitions: number,
  replicationFactor: number | undefined,
) {
  await admin.createTopics(
    missing.map((t) => ({
      topic: t.topic,
      partitions,
      compacted: t.kind === "table",
      ...(replicationFactor ? { replicationFactor } : {}),
    })),
  );
}

type KafkajsAdmin = ReturnType<Kafka["admin"]>;

async function withKafkajsAdmin(
  brokers: readonly string[],
  security: SecurityOptions,
  work: (admin: KafkajsAdmin) => Promise<void>,
) {
  const admin = new Kafka({
    brokers: [...brokers],
    ...kafkajsSecurity(security),
    clientId: "toka-event-topics",
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await work(admin);
  } finally {
    await admin.disconnect();
  }
}

async function warnAboutRetention(connection: Connection, admin: KafkajsAdmin, logs: string[]) {
  if (logs.length === 0) return;
  // ConfigResourceTypes.TOPIC = 2 (Kafka's DescribeConfigs resource type).
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: logs.map((name) => ({ type: 2, name, configNames: ["retention.ms"] })),
  });
  for (const resource of described.resources) {
    const retention = resource.configEntries.find((e) => e.configName === "retention.ms");
    if (retention && retention.configValue !== "-1") {
      connection.logger.warn(
        `event log "${resource.resourceName}" has retention.ms=${retention.configValue}: events older than that are deleted and can no longer be replayed; set retention.ms=-1 (kafka-configs.sh --alter --entity-type topics --entity-name ${resource.resourceName} --add-config retention.ms=-1)`,
        { topic: resource.resourceName },
      );
    }
  }
}
