import { TokaError, TokaErrorCode } from "../errors.js";
import type { BrokerAddress, TopicLeaders } from "./broker-connection.js";
import { BrokerConnections } from "./broker-connections.js";
import {
  describeKafkaError,
  isKafkaErrorKind,
  KafkaErrorKind,
  kafkaErrorCode,
} from "./kafka-error-codes.js";
import {
  decodeMetadataResponse,
  encodeMetadataRequest,
  METADATA_API_KEY,
  METADATA_VERSION,
  type MetadataResponse,
} from "./metadata-request.js";
import { authorizationError, isSecurityError } from "./security-errors.js";

/** How toka's connections reach any broker: everything of a {@link BrokerAddress} but where. */
export type ConnectionSettings = Omit<BrokerAddress, "host" | "port">;

/**
 * How long one broker may take to answer a metadata request before the next one is
 * asked: metadata is small and served from memory, so a slow answer means a sick broker.
 */
const METADATA_TIMEOUT_MS = 10_000;

/**
 * Asks the cluster what it looks like, over toka's own connections. A request goes to
 * the broker that answered last; when that one fails, to each bootstrap broker in
 * turn, then to the brokers the last answer named, so one dead broker (the first
 * bootstrap broker included) never stops it.
 */
export class ClusterMetadata {
  private readonly bootstrap: readonly BrokerAddress[];
  private known: readonly BrokerAddress[] = [];
  private lastAnswered: BrokerAddress | undefined;
  private readonly connections = new BrokerConnections();

  constructor(
    bootstrap: readonly { host: string; port: number }[],
    private readonly settings: ConnectionSettings,
  ) {
    this.bootstrap = bootstrap.map((b) => this.address(b.host, b.port));
  }

  /** Where to reach a broker, with this cluster's connection settings. */
  address(host: string, port: number): BrokerAddress {
    return { ...this.settings, host, port };
  }

  /**
   * Sends one request to the first broker that answers it (see the class).
   * @throws TokaError `TOKA_KAFKA_FAILED` (retriable) naming every broker tried and why
   * it failed, the last failure as its `cause`.
   */
  async requestAny(
    apiKey: number,
    apiVersion: number,
    body: Buffer,
  ): Promise<{ answer: Buffer; from: BrokerAddress }> {
    const failures: string[] = [];
    let lastError: unknown;
    for (const address of this.candidates()) {
      try {
        const answer = await this.request(address, apiKey, apiVersion, body);
        this.lastAnswered = address;
        return { answer, from: address };
      } catch (error) {
        // Another broker of the same cluster would refuse the same credentials or certificate.
        if (isSecurityError(error)) throw error;
        lastError = error;
        failures.push(`${address.host}:${address.port} (${(error as Error).message})`);
      }
    }
    throw new TokaError(
      TokaErrorCode.KafkaFailed,
      `no broker answered: tried ${failures.join(", ")}; check that the brokers are running and reachable`,
      { cause: lastError, retriable: true },
    );
  }

  /** Metadata of `topics` (none: only the brokers) from any broker that answers. */
  async fetch(topics: readonly string[]): Promise<MetadataResponse> {
    const { answer } = await this.requestAny(
      METADATA_API_KEY,
      METADATA_VERSION,
      encodeMetadataRequest(topics),
    );
    const response = decodeMetadataResponse(answer);
    this.known = response.brokers.map((b) => this.address(b.host, b.port));
    return response;
  }

  /** Metadata of `topics` as one broker sees it; rejects when that broker does not answer. */
  async fetchFrom(address: BrokerAddress, topics: readonly string[]): Promise<MetadataResponse> {
    const answer = await this.request(
      address,
      METADATA_API_KEY,
      METADATA_VERSION,
      encodeMetadataRequest(topics),
    );
    return decodeMetadataResponse(answer);
  }

  /**
   * One small request to one broker, on this cluster's open connection to it; rejects
   * when the broker does not answer within `timeoutMs`.
   */
  request(
    address: BrokerAddress,
    apiKey: number,
    apiVersion: number,
    body: Buffer,
    timeoutMs = METADATA_TIMEOUT_MS,
  ): Promise<Buffer> {
    return this.connections.request(address, apiKey, apiVersion, body, timeoutMs);
  }

  /** Closes the open connections; later requests open new ones. */
  close(): void {
    this.connections.close();
  }

  /** The brokers of the cluster by node ID, from any broker that answers. */
  async brokers(): Promise<Map<number, BrokerAddress>> {
    const { brokers } = await this.fetch([]);
    return new Map(brokers.map((b) => [b.nodeId, this.address(b.host, b.port)]));
  }

  /**
   * Where a topic's partitions are led (a `LeaderLookup`). Partitions without a leader,
   * or led by a broker the answer does not list, are absent: callers retry.
   * @throws TokaError `TOKA_KAFKA_FAILED`, retriable while the topic is unknown or leaderless.
   */
  readonly leaders = async (topic: string): Promise<TopicLeaders> => {
    const response = await this.fetch([topic]);
    const metadata = response.topics.find((t) => t.topic === topic);
    if (metadata?.errorCode !== 0) {
      const code = metadata?.errorCode ?? kafkaErrorCode("UNKNOWN_TOPIC_OR_PARTITION");
      const denied = authorizationError(code, { operation: "Describe", topic });
      if (denied) throw denied;
      throw new TokaError(
        TokaErrorCode.KafkaFailed,
        `the brokers' metadata of the topic has ${describeKafkaError(code)}${code === kafkaErrorCode("UNKNOWN_TOPIC_OR_PARTITION") ? ": the topic does not exist, or was created a moment ago" : ""}`,
        // The topic's metadata has not reached the broker yet, or no leader yet: passes.
        { topic, retriable: isKafkaErrorKind(code, KafkaErrorKind.LeaderMoved) },
      );
    }
    const addresses = new Map(response.brokers.map((b) => [b.nodeId, b]));
    const leaders = new Map<number, BrokerAddress>();
    for (const p of metadata.partitions) {
      const broker = addresses.get(p.leader);
      if (broker) leaders.set(p.partition, this.address(broker.host, broker.port));
    }
    return { partitions: metadata.partitions.length, leaders };
  };

  /** The broker that answered last, the bootstrap brokers, then the brokers seen: each once. */
  private candidates(): BrokerAddress[] {
    const seen = new Set<string>();
    const out: BrokerAddress[] = [];
    for (const address of [
      ...(this.lastAnswered ? [this.lastAnswered] : []),
      ...this.bootstrap,
      ...this.known,
    ]) {
      const key = `${address.host}:${address.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(address);
    }
    return out;
  }
}

/**
 * Parses `host:port` bootstrap brokers (the last colon separates the port, so a bare
 * IPv6 address works).
 * @throws TokaError `TOKA_INVALID_CONFIG` for an entry without a port.
 */
export function parseBrokers(brokers: readonly string[]): { host: string; port: number }[] {
  return brokers.map((broker) => {
    const colon = broker.lastIndexOf(":");
    const port = Number(broker.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `broker "${broker}" is not "host:port"; give e.g. "127.0.0.1:9092"`,
      );
    }
    return { host: broker.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
  });
}
