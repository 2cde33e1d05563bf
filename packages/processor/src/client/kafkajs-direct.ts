import type { Admin, Kafka, KafkaConfig } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { BrokerAddress, LeaderLookup } from "./broker-connection.js";
import { commitGroupOffsets } from "./group-offsets.js";
import type {
  ClientProducer,
  LogBatch,
  LogReadRequest,
  TopicPartitionOffset,
} from "./kafka-client.js";
import { LogReader } from "./log-reader.js";
import { LogWriter } from "./log-writer.js";

/** kafkajs's own default is 1 s, which a loaded broker can miss. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What a kafkajs client does over toka's own broker connections. */
export interface DirectAccess {
  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void>;
  /** A non-idempotent producer over toka's own connections (see {@link LogWriter}). */
  producer(): ClientProducer;
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
}

/**
 * Reads logs, writes non-idempotently and commits group offsets over toka's own connections (with the client's
 * TLS settings), using kafkajs's admin for metadata: faster than kafkajs for these two
 * (see {@link LogReader}, `commitGroupOffsets`). `undefined` when the client
 * authenticates with SASL or brings its own sockets, which only kafkajs speaks.
 */
export function kafkajsDirect(
  kafka: Kafka,
  clientId: string,
  config: Omit<KafkaConfig, "brokers"> | undefined,
): DirectAccess | undefined {
  if (config?.sasl || config?.socketFactory) return undefined;
  const address = (broker: { host: string; port: number }): BrokerAddress => ({
    host: broker.host,
    port: broker.port,
    ssl: config?.ssl,
    clientId,
    connectTimeoutMs: config?.connectionTimeout ?? CONNECT_TIMEOUT_MS,
  });
  const withAdmin = async <T>(use: (admin: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await use(admin);
    } finally {
      await admin.disconnect();
    }
  };
  const lookupLeaders: LeaderLookup = (topic) =>
    withAdmin(async (admin) => {
      const [metadata, cluster] = await Promise.all([
        admin.fetchTopicMetadata({ topics: [topic] }),
        admin.describeCluster(),
      ]);
      const brokers = new Map(cluster.brokers.map((b) => [b.nodeId, b]));
      const partitions = metadata.topics[0]?.partitions ?? [];
      const leaders = new Map<number, BrokerAddress>();
      for (const p of partitions) {
        const broker = brokers.get(p.leader);
        // No leader right now: callers retry with fresh metadata.
        if (broker) leaders.set(p.partitionId, address(broker));
      }
      return { partitions: partitions.length, leaders };
    });
  const reader = new LogReader(lookupLeaders);
  return {
    readLog: (request, onBatch) => reader.read(request, onBatch),
    producer() {
      const writer = new LogWriter(lookupLeaders);
      return {
        connect: async () => {},
        disconnect: async () => writer.close(),
        send: (records) => writer.send(records),
        sendInTransaction: () =>
          Promise.reject(
            new TokaError(
              TokaErrorCode.InvalidState,
              "a producer made with idempotent: false has no transactions",
            ),
          ),
      };
    },
    async commitOffsets(groupId, offsets) {
      const { brokers } = await withAdmin((admin) => admin.describeCluster());
      const bootstrap = brokers[0];
      if (!bootstrap) throw new Error("the cluster answered with no brokers");
      await commitGroupOffsets(address(bootstrap), groupId, offsets);
    },
  };
}
