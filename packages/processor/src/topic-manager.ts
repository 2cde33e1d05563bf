import type { ClientAdmin, TopicSpec } from "./client/kafka-client.js";
import { DEAD_LETTER_HEADROOM } from "./dead-letter.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { GroupGraph } from "./group-graph.js";
import type { ResolvedProcessorOptions } from "./options.js";
import type { WindowedAggregate } from "./windowed-aggregate.js";

const MAX_MESSAGE_BYTES = "max.message.bytes";
/** Kafka's default `message.max.bytes`, for a client that cannot tell a topic's. */
const KAFKA_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * Kafka Streams' default `windowstore.changelog.additional.retention.ms`: how much longer
 * than the windows' retention a windowed table topic keeps its records, so that a window
 * is never gone from the topic while a restore may still need it.
 */
const WINDOW_TOPIC_EXTRA_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * A windowed table topic is compacted (a window's last value wins) and deletes by time
 * (windows past retention go, without a tombstone each).
 */
function windowTopicConfig(aggregate: WindowedAggregate): Record<string, string> {
  return {
    "cleanup.policy": "compact,delete",
    "retention.ms": String(aggregate.windows.retentionMs + WINDOW_TOPIC_EXTRA_RETENTION_MS),
  };
}

/** What {@link prepareGroupTopics} found out about a group's topics. */
export interface GroupTopics {
  readonly partitions: number;
  /** The dead-letter topic's `max.message.bytes` (without that policy: Kafka's default). */
  readonly deadLetterMaxBytes: number;
}

/**
 * Checks a group's topics before it starts and creates its own ones: inputs must exist
 * and be co-partitioned; the table, loop and dead-letter topics are created with the
 * inputs' partition count when missing (unless `createTopics` is off); joined tables
 * must be co-partitioned; outputs and looked-up tables must exist. The dead-letter topic
 * is created to take what the inputs take: their largest `max.message.bytes` plus
 * room for the error headers. Each windowed aggregate gets its windowed table topic
 * (`<group>-<name>-windows`), and a group with one a dead-letter topic for late records.
 *
 * @throws TokaError `TOKA_TOPIC_MISSING` or `TOKA_NOT_COPARTITIONED`, naming the topics.
 */
export async function prepareGroupTopics(
  admin: ClientAdmin,
  graph: GroupGraph,
  options: ResolvedProcessorOptions,
): Promise<GroupTopics> {
  const group = graph.name;
  const own: { topic: string; compacted: boolean; config?: Record<string, string> }[] = [];
  if (graph.persist) own.push({ topic: graph.tableTopic, compacted: true });
  if (graph.loop) own.push({ topic: graph.loopTopic, compacted: false });
  if (graph.timersTopic) own.push({ topic: graph.timersTopic, compacted: true });
  for (const [name, topic] of graph.windowTopics) {
    own.push({ topic, compacted: false, config: windowTopicConfig(graph.windows.get(name)!) });
  }
  // Late records of windowed aggregates are dead-lettered whatever the error policy.
  const deadLetters = options.errorPolicy === "dead-letter" || graph.windows.size > 0;
  if (deadLetters) own.push({ topic: graph.deadLetterTopic, compacted: false });
  const inputs = graph.inputs.map((i) => i.topic);
  const all = [
    ...inputs,
    ...own.map((o) => o.topic),
    ...graph.joins.keys(),
    ...graph.lookups.keys(),
    ...graph.outputs.keys(),
  ];
  const counts = await admin.partitionCounts(all);

  const missing = (topics: Iterable<string>) => [...topics].filter((t) => !counts.has(t));
  const missingInputs = missing(inputs);
  if (missingInputs.length > 0) {
    throw new TokaError(
      TokaErrorCode.TopicMissing,
      `input topic(s) ${missingInputs.join(", ")} do not exist; create them (all with the same partition count) before starting the processor`,
      { group, topic: missingInputs[0] },
    );
  }
  const partitions = counts.get(inputs[0]!)!;
  const mismatch = (topics: string[]) =>
    topics.filter((t) => counts.has(t) && counts.get(t) !== partitions);
  const describe = (topics: string[]) => topics.map((t) => `${t}=${counts.get(t)}`).join(", ");
  const badInputs = mismatch(inputs);
  if (badInputs.length > 0) {
    throw new TokaError(
      TokaErrorCode.NotCopartitioned,
      `the inputs of the group are not co-partitioned: ${describe(inputs)}; give every input the same partition count`,
      { group, topic: badInputs[0] },
    );
  }
  const badOwn = mismatch([...own.map((o) => o.topic), ...graph.joins.keys()]);
  if (badOwn.length > 0) {
    throw new TokaError(
      TokaErrorCode.NotCopartitioned,
      `${describe(badOwn)} must have the inputs' partition count ${partitions} (${describe(inputs)}); recreate them with ${partitions} partitions`,
      { group, topic: badOwn[0] },
    );
  }
  const missingOthers = missing([
    ...graph.joins.keys(),
    ...graph.lookups.keys(),
    ...graph.outputs.keys(),
  ]);
  if (missingOthers.length > 0) {
    throw new TokaError(
      TokaErrorCode.TopicMissing,
      `topic(s) ${missingOthers.join(", ")} (outputs, joined or looked-up tables) do not exist; create them or start the groups that own them first`,
      { group, topic: missingOthers[0] },
    );
  }
  let deadLetterMaxBytes = KAFKA_MAX_MESSAGE_BYTES;
  if (deadLetters) {
    const dlq = graph.deadLetterTopic;
    const configs = await admin.topicConfigs([...inputs, dlq], [MAX_MESSAGE_BYTES]);
    const limit = (topic: string) =>
      Number(configs.get(topic)?.get(MAX_MESSAGE_BYTES) ?? KAFKA_MAX_MESSAGE_BYTES);
    const inputsLimit = Math.max(...inputs.map(limit));
    if (counts.has(dlq)) {
      deadLetterMaxBytes = limit(dlq);
      if (deadLetterMaxBytes < inputsLimit + DEAD_LETTER_HEADROOM) {
        options.logger.warn(
          `the dead-letter topic allows ${deadLetterMaxBytes} bytes, less than the inputs' ${inputsLimit} plus ${DEAD_LETTER_HEADROOM} for the error headers: larger letters are cut (toka-error-truncated); raise its ${MAX_MESSAGE_BYTES} to keep them whole`,
          { group, topic: dlq },
        );
      }
    } else {
      deadLetterMaxBytes = inputsLimit + DEAD_LETTER_HEADROOM;
      own.find((o) => o.topic === dlq)!.config = {
        [MAX_MESSAGE_BYTES]: String(deadLetterMaxBytes),
      };
    }
  }
  const toCreate: TopicSpec[] = own
    .filter((o) => !counts.has(o.topic))
    .map((o) => ({
      topic: o.topic,
      partitions,
      compacted: o.compacted,
      ...(o.config ? { config: o.config } : {}),
      ...(options.replicationFactor ? { replicationFactor: options.replicationFactor } : {}),
    }));
  if (toCreate.length > 0 && !options.createTopics) {
    throw new TokaError(
      TokaErrorCode.TopicMissing,
      `topic(s) ${toCreate.map((t) => t.topic).join(", ")} do not exist and createTopics is off; create them with ${partitions} partitions (the table compacted)`,
      { group, topic: toCreate[0]!.topic },
    );
  }
  await admin.createTopics(toCreate);
  return { partitions, deadLetterMaxBytes };
}
