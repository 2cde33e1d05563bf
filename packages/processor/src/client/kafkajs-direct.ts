import type { KafkaConfig } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import { ClusterMetadata, parseBrokers } from "./cluster-metadata.js";
import { commitGroupOffsets } from "./group-offsets.js";
import type {
  ClientProducer,
  LogBatch,
  LogReadRequest,
  TopicPartitionOffset,
} from "./kafka-client.js";
import { LogReader } from "./log-reader.js";
import { LogWriter } from "./log-writer.js";
import { awaitTopicLeaders } from "./topic-readiness.js";

/** kafkajs's own default is 1 s, which a loaded broker can miss. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What a kafkajs client does over toka's own broker connections. */
export interface DirectAccess {
  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void>;
  /** A non-idempotent producer over toka's own connections (see {@link LogWriter}). */
  producer(): ClientProducer;
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Resolves once every broker knows a leader of every partition of the topics. */
  awaitLeaders(topics: readonly string[]): Promise<void>;
}

/**
 * Reads logs, writes non-idempotently, commits group offsets and checks topic readiness
 * over toka's own connections (with the client's TLS settings), with metadata from any
 * bootstrap broker that answers ({@link ClusterMetadata}): faster than kafkajs for these
 * (see {@link LogReader}, `commitGroupOffsets`). `undefined` when the client
 * authenticates with SASL or brings its own sockets, which only kafkajs speaks.
 */
export function kafkajsDirect(
  brokers: readonly string[],
  clientId: string,
  config: Omit<KafkaConfig, "brokers"> | undefined,
): DirectAccess | undefined {
  if (config?.sasl || config?.socketFactory) return undefined;
  const metadata = new ClusterMetadata(parseBrokers(brokers), {
    ssl: config?.ssl,
    clientId,
    connectTimeoutMs: config?.connectionTimeout ?? CONNECT_TIMEOUT_MS,
  });
  const lookupLeaders = metadata.leaders;
  const reader = new LogReader(lookupLeaders);
  return {
    readLog: (request, onBatch) => reader.read(request, onBatch),
    producer() {
      const writer = new LogWriter(lookupLeaders);
      return {
        connect: async () => {},
        disconnect: async () => writer.close(),
        send: (records, options) => writer.send(records, options),
        sendInTransaction: () =>
          Promise.reject(
            new TokaError(
              TokaErrorCode.InvalidState,
              "a producer made with idempotent: false has no transactions",
            ),
          ),
      };
    },
    commitOffsets: (groupId, offsets) => commitGroupOffsets(metadata, groupId, offsets),
    awaitLeaders: (topics) =>
      awaitTopicLeaders(
        metadata,
        topics.map((topic) => ({ topic })),
      ),
  };
}
