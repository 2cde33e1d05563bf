import type { KafkaConfig } from "kafkajs";
import type { SecurityOptions } from "../connection-security.js";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { LeaderLookup } from "./broker-connection.js";
import { ClusterMetadata, parseBrokers } from "./cluster-metadata.js";
import { checkGroupDescribable, commitGroupOffsets } from "./group-offsets.js";
import type {
  ClientProducer,
  LogBatch,
  LogReadRequest,
  TopicPartitionOffset,
} from "./kafka-client.js";
import { LogReader } from "./log-reader.js";
import { LogWriter } from "./log-writer.js";
import { authorizationError } from "./security-errors.js";
import { awaitTopicLeaders } from "./topic-readiness.js";

/** kafkajs's own default is 1 s, which a loaded broker can miss. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What a kafkajs client does over toka's own broker connections. */
export interface DirectAccess {
  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void>;
  /** Where a topic's partitions are led, from fresh metadata. */
  readonly leaders: LeaderLookup;
  /** A non-idempotent producer over toka's own connections (see {@link LogWriter}). */
  producer(): ClientProducer;
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Resolves once every broker knows a leader of every partition of the topics. */
  awaitLeaders(topics: readonly string[]): Promise<void>;
  /**
   * Resolves once a bootstrap broker accepted a connection with the client's TLS and SASL
   * settings (checked once, again after a failure).
   * @throws TokaError `TOKA_TLS_FAILED` or `TOKA_AUTHENTICATION_FAILED` with what to fix.
   */
  checkAccess(): Promise<void>;
  /**
   * Asks for the metadata of topics a listing did not show: a broker leaves topics the
   * principal may not describe out of its listing, so they look missing.
   * @throws TokaError `TOKA_AUTHORIZATION_FAILED` naming the first topic the principal may
   * not describe.
   */
  checkDescribable(topics: readonly string[]): Promise<void>;
  /**
   * Asks for the group's coordinator.
   * @throws TokaError `TOKA_AUTHORIZATION_FAILED` when the principal may not describe the group.
   */
  checkGroupDescribable(groupId: string): Promise<void>;
}

/**
 * Reads logs, writes non-idempotently, commits group offsets and checks topic readiness
 * over toka's own connections (with the client's TLS and SASL settings), with metadata
 * from any bootstrap broker that answers ({@link ClusterMetadata}): faster than kafkajs
 * for these (see {@link LogReader}, `commitGroupOffsets`). `undefined` when the client
 * brings its own sockets (kafkajs's `socketFactory`), which only kafkajs uses.
 */
export function kafkajsDirect(
  brokers: readonly string[],
  clientId: string,
  security: SecurityOptions,
  config: Omit<KafkaConfig, "brokers" | "ssl" | "sasl"> | undefined,
): DirectAccess | undefined {
  if (config?.socketFactory) return undefined;
  const metadata = new ClusterMetadata(parseBrokers(brokers), {
    ssl: security.ssl,
    sasl: security.sasl,
    clientId,
    connectTimeoutMs: config?.connectionTimeout ?? CONNECT_TIMEOUT_MS,
  });
  let accessChecked: Promise<void> | undefined;
  const lookupLeaders = metadata.leaders;
  const reader = new LogReader(lookupLeaders);
  return {
    readLog: (request, onBatch) => reader.read(request, onBatch),
    leaders: lookupLeaders,
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
    checkAccess() {
      accessChecked ??= metadata.fetch([]).then(
        () => {},
        (error: unknown) => {
          accessChecked = undefined;
          throw error;
        },
      );
      return accessChecked;
    },
    async checkDescribable(topics) {
      if (topics.length === 0) return;
      const response = await metadata.fetch(topics);
      for (const t of response.topics) {
        const denied = authorizationError(t.errorCode, { operation: "Describe", topic: t.topic });
        if (denied) throw denied;
      }
    },
    checkGroupDescribable: (groupId) => checkGroupDescribable(metadata, groupId),
    awaitLeaders: (topics) =>
      awaitTopicLeaders(
        metadata,
        topics.map((topic) => ({ topic })),
      ),
  };
}
