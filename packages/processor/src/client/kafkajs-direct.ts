import type { Admin, Kafka, KafkaConfig } from "kafkajs";
import type { BrokerAddress } from "./broker-connection.js";
import { commitGroupOffsets } from "./group-offsets.js";
import type { LogBatch, LogReadRequest, TopicPartitionOffset } from "./kafka-client.js";
import { LogReader } from "./log-reader.js";

/** kafkajs's own default is 1 s, which a loaded broker can miss. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What a kafkajs client does over toka's own broker connections. */
export interface DirectAccess {
  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void>;
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
}

/**
 * Reads logs and commits group offsets over toka's own connections (with the client's
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
  const reader = new LogReader({
    leaders: (topic) =>
      withAdmin(async (admin) => {
        const [metadata, cluster] = await Promise.all([
          admin.fetchTopicMetadata({ topics: [topic] }),
          admin.describeCluster(),
        ]);
        const brokers = new Map(cluster.brokers.map((b) => [b.nodeId, b]));
        const leaders = new Map<number, BrokerAddress>();
        for (const p of metadata.topics[0]?.partitions ?? []) {
          const broker = brokers.get(p.leader);
          // No leader right now: the reader retries with fresh metadata.
          if (broker) leaders.set(p.partitionId, address(broker));
        }
        return leaders;
      }),
  });
  return {
    readLog: (request, onBatch) => reader.read(request, onBatch),
    async commitOffsets(groupId, offsets) {
      const { brokers } = await withAdmin((admin) => admin.describeCluster());
      const bootstrap = brokers[0];
      if (!bootstrap) throw new Error("the cluster answered with no brokers");
      await commitGroupOffsets(address(bootstrap), groupId, offsets);
    },
  };
}
