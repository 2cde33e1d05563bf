import { setTimeout as sleep } from "node:timers/promises";
import { TokaError, TokaErrorCode } from "../errors.js";
import { isRetriable } from "../retry.js";
import {
  type BrokerAddress,
  BrokerConnection,
  type LeaderLookup,
  type TopicLeaders,
} from "./broker-connection.js";
import { defaultPartition } from "./default-partitioner.js";
import { groupByTopic } from "./group-by-topic.js";
import type { OutgoingRecord, ProducedBatch } from "./kafka-client.js";
import {
  decodeProduceResponse,
  encodeProduceRequest,
  PRODUCE_API_KEY,
  PRODUCE_VERSION,
} from "./produce-request.js";
import { encodeRecordBatch } from "./record-batch-encoder.js";
import { recordSize } from "./record-size.js";

/** Bytes of records per batch: well under the broker's default `message.max.bytes` (1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;
/** How long the broker waits for the in-sync replicas. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long a batch is retried through leader moves and broker restarts. */
const DELIVERY_TIMEOUT_MS = 120_000;
const RETRY_BACKOFF_MS = 250;

/** Produce errors that pass: a leader moving, too few in-sync replicas for a moment. */
const RETRIABLE_ERRORS = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  7, // REQUEST_TIMED_OUT
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
]);

interface PendingBatch {
  readonly partition: number;
  readonly batch: Buffer;
  readonly count: number;
}

/**
 * Writes records straight to the partition leaders with Produce requests of encoded
 * record batches, for writers whose records are idempotent by content (a replay's new
 * table): it is not an idempotent producer, so a request retried after a lost answer
 * may be written twice. Per partition, batches are written in order, one request at a
 * time per leader; leaders are written in parallel.
 */
export class LogWriter {
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  /** Leaders per topic, looked up again only after a write failed. */
  private readonly routes = new Map<string, Promise<TopicLeaders>>();

  constructor(private readonly lookupLeaders: LeaderLookup) {}

  /**
   * Writes the records; resolves when every in-sync replica of every partition written
   * has acknowledged them, rejects when one partition could not be written.
   */
  async send(records: readonly OutgoingRecord[]): Promise<ProducedBatch[]> {
    const topics = await Promise.all(
      [...groupByTopic(records)].map(([topic, list]) => this.sendTopic(topic, list)),
    );
    return topics.flat();
  }

  close(): void {
    for (const connection of this.connections.values()) {
      void connection.then((c) => c.close()).catch(() => {});
    }
    this.connections.clear();
  }

  private async sendTopic(
    topic: string,
    records: readonly OutgoingRecord[],
  ): Promise<ProducedBatch[]> {
    const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
    let routing = await this.route(topic, deadline);
    const queues = batchesPerPartition(records, routing.partitions);
    const produced = new Map<number, { baseOffset: number; nextOffset: number }>();
    for (;;) {
      const byLeader = new Map<string, { address: BrokerAddress; partitions: number[] }>();
      for (const [partition, queue] of queues) {
        if (queue.length === 0) continue;
        const address = routing.leaders.get(partition);
        if (!address) continue; // no leader: retried below with fresh metadata
        const key = `${address.host}:${address.port}`;
        const group = byLeader.get(key) ?? { address, partitions: [] };
        byLeader.set(key, group);
        group.partitions.push(partition);
      }
      let lastError: unknown;
      await Promise.all(
        [...byLeader.values()].map((g) =>
          this.writeToLeader(topic, g.address, g.partitions, queues, produced).catch(
            (error: unknown) => {
              lastError = error;
            },
          ),
        ),
      );
      if ([...queues.values()].every((q) => q.length === 0)) break;
      if (lastError && !isRetriable(lastError)) throw lastError;
      if (Date.now() > deadline) {
        throw new TokaError(
          TokaErrorCode.ProduceFailed,
          `records were not written within ${DELIVERY_TIMEOUT_MS / 1000} s; check that the topic's partition leaders are reachable`,
          { topic, cause: lastError, retriable: true },
        );
      }
      await sleep(RETRY_BACKOFF_MS);
      this.routes.delete(topic);
      routing = await this.route(topic, deadline);
    }
    return [...produced].map(([partition, p]) => ({
      topic,
      partition,
      baseOffset: String(p.baseOffset),
      nextOffset: String(p.nextOffset),
    }));
  }

  /**
   * Writes the heads of the partitions' queues, one request at a time, until the queues
   * are empty or a partition fails; a retriable failure leaves its batch queued.
   */
  private async writeToLeader(
    topic: string,
    address: BrokerAddress,
    partitions: readonly number[],
    queues: Map<number, PendingBatch[]>,
    produced: Map<number, { baseOffset: number; nextOffset: number }>,
  ): Promise<void> {
    const connection = await this.connection(address);
    for (;;) {
      const heads = partitions.map((p) => queues.get(p)![0]).filter((b) => b !== undefined);
      if (heads.length === 0) return;
      let answer: Buffer;
      try {
        answer = await connection.request(
          PRODUCE_API_KEY,
          PRODUCE_VERSION,
          encodeProduceRequest(topic, heads, REQUEST_TIMEOUT_MS),
        );
      } catch (error) {
        this.connections.delete(`${address.host}:${address.port}`);
        throw error;
      }
      let failed: TokaError | undefined;
      for (const result of decodeProduceResponse(answer)) {
        const queue = queues.get(result.partition)!;
        const head = queue[0]!;
        if (result.errorCode === 0) {
          queue.shift();
          const before = produced.get(result.partition);
          produced.set(result.partition, {
            baseOffset: before?.baseOffset ?? result.baseOffset,
            nextOffset: result.baseOffset + head.count,
          });
          continue;
        }
        failed ??= new TokaError(
          TokaErrorCode.ProduceFailed,
          `the broker refused a batch of ${head.count} records with Kafka error code ${result.errorCode}`,
          { topic, partition: result.partition, retriable: RETRIABLE_ERRORS.has(result.errorCode) },
        );
      }
      if (failed) throw failed;
    }
  }

  /** The topic's leaders, from the cache or looked up until the deadline. */
  private async route(topic: string, deadline: number): Promise<TopicLeaders> {
    for (;;) {
      let route = this.routes.get(topic);
      if (!route) {
        route = this.lookupLeaders(topic);
        this.routes.set(topic, route);
      }
      let error: unknown;
      try {
        const found = await route;
        // A topic just created may not be known to the broker asked yet: records placed
        // by key need its partition count.
        if (found.partitions > 0) return found;
        error = new TokaError(
          TokaErrorCode.ProduceFailed,
          "the topic's partitions are not known yet",
          {
            topic,
            retriable: true,
          },
        );
      } catch (cause) {
        error = cause;
      }
      this.routes.delete(topic);
      // A broker of the bootstrap list may be the one that is down.
      if (!isRetriable(error) || Date.now() > deadline) throw error;
      await sleep(RETRY_BACKOFF_MS);
    }
  }

  private connection(address: BrokerAddress): Promise<BrokerConnection> {
    const key = `${address.host}:${address.port}`;
    let connection = this.connections.get(key);
    if (!connection) {
      connection = BrokerConnection.open(address);
      connection.catch(() => this.connections.delete(key));
      this.connections.set(key, connection);
    }
    return connection;
  }
}

/** Each partition's records as encoded batches of at most MAX_BATCH_BYTES, in order. */
function batchesPerPartition(
  records: readonly OutgoingRecord[],
  partitions: number,
): Map<number, PendingBatch[]> {
  const byPartition = new Map<number, OutgoingRecord[]>();
  for (const record of records) {
    const partition =
      record.partition ?? defaultPartition(record.key ?? "", Math.max(1, partitions));
    const list = byPartition.get(partition) ?? [];
    byPartition.set(partition, list);
    list.push(record);
  }
  const timestamp = Date.now();
  const queues = new Map<number, PendingBatch[]>();
  for (const [partition, list] of byPartition) {
    const queue: PendingBatch[] = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i <= list.length; i++) {
      const size = i < list.length ? recordSize(list[i]!) : 0;
      if (i === list.length || (i > start && bytes + size > MAX_BATCH_BYTES)) {
        if (i > start) {
          const chunk = list.slice(start, i);
          queue.push({
            partition,
            batch: encodeRecordBatch(chunk, timestamp),
            count: chunk.length,
          });
        }
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    queues.set(partition, queue);
  }
  return queues;
}
