import { isTokaError, TokaError, TokaErrorCode } from "@toka/processor";
import type { ClientAdmin } from "@toka/processor/kafka";
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
 * that exists) or `partitions`, through the connection's client. Event logs get
 * `retention.ms=-1`. An existing event log with a finite retention is reported as a
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
    await admin.createTopics(
      missing.map((t) => ({
        topic: t.topic,
        partitions: count,
        compacted: t.kind === "table",
        ...(replicationFactor ? { replicationFactor } : {}),
        ...(t.kind === "log" ? { config: { "retention.ms": "-1" } } : {}),
      })),
    );
    await warnAboutRetention(
      connection,
      admin,
      topics.filter((t) => t.kind === "log").map((t) => t.topic),
    );
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

async function warnAboutRetention(connection: Connection, admin: ClientAdmin, logs: string[]) {
  if (logs.length === 0) return;
  for (const [topic, configs] of await admin.topicConfigs(logs, ["retention.ms"])) {
    const retention = configs.get("retention.ms");
    if (retention !== undefined && retention !== "-1") {
      connection.logger.warn(
        `event log "${topic}" has retention.ms=${retention}: events older than that are deleted and can no longer be replayed; set retention.ms=-1 (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config retention.ms=-1)`,
        { topic },
      );
    }
  }
}
