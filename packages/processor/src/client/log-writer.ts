import { rootMessage, TokaError, TokaErrorCode } from "../errors.js";
import { retrying } from "../retry.js";
import type { BrokerAddress, LeaderLookup, TopicLeaders } from "./broker-connection.js";
import { BrokerConnections } from "./broker-connections.js";
import { defaultPartition } from "./default-partitioner.js";
import { groupByTopic } from "./group-by-topic.js";
import type { OutgoingRecord, ProducedBatch, SendOptions } from "./kafka-client.js";
import { describeKafkaError, isRetriableKafkaError } from "./kafka-error-codes.js";
import {
  decodeProduceResponse,
  encodeProduceRequest,
  PRODUCE_API_KEY,
  PRODUCE_VERSION,
} from "./produce-request.js";
import { encodeRecordBatch } from "./record-batch-encoder.js";
import { recordSize } from "./record-size.js";
import { authorizationError } from "./security-errors.js";

/** Bytes of records per batch: well under the broker's default `message.max.bytes` (1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;
/** How long the broker waits for the in-sync replicas. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How much longer than the broker's own timeout toka waits for an answer. */
const ANSWER_MARGIN_MS = 10_000;
/**
 * How long batches are retried through leader moves and broker restarts without one
 * of them being acknowledged.
 */
const DELIVERY_TIMEOUT_MS = 120_000;
const RETRY_BACKOFF_MS = 250;
const MAX_RETRY_BACKOFF_MS = 2_000;

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
  private readonly connections = new BrokerConnections();
  /** Leaders per topic, looked up again only after a write failed. */
  private readonly routes = new Map<string, Promise<TopicLeaders>>();

  /** @param noProgressTimeoutMs how long to retry without an acknowledged batch (default 120 s). */
  constructor(
    private readonly lookupLeaders: LeaderLookup,
    private readonly noProgressTimeoutMs = DELIVERY_TIMEOUT_MS,
  ) {}

  /**
   * Writes the records; resolves when every in-sync replica of every partition written
   * has acknowledged them, rejects when one partition could not be written.
   */
  async send(
    records: readonly OutgoingRecord[],
    options: SendOptions = {},
  ): Promise<ProducedBatch[]> {
    const topics = await Promise.all(
      [...groupByTopic(records)].map(([topic, list]) =>
        this.sendTopic(topic, list, options.signal),
      ),
    );
    return topics.flat();
  }

  close(): void {
    this.connections.close();
  }

  private async sendTopic(
    topic: string,
    records: readonly OutgoingRecord[],
    signal: AbortSignal | undefined,
  ): Promise<ProducedBatch[]> {
    let queues: Map<number, PendingBatch[]> | undefined;
    const produced = new Map<number, { baseOffset: number; nextOffset: number }>();
    const progress = { batches: 0 };
    const unwritten = () => [...(queues ?? [])].find(([, q]) => q.length > 0)?.[0];
    // An attempt after a failure starts from fresh metadata: a leader that died or moved
    // is left behind.
    await retrying(
      async () => {
        try {
          const routing = await this.route(topic);
          // A topic just created may not be known to the broker asked yet: records placed
          // by key need its partition count.
          if (routing.partitions === 0) {
            throw new TokaError(
              TokaErrorCode.ProduceFailed,
              "the topic's partitions are not known yet",
              { topic, retriable: true },
            );
          }
          queues ??= batchesPerPartition(records, routing.partitions);
          await this.writeRound(topic, routing, queues, produced, progress);
        } catch (error) {
          this.routes.delete(topic);
          throw error;
        }
      },
      {
        timeoutMs: this.noProgressTimeoutMs,
        signal,
        initialDelayMs: RETRY_BACKOFF_MS,
        maxDelayMs: MAX_RETRY_BACKOFF_MS,
        progress: () => progress.batches,
        exhausted: (error) =>
          new TokaError(
            TokaErrorCode.ProduceFailed,
            `records were not written: no batch was acknowledged for ${this.noProgressTimeoutMs / 1000} s; check that the topic's partition leaders are reachable; last failure: ${rootMessage(error)}`,
            { topic, partition: unwritten(), cause: error, retriable: true },
          ),
      },
    );
    return [...produced].map(([partition, p]) => ({
      topic,
      partition,
      baseOffset: String(p.baseOffset),
      nextOffset: String(p.nextOffset),
    }));
  }

  /**
   * Writes every queue to its partition's leader, leaders in parallel.
   * @throws the first failure, a failure that is not retriable before any that is; a
   * retriable TokaError when a partition has no leader.
   */
  private async writeRound(
    topic: string,
    routing: TopicLeaders,
    queues: Map<number, PendingBatch[]>,
    produced: Map<number, { baseOffset: number; nextOffset: number }>,
    progress: { batches: number },
  ): Promise<void> {
    const byLeader = new Map<string, { address: BrokerAddress; partitions: number[] }>();
    const leaderless: number[] = [];
    for (const [partition, queue] of queues) {
      if (queue.length === 0) continue;
      const address = routing.leaders.get(partition);
      if (!address) {
        leaderless.push(partition);
        continue;
      }
      const key = `${address.host}:${address.port}`;
      const group = byLeader.get(key) ?? { address, partitions: [] };
      byLeader.set(key, group);
      group.partitions.push(partition);
    }
    const results = await Promise.allSettled(
      [...byLeader.values()].map((g) =>
        this.writeToLeader(topic, g.address, g.partitions, queues, produced, progress),
      ),
    );
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    const fatal = failures.find((e) => (e as { retriable?: unknown }).retriable !== true);
    if (failures.length > 0) throw fatal ?? failures[0];
    if (leaderless.length > 0) {
      throw new TokaError(
        TokaErrorCode.ProduceFailed,
        `partition(s) ${leaderless.join(", ")} have no leader in the brokers' metadata`,
        { topic, partition: leaderless[0], retriable: true },
      );
    }
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
    progress: { batches: number },
  ): Promise<void> {
    const lost = (cause: unknown) =>
      new TokaError(
        TokaErrorCode.ProduceFailed,
        `writing partition(s) ${partitions.join(", ")} to their leader ${address.host}:${address.port} failed`,
        { topic, partition: partitions[0], cause, retriable: true },
      );
    for (;;) {
      const heads = partitions.map((p) => queues.get(p)![0]).filter((b) => b !== undefined);
      if (heads.length === 0) return;
      let answer: Buffer;
      try {
        // A connection that failed is closed, and replaced by the next request.
        answer = await this.connections.request(
          address,
          PRODUCE_API_KEY,
          PRODUCE_VERSION,
          encodeProduceRequest(topic, heads, REQUEST_TIMEOUT_MS),
          REQUEST_TIMEOUT_MS + ANSWER_MARGIN_MS,
        );
      } catch (error) {
        throw lost(error);
      }
      let failed: TokaError | undefined;
      for (const result of decodeProduceResponse(answer)) {
        const queue = queues.get(result.partition)!;
        const head = queue[0]!;
        if (result.errorCode === 0) {
          queue.shift();
          progress.batches += 1;
          const before = produced.get(result.partition);
          produced.set(result.partition, {
            baseOffset: before?.baseOffset ?? result.baseOffset,
            nextOffset: result.baseOffset + head.count,
          });
          continue;
        }
        failed ??=
          authorizationError(result.errorCode, { operation: "Write", topic }) ??
          new TokaError(
            TokaErrorCode.ProduceFailed,
            `the broker refused a batch of ${head.count} records with ${describeKafkaError(result.errorCode)}`,
            {
              topic,
              partition: result.partition,
              // A leader moving, too few in-sync replicas for a moment.
              retriable: isRetriableKafkaError(result.errorCode),
            },
          );
      }
      if (failed) throw failed;
    }
  }

  /** The topic's leaders, from the cache or looked up (once for concurrent sends). */
  private route(topic: string): Promise<TopicLeaders> {
    let route = this.routes.get(topic);
    if (!route) {
      route = this.lookupLeaders(topic);
      this.routes.set(topic, route);
    }
    return route;
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
