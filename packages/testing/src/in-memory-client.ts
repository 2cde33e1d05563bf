import { TokaError, TokaErrorCode } from "@toka/processor";
import type {
  ClientAdmin,
  ClientConsumer,
  ClientProducer,
  ConsumerHandlers,
  ConsumerOptions,
  GroupDescription,
  KafkaClient,
  OutgoingRecord,
  PartitionWatermarks,
  ProducedBatch,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
  TransactionOffsets,
} from "@toka/processor/kafka";
import { readLogWithConsumer } from "@toka/processor/kafka";
import {
  fromTpKey,
  type GroupMember,
  type InMemoryBroker,
  topicConfig,
  tpKey,
} from "./in-memory-broker.js";

/**
 * The client boundary of `@toka/processor` on the in-memory broker: what a Processor,
 * View or Emitter built with `{ client }` talks to instead of kafkajs. Every call takes
 * effect at once; consumers receive batches only from the tester's delivery loop.
 */
export function inMemoryClient(broker: InMemoryBroker): KafkaClient {
  return {
    admin: () => inMemoryAdmin(broker),
    producer: (options) => new InMemoryProducer(broker, options?.transactionalId),
    consumer: (options) => new InMemoryConsumer(broker, options),
    readLog: (request, onBatch) =>
      readLogWithConsumer((options) => new InMemoryConsumer(broker, options), request, onBatch),
  };
}

function inMemoryAdmin(broker: InMemoryBroker): ClientAdmin {
  // Reads count as changes too: a processor that reads watermarks is making progress.
  const read = <T>(value: () => T): Promise<T> => {
    try {
      const result = value();
      broker.touch();
      return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    connect: async () => {},
    disconnect: async () => {},
    partitionCounts: (topics) =>
      read(() => {
        const counts = new Map<string, number>();
        for (const topic of topics) {
          const log = broker.topics.get(topic);
          if (log) counts.set(topic, log.partitions.length);
        }
        return counts;
      }),
    createTopics: (specs: readonly TopicSpec[]) =>
      read(() => {
        for (const spec of specs)
          broker.createTopic(spec.topic, spec.partitions, spec.compacted, spec.config);
      }),
    topicConfigs: (topics, names) =>
      read(() => {
        const configs = new Map<string, Map<string, string>>();
        for (const topic of topics) {
          const log = broker.topics.get(topic);
          if (!log) continue;
          const values = new Map<string, string>();
          for (const name of names) {
            const value = topicConfig(log, name);
            if (value !== undefined) values.set(name, value);
          }
          configs.set(topic, values);
        }
        return configs;
      }),
    watermarks: (topic) =>
      read((): PartitionWatermarks[] =>
        broker.topic(topic).partitions.map((list, partition) => ({
          partition,
          low: "0",
          high: String(list.length),
        })),
      ),
    committedOffsets: (groupId, topic) =>
      read(() => {
        const offsets = new Map<number, string>();
        const committed = broker.group(groupId).committed;
        const log = broker.topics.get(topic);
        log?.partitions.forEach((_, partition) => {
          const offset = committed.get(tpKey(topic, partition));
          if (offset !== undefined) offsets.set(partition, String(offset));
        });
        return offsets;
      }),
    committedMetadata: (groupId, topic) =>
      read(() => {
        const metadata = new Map<number, string>();
        const group = broker.group(groupId);
        broker.topics.get(topic)?.partitions.forEach((_, partition) => {
          const value = group.committedMetadata.get(tpKey(topic, partition));
          if (value !== undefined) metadata.set(partition, value);
        });
        return metadata;
      }),
    offsetsForTime: (topic, timestamp) =>
      read(() => {
        const offsets = new Map<number, string>();
        broker.topic(topic).partitions.forEach((list, partition) => {
          const first = list.find((r) => !r.control && r.timestamp >= timestamp);
          offsets.set(partition, String(first ? first.offset : list.length));
        });
        return offsets;
      }),
    commitOffsets: (groupId, offsets) => read(() => broker.commit(groupId, offsets)),
    listTopics: () => read(() => [...broker.topics.keys()]),
    listGroups: () => read(() => [...broker.groups.keys()]),
    describeGroup: (groupId) =>
      read((): GroupDescription => {
        const group = broker.groups.get(groupId);
        if (!group) return { group: groupId, state: "Dead", members: [] };
        const running = group.members.filter((m) => m.state === "running");
        return {
          group: groupId,
          state:
            running.length === 0
              ? "Empty"
              : group.rebalancePending
                ? "PreparingRebalance"
                : "Stable",
          members: running.map((m) => {
            const assignment: Record<string, number[]> = {};
            for (const { topic, partition } of m.assignment) {
              assignment[topic] = [...(assignment[topic] ?? []), partition];
            }
            return { memberId: m.id, clientId: "tester", host: "in-memory", assignment };
          }),
        };
      }),
    groupOffsets: (groupId) =>
      read(() => {
        const offsets = new Map<string, Map<number, string>>();
        for (const [key, offset] of broker.groups.get(groupId)?.committed ?? []) {
          const { topic, partition } = fromTpKey(key);
          const committed = offsets.get(topic) ?? new Map<number, string>();
          offsets.set(topic, committed.set(partition, String(offset)));
        }
        return offsets;
      }),
  };
}

class InMemoryProducer implements ClientProducer {
  private connected = false;
  private epoch = 0;

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly transactionalId: string | undefined,
  ) {}

  async connect(): Promise<void> {
    if (this.connected) return;
    this.connected = true;
    if (this.transactionalId !== undefined)
      this.epoch = this.broker.bumpEpoch(this.transactionalId);
  }

  async disconnect(): Promise<void> {
    this.connected = false;
  }

  async send(records: readonly OutgoingRecord[]): Promise<ProducedBatch[]> {
    this.assertConnected();
    if (records.length === 0) return [];
    return this.broker.append(records, "plain").batches;
  }

  async sendInTransaction(
    records: readonly OutgoingRecord[],
    offsets: TransactionOffsets,
  ): Promise<ProducedBatch[]> {
    this.assertConnected();
    const id = this.transactionalId;
    if (id === undefined) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "sendInTransaction needs a producer created with a transactionalId",
      );
    }
    if (!this.broker.isCurrentEpoch(id, this.epoch)) {
      throw new TokaError(
        TokaErrorCode.KafkaFailed,
        `the producer with transactional id "${id}" was fenced: a newer producer with the same id connected`,
      );
    }
    const produced = records.length === 0 ? [] : this.broker.append(records, "committed").batches;
    if (offsets.offsets.length > 0) this.broker.commit(offsets.groupId, offsets.offsets);
    return produced;
  }

  private assertConnected() {
    if (!this.connected) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "the producer is not connected (connect() first; it may have been disconnected)",
      );
    }
  }
}

class InMemoryConsumer implements ClientConsumer {
  private readonly member: GroupMember;

  constructor(
    private readonly broker: InMemoryBroker,
    options: ConsumerOptions,
  ) {
    this.member = broker.newMember(options);
  }

  async connect(): Promise<void> {
    if (this.member.state === "created") this.member.state = "connected";
  }

  async disconnect(): Promise<void> {
    const member = this.member;
    if (member.state === "stopped") return;
    const wasRunning = member.state === "running";
    member.state = "stopped";
    // Like kafkajs: leaving waits for the batch in progress, unless it was given up on.
    await member.inFlight?.done;
    if (wasRunning) this.broker.leave(member);
  }

  async subscribe(topics: readonly string[]): Promise<void> {
    if (this.member.state === "running") {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "subscribe before run(): the consumer is already running",
        { group: this.member.groupId },
      );
    }
    for (const topic of topics) this.member.topics.add(topic);
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    const member = this.member;
    if (member.state !== "connected") {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `run() needs a connected consumer that is not running yet (it is ${member.state})`,
        { group: member.groupId },
      );
    }
    member.handlers = handlers;
    member.state = "running";
    const joined = member.joined();
    this.broker.join(member);
    await joined;
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.member.paused.add(tpKey(topic, partition));
    this.broker.touch();
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions)
      this.member.paused.delete(tpKey(topic, partition));
    this.broker.touch();
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    this.member.seeks.set(tpKey(topic, partition), Number(offset));
    this.broker.touch();
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // kafkajs ignores commits of a consumer that stopped running.
    if (this.member.state !== "running") return;
    this.broker.commit(this.member.groupId, offsets);
  }
}
