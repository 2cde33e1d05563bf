import kafkajs, {
  AssignerProtocol,
  type Consumer,
  type IHeaders,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
import type { SecurityOptions } from "../connection-security.js";
import { isTokaError, TokaError, TokaErrorCode, tokaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { retrying } from "../retry.js";
import { readLogWithConsumer } from "./consumer-log-reader.js";
import { copartitionedAssigner } from "./copartitioned-assigner.js";
import { FetchingConsumer } from "./fetching-consumer.js";
import { groupByTopic } from "./group-by-topic.js";
import { joinGatedSockets } from "./join-gate.js";
import {
  type ClientAdmin,
  type ClientConsumer,
  type ClientProducer,
  type ConsumerHandlers,
  type ConsumerOptions,
  type GroupDescription,
  heartbeatIntervalMs,
  type KafkaClient,
  type PartitionWatermarks,
  type TopicPartition,
  type TopicPartitionOffset,
  type TopicSpec,
} from "./kafka-client.js";
import { KafkaErrorKind, kafkaErrorNames } from "./kafka-error-codes.js";
import { readAssignmentData } from "./kafkajs-assignment-data.js";
import { type DirectAccess, kafkajsDirect } from "./kafkajs-direct.js";
import {
  byPartition,
  needsNewProducer,
  PartitionCounts,
  type SendBatch,
  sendPartition,
} from "./kafkajs-partition-sends.js";
import { kafkajsAuthorizationError, kafkajsSecurity } from "./kafkajs-security.js";
import {
  kafkajsTransactionalProducer,
  transactionalProducerConfig,
} from "./kafkajs-transactions.js";

/** Options of {@link kafkajsClient}; `ssl` and `sasl` apply to kafkajs and toka's own connections. */
export interface KafkajsClientOptions extends SecurityOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** Extra kafkajs settings (timeouts, retries); TLS and SASL are `ssl` and `sasl`. */
  readonly kafka?: Omit<
    KafkaConfig,
    "brokers" | "clientId" | "logCreator" | "logLevel" | "ssl" | "sasl"
  >;
  /**
   * Who fetches a consumer group's records: `"toka"` (the default) over toka's own
   * connections, kafkajs keeping only the membership and commits ({@link FetchingConsumer});
   * `"kafkajs"` through kafkajs's consumer. With a `socketFactory` only kafkajs can.
   */
  readonly groupReads?: "toka" | "kafkajs";
}

/** The kafkajs client, and which way its logs, offset commits and plain writes go. */
export interface KafkajsClient extends KafkaClient {
  /**
   * `"toka"` when reads of logs, non-idempotent writes and offset commits go over toka's
   * own connections (always, unless kafkajs's `socketFactory` is set); `"kafkajs"` when
   * they fall back to kafkajs's slower paths.
   */
  readonly wirePath: "toka" | "kafkajs";
}

/**
 * How long a produce request is retried while the cluster is failing over (a broker
 * down until its partitions have new leaders), like the Java client's
 * `delivery.timeout.ms`; kafkajs's own retries give up after about ten seconds.
 */
const DELIVERY_TIMEOUT_MS = 120_000;

/**
 * Retries `send` on retriable failures until DELIVERY_TIMEOUT_MS, or until `signal` is
 * aborted. For one partition's request of an idempotent producer, kafkajs resends the
 * same sequence numbers, so the broker keeps one copy.
 */
function withDeliveryTimeout<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return retrying(send, {
    timeoutMs: DELIVERY_TIMEOUT_MS,
    initialDelayMs: 250,
    maxDelayMs: 5_000,
    signal,
  });
}

/** Heartbeat answers that mean this member's partitions are being, or were, given out again. */
const MEMBERSHIP_LOST = kafkaErrorNames(KafkaErrorKind.MembershipLost);

/** Retries of the idempotent producer: bounded so a lost cluster surfaces as an error. */
const PRODUCER_RETRIES = 10;
/**
 * The longest wait between two of kafkajs's retries of a transactional producer's
 * request. kafkajs retries some answers without a log line (a transaction still
 * completing, a coordinator loading); with its default of 30 s one request could wait
 * minutes, unseen and uninterruptible by a lost membership or a close. Bounded, an
 * attempt gives up within about 10 s and toka's own loop, which logs, heartbeats and
 * stops for a close, tries again.
 */
const TRANSACTIONAL_MAX_RETRY_MS = 1_000;

/** The kafkajs implementation of the client boundary. */
export function kafkajsClient(options: KafkajsClientOptions): KafkajsClient {
  const { logger } = options;
  const config: KafkaConfig = {
    ...options.kafka,
    ...kafkajsSecurity(options),
    brokers: [...options.brokers],
    clientId: options.clientId,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) => {
        const { message, ...fields } = log;
        // kafkajs warns on every bounded retry setting of an idempotent producer; toka
        // bounds retries on purpose (see PRODUCER_RETRIES).
        if (message.startsWith("Limiting retries")) return;
        const entry = { component: `kafkajs.${namespace}`, ...fields };
        // The connection logs every error response, most of which kafkajs retries (a
        // coordinator still loading, a leader moving); what is not retried surfaces as
        // a thrown error, so these are debug lines.
        if (namespace === "Connection") logger.debug(message, entry);
        else if (level === logLevel.ERROR) logger.error(message, entry);
        else logger.warn(message, entry);
      },
  };
  const kafka = new Kafka(config);
  const direct = kafkajsDirect(
    options.brokers,
    options.clientId,
    { ssl: options.ssl, sasl: options.sasl },
    options.kafka,
  );
  // kafkajs reports a failed TLS handshake or SASL exchange as a retriable connection
  // error and retries it; toka's own connection names the cause, so it goes first.
  const checkAccess = async () => {
    await direct?.checkAccess();
  };
  return {
    wirePath: direct ? "toka" : "kafkajs",
    admin: () => kafkajsAdmin(kafka, direct, checkAccess),
    producer(producerOptions) {
      const transactionalId = producerOptions?.transactionalId;
      if (transactionalId) {
        return kafkajsTransactionalProducer(kafka, transactionalId, () =>
          kafka.producer({
            ...transactionalProducerConfig(transactionalId),
            retry: { retries: PRODUCER_RETRIES, maxRetryTime: TRANSACTIONAL_MAX_RETRY_MS },
          }),
        );
      }
      if (producerOptions?.idempotent === false && direct) return direct.producer();
      return kafkajsProducer(kafka, checkAccess);
    },
    consumer(consumerOptions) {
      if (!direct || options.groupReads === "kafkajs")
        return kafkajsConsumer(kafka, consumerOptions, checkAccess, direct);
      // Its own kafkajs instance: the sockets of its membership hold the group join
      // until the batches being handled are done.
      let consumer: FetchingConsumer | undefined;
      const sockets = joinGatedSockets(() => consumer?.beforeJoin() ?? Promise.resolve());
      const membership = new Kafka({ ...config, socketFactory: sockets.factory });
      consumer = new FetchingConsumer(
        consumerOptions,
        kafkajsConsumer(membership, consumerOptions, checkAccess, direct, sockets.closeAll),
        kafkajsAdmin(kafka, direct, checkAccess),
        direct.leaders,
        logger,
      );
      return consumer;
    },
    readLog: (request, onBatch) =>
      direct
        ? direct.readLog(request, onBatch)
        : readLogWithConsumer((o) => kafkajsConsumer(kafka, o, checkAccess), request, onBatch),
  };
}

function kafkajsAdmin(
  kafka: Kafka,
  direct: DirectAccess | undefined,
  checkAccess: () => Promise<void>,
): ClientAdmin {
  const admin = kafka.admin();
  return {
    async connect() {
      await checkAccess();
      await admin.connect();
    },
    disconnect: () => admin.disconnect(),
    async partitionCounts(topics) {
      const existing = new Set(await admin.listTopics());
      const wanted = topics.filter((t) => existing.has(t));
      await direct?.checkDescribable(topics.filter((t) => !existing.has(t)));
      const counts = new Map<string, number>();
      if (wanted.length === 0) return counts;
      const meta = await admin.fetchTopicMetadata({ topics: wanted });
      for (const t of meta.topics) counts.set(t.name, t.partitions.length);
      return counts;
    },
    async createTopics(specs: readonly TopicSpec[]) {
      if (specs.length === 0) return;
      const created = admin.createTopics({
        // kafkajs's own wait asks one broker and fails with UNKNOWN_TOPIC_OR_PARTITION
        // ("This server does not host this topic-partition") when that broker has not
        // heard of the topic yet; toka's wait below asks every broker and retries. With
        // a socketFactory, where toka has no connections of its own, only kafkajs's wait
        // is possible.
        waitForLeaders: !direct,
        topics: specs.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor ?? -1,
          configEntries: [
            ...(s.compacted ? [{ name: "cleanup.policy", value: "compact" }] : []),
            ...Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          ],
        })),
      });
      await created.catch((error: unknown) => {
        throw (
          kafkajsAuthorizationError(error, {
            operation: "Create",
            topic: specs.map((s) => s.topic).join(", "),
          }) ?? error
        );
      });
      // By name only: a topic that existed may have another partition count than its spec.
      await direct?.awaitLeaders(specs.map((s) => s.topic));
    },
    async topicConfigs(topics, names) {
      const configs = new Map<string, Map<string, string>>();
      const existing = new Set(await admin.listTopics());
      const wanted = topics.filter((t) => existing.has(t));
      if (wanted.length === 0) return configs;
      const { resources } = await admin.describeConfigs({
        // A default import: kafkajs is CommonJS and Node does not see this named export.
        resources: wanted.map((name) => ({
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name,
          configNames: [...names],
        })),
        includeSynonyms: false,
      });
      for (const resource of resources) {
        const values = new Map<string, string>();
        for (const entry of resource.configEntries) values.set(entry.configName, entry.configValue);
        configs.set(resource.resourceName, values);
      }
      return configs;
    },
    async watermarks(topic): Promise<PartitionWatermarks[]> {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high }));
    },
    async committedOffsets(groupId, topic) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const offsets = new Map<number, string>();
      for (const p of result?.partitions ?? []) {
        if (p.offset !== "-1") offsets.set(p.partition, p.offset);
      }
      return offsets;
    },
    async committedMetadata(groupId, topic) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const metadata = new Map<number, string>();
      for (const p of result?.partitions ?? []) {
        if (p.offset !== "-1" && p.metadata) metadata.set(p.partition, p.metadata);
      }
      return metadata;
    },
    async offsetsForTime(topic, timestamp) {
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
      return new Map(offsets.map((o) => [o.partition, o.offset]));
    },
    async commitOffsets(groupId, offsets) {
      if (direct) return direct.commitOffsets(groupId, offsets);
      // kafkajs joins the group to commit: slower, but it speaks SASL.
      for (const { topic, partitions } of offsetsByTopic(offsets)) {
        await admin.setOffsets({ groupId, topic, partitions });
      }
    },
    listTopics: () => admin.listTopics(),
    async listGroups() {
      const { groups } = await admin.listGroups();
      return groups.map((g) => g.groupId);
    },
    async describeGroup(groupId): Promise<GroupDescription> {
      const { groups } = await admin.describeGroups([groupId]);
      const described = groups[0];
      if (!described) return { group: groupId, state: "Dead", members: [] };
      return {
        group: groupId,
        state: described.state,
        members: described.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          host: m.clientHost,
          assignment: memberAssignment(m.memberAssignment),
        })),
      };
    },
    async groupOffsets(groupId) {
      const offsets = new Map<string, Map<number, string>>();
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId })) {
        const committed = new Map<number, string>();
        for (const p of partitions) if (p.offset !== "-1") committed.set(p.partition, p.offset);
        offsets.set(topic, committed);
      }
      return offsets;
    },
  };
}

/**
 * A member's assignment in the standard consumer protocol's form (toka's co-partitioned
 * assigner writes it); none for an empty or foreign one.
 */
function memberAssignment(bytes: Buffer): Record<string, number[]> {
  try {
    return bytes.length === 0
      ? {}
      : (AssignerProtocol.MemberAssignment.decode(bytes)?.assignment ?? {});
  } catch {
    return {};
  }
}

/** Offsets in kafkajs's per-topic shape. */
function offsetsByTopic(offsets: readonly TopicPartitionOffset[]) {
  return [...groupByTopic(offsets)].map(([topic, list]) => ({
    topic,
    partitions: list.map(({ partition, offset }) => ({ partition, offset })),
  }));
}

/**
 * An idempotent producer: each send's records are written once, in order per partition,
 * one kafkajs send per partition (see `kafkajs-partition-sends.ts`).
 */
export function kafkajsProducer(kafka: Kafka, checkAccess: () => Promise<void>): ClientProducer {
  const create = () =>
    kafka.producer({
      // murmur2 like the Java client, so toka and other producers agree on partitions.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 5,
      retry: { retries: PRODUCER_RETRIES },
    });
  let producer: Producer = create();
  let replacing: Promise<void> | undefined;
  /** After a broker lost the producer's state (a restart), a new producer id goes on. */
  const replace = (failed: Producer) => {
    if (producer !== failed) return replacing;
    const fresh = create();
    producer = fresh;
    replacing = (async () => {
      await failed.disconnect().catch(() => {});
      await fresh.connect();
    })();
    // Awaited by the sends; one that nobody awaits must not fail the process.
    replacing.catch(() => {});
    return replacing;
  };
  const counts = new PartitionCounts(kafka);
  const send: SendBatch = async (batch) => {
    const waited = replacing;
    try {
      await waited;
    } catch (cause) {
      // The new producer did not connect (the seed broker it asked was down): it connects
      // again, once for all the sends waiting, and this send is retried after it.
      if (replacing === waited) {
        replacing = producer.connect();
        replacing.catch(() => {});
      }
      throw new TokaError(
        TokaErrorCode.ProduceFailed,
        "the new producer could not connect; connecting it again",
        { cause, retriable: true },
      );
    }
    const used = producer;
    try {
      return await used.sendBatch(batch);
    } catch (error) {
      const denied = kafkajsAuthorizationError(error, {
        operation: "Write",
        topic: batch.topicMessages?.map((t) => t.topic).join(", "),
      });
      if (denied) throw denied;
      if (!needsNewProducer(error)) throw error;
      void replace(used);
      throw new TokaError(
        TokaErrorCode.ProduceFailed,
        "the broker lost the producer's sequence numbers; sending again with a new producer",
        { cause: error, retriable: true },
      );
    }
  };
  return {
    async connect() {
      await checkAccess();
      // An idempotent producer asks for its producer ID here (InitProducerId), which
      // needs Write on some topic or IdempotentWrite on the cluster.
      await producer.connect().catch((error: unknown) => {
        throw kafkajsAuthorizationError(error, { operation: "IdempotentWrite" }) ?? error;
      });
    },
    async disconnect() {
      await counts.close();
      await replacing?.catch(() => {});
      await producer.disconnect();
    },
    async send(records, sendOptions = {}) {
      const { signal } = sendOptions;
      const partitions = await withDeliveryTimeout(() => byPartition(records, counts), signal);
      return Promise.all(
        partitions.map((p) =>
          sendPartition(send, p, (attempt) => withDeliveryTimeout(attempt, signal)),
        ),
      );
    },
    sendInTransaction: () =>
      Promise.reject(
        new TokaError(
          TokaErrorCode.InvalidState,
          "this producer has no transactionalId; create it with one to send in transactions",
        ),
      ),
  };
}

/**
 * The headers of records without any, shared: most records have none, and an object per
 * record would live as long as its batch (tens of thousands of them per fetch). Without
 * a prototype, so that looking up a name it lacks (`constructor`) finds nothing.
 */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/**
 * A record's headers as text, each name with its first value. kafkajs decodes headers by
 * reducing them into a plain object, which turns a repeated name into an array of its
 * values, and a name Object.prototype has (`constructor`, `toString`, `__proto__`) into
 * an array that starts with the inherited member: only Buffers (and null, an empty
 * value) are the record's own values. The result has no prototype, so every name,
 * `__proto__` too, is an ordinary own property.
 */
export function headersOf(headers: IHeaders | undefined): Readonly<Record<string, string>> {
  if (!headers) return NO_HEADERS;
  let out: Record<string, string> | undefined;
  for (const name of Object.keys(headers)) {
    const text = firstValue(headers[name]);
    if (text === undefined) continue;
    out ??= Object.create(null) as Record<string, string>;
    out[name] = text;
  }
  return out ?? NO_HEADERS;
}

function firstValue(value: unknown): string | undefined {
  for (const v of Array.isArray(value) ? value : [value]) {
    if (Buffer.isBuffer(v)) return v.toString();
    if (typeof v === "string") return v;
    if (v === null) return "";
  }
  return undefined;
}

export function kafkajsConsumer(
  kafka: Kafka,
  options: ConsumerOptions,
  checkAccess: () => Promise<void>,
  direct?: DirectAccess,
  /** Closes what kafkajs may still hold open once it disconnected (see join-gate.ts). */
  closeConnections: () => void = () => {},
): ClientConsumer {
  // What this member owns, reported to the sticky assigner at the next rebalance.
  let ownedPartitions: number[] = [];
  let subscribed: readonly string[] = [];
  // A missing ACL (Read on the group for JoinGroup, Read on a topic for Fetch) does not
  // go away by restarting: it stops the consumer, named as toka names it.
  const denied = (error: unknown) =>
    kafkajsAuthorizationError(error, {
      operation: "Read",
      group: options.groupId,
      topic: subscribed.length > 0 ? subscribed.join(", ") : undefined,
    });
  // kafkajs turns GROUP_AUTHORIZATION_FAILED from FindCoordinator into "Failed to find
  // group coordinator", without the code: toka's own FindCoordinator tells.
  const diagnosed = async (error: unknown): Promise<unknown> => {
    if ((error as Error | undefined)?.name === "KafkaJSGroupCoordinatorNotFound" && direct) {
      const check = await direct.checkGroupDescribable(options.groupId).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      if (tokaErrorCode(check) === TokaErrorCode.AuthorizationFailed) return check;
    }
    return denied(error) ?? error;
  };
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: !options.readCommitted,
    maxBytesPerPartition: options.maxBytesPerPartition,
    sessionTimeout: options.sessionTimeoutMs,
    // kafkajs waits up to this long per fetch even when a paused/resumed or idle
    // partition holds data back (kafkajs issues #1365, #1258); Java's default is 500 ms.
    maxWaitTimeInMs: options.fetchMaxWaitMs ?? 500,
    heartbeatInterval: heartbeatIntervalMs(options.sessionTimeoutMs),
    rebalanceTimeout: Math.max(60_000, options.sessionTimeoutMs * 2),
    ...(options.copartitioned
      ? {
          partitionAssigners: [
            copartitionedAssigner(
              () => ownedPartitions,
              options.queryAddress,
              options.storedPartitions,
              options.standbyReplicas,
            ),
          ],
        }
      : {}),
    retry: {
      // A handler error (a toka error) stops the consumer; kafkajs's own failures
      // (lost connection, coordinator moved) restart it, unless toka is disconnecting it.
      restartOnFailure: async (error) =>
        !disconnecting && !isTokaError(error) && denied(error) === undefined,
    },
  });
  let handlers: ConsumerHandlers | undefined;
  // Set between a crash kafkajs restarts from and the join of the restarted consumer.
  let restarting = false;
  // From the stop of a run (a crash kafkajs restarts from, or a disconnect) until the
  // next join: kafkajs has no group then and throws on pause, resume and seek. Those
  // are skipped: the join's assignment makes the processor set its partitions up again.
  let betweenRuns = false;
  let confirmedAt: number | undefined;
  // The partitions of the last join, as "topic/partition"; none from the start of a
  // rebalance (or a stop) until the next join.
  let assigned = new Set<string>();
  // Owners are unknown from the start of a rebalance until the new assignment's are read.
  // Only a member that advertises a query address (it takes part in queries) or keeps
  // standbys reads the assignment's user data.
  const readsOwners = options.copartitioned && options.queryAddress !== undefined;
  const readsStandby = options.copartitioned && (options.standbyReplicas ?? 0) > 0;
  let joins = 0;
  // The read of the owners after the last join; disconnect waits for it, since a read
  // in flight would connect to the coordinator again after the consumer disconnected
  // (a socket left open keeps the process alive).
  let ownersRead: Promise<void> = Promise.resolve();
  let disconnecting = false;
  const forgetOwners = () => {
    joins++;
    handlers?.onOwners?.(undefined);
  };
  consumer.on(consumer.events.STOP, () => {
    betweenRuns = true;
    confirmedAt = undefined;
    assigned = new Set();
    if (options.copartitioned) forgetOwners();
  });
  consumer.on(consumer.events.REBALANCING, () => {
    // A rejoin starts: the partitions may go to other members before the next join.
    confirmedAt = undefined;
    assigned = new Set();
    if (options.copartitioned) forgetOwners();
  });
  // Emitted by kafkajs only for a heartbeat the coordinator accepted.
  consumer.on(consumer.events.HEARTBEAT, () => {
    if (!betweenRuns) confirmedAt = Date.now();
  });
  const whileRunning = (change: () => void) => {
    if (!betweenRuns) change();
  };
  // Commits in flight, each with the partitions kafkajs reported committed meanwhile.
  // kafkajs drops a commit silently while its runner is stopped (a restart after a crash,
  // the join before fetching resumes): only its commit event tells a sent commit apart.
  const inFlightCommits = new Set<{ readonly waiting: Set<string> }>();
  consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
    for (const { topic, partitions } of payload.topics) {
      for (const { partition } of partitions) {
        for (const commit of inFlightCommits) commit.waiting.delete(`${topic}/${partition}`);
      }
    }
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (disconnecting) {
      // Nothing is set up for a join that completes while toka disconnects. One that
      // was under way when kafkajs had already stopped (its restart after a crash was
      // joining) belongs to a runner nobody can stop any more: it would fetch and
      // heartbeat for ever. Failing its join makes kafkajs crash it, without a restart.
      if (betweenRuns)
        throw new TokaError(
          TokaErrorCode.InvalidState,
          "the consumer was disconnected while this join was under way; it does not run",
          { group: options.groupId },
        );
      return;
    }
    const assignment: TopicPartition[] = [];
    for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
      for (const partition of partitions) assignment.push({ topic, partition });
    }
    ownedPartitions = [...new Set(assignment.map((tp) => tp.partition))];
    assigned = new Set(assignment.map((tp) => `${tp.topic}/${tp.partition}`));
    betweenRuns = false;
    confirmedAt = Date.now();
    handlers?.onAssignment(assignment);
    if ((readsOwners || readsStandby) && !disconnecting) {
      forgetOwners();
      const join = joins;
      const current = () => join === joins && !disconnecting;
      ownersRead = readAssignmentData(consumer, payload.memberId, current).then((data) => {
        if (!current() || !data) return;
        if (readsOwners) handlers?.onOwners?.(data.owners);
        if (readsStandby) handlers?.onStandby?.(data.standby);
      });
    }
    if (restarting) {
      restarting = false;
      handlers?.onReconnected?.();
    }
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    handlers?.onBatchDone?.(
      { topic: payload.topic, partition: payload.partition },
      payload.lastOffset,
      payload.highWatermark,
    );
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (disconnecting) {
      // The timer of a restart kafkajs decided before toka began to disconnect is set
      // after this event: a disconnect that ran just before could not clear it. Stopping
      // once more, after the timer is set, clears it.
      if (payload.restart) setImmediate(() => void consumer.disconnect().catch(() => {}));
      return;
    }
    if (!payload.restart) {
      void diagnosed(payload.error).then((error) => handlers?.onCrash(error));
      return;
    }
    // kafkajs disconnected the consumer and starts it again after a retry delay.
    restarting = true;
    handlers?.onReconnecting?.(payload.error);
  });
  // The coordinator fences a commit by generation only: it takes any partition from any
  // member of the current generation. A commit of a partition this member no longer
  // owns (a flush that outlived the rebalance, a retry of a commit that failed during
  // it) would move the new owner's start past records whose table writes its restore
  // did not see. So a commit goes out only for partitions of the last join, while the
  // group confirmed the member within half a session (it cannot have expired it since).
  const refuseUnownedCommit = (offsets: readonly TopicPartitionOffset[]) => {
    const unowned = offsets.filter((o) => !assigned.has(`${o.topic}/${o.partition}`));
    let refused: string | undefined;
    if (confirmedAt === undefined) refused = "the group is rebalancing";
    else if (unowned.length > 0)
      refused = `this member does not own ${unowned.map((o) => `${o.topic}/${o.partition}`).join(", ")} since the last rebalance`;
    else if (Date.now() - confirmedAt >= options.sessionTimeoutMs / 2)
      refused = "the group has not confirmed this member for half a session";
    if (refused === undefined) return;
    throw new TokaError(TokaErrorCode.KafkaFailed, `offset commit not sent: ${refused}`, {
      group: options.groupId,
      retriable: true,
    });
  };
  return {
    async connect() {
      await checkAccess();
      await consumer.connect();
    },
    async disconnect() {
      disconnecting = true;
      await ownersRead;
      await consumer.disconnect();
      closeConnections();
    },
    subscribe: (topics) => {
      subscribed = [...topics];
      return consumer.subscribe({ topics: [...topics], fromBeginning: options.fromBeginning });
    },
    async run(h) {
      handlers = h;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.concurrency,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          const records = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: headersOf(m.headers),
            timestamp: Number(m.timestamp),
          }));
          const handled = await h.onBatch({
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: batch.highWatermark,
            // kafkajs sends one only when the heartbeat interval has passed. A rebalance
            // it reports is noticed by kafkajs again after the batch, which then rejoins;
            // other failures (a coordinator moving) are left to its next heartbeat.
            heartbeat: () =>
              heartbeat().then(
                () => true,
                (error: { type?: string }) => !MEMBERSHIP_LOST.has(error.type ?? ""),
              ),
          });
          const last = batch.messages.at(-1);
          if (handled && last) resolveOffset(last.offset);
        },
      });
    },
    memberConfirmedAt: () => confirmedAt,
    pause: (partitions) => whileRunning(() => consumer.pause(groupPartitions(partitions))),
    resume: (partitions) => whileRunning(() => consumer.resume(groupPartitions(partitions))),
    seek: ({ topic, partition, offset }) =>
      whileRunning(() => consumer.seek({ topic, partition, offset })),
    async commit(offsets: readonly TopicPartitionOffset[]) {
      refuseUnownedCommit(offsets);
      const commit = { waiting: new Set(offsets.map((o) => `${o.topic}/${o.partition}`)) };
      inFlightCommits.add(commit);
      try {
        await consumer.commitOffsets(
          offsets.map((o) => ({
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            metadata: o.metadata ?? null,
          })),
        );
      } finally {
        inFlightCommits.delete(commit);
      }
      if (commit.waiting.size > 0) {
        throw new TokaError(
          TokaErrorCode.KafkaFailed,
          "kafkajs did not send the offset commit: its consumer is (re)joining the group; retry",
          { group: options.groupId, retriable: true },
        );
      }
    },
  };
}

function groupPartitions(partitions: readonly TopicPartition[]) {
  return [...groupByTopic(partitions)].map(([topic, list]) => ({
    topic,
    partitions: list.map((tp) => tp.partition),
  }));
}
