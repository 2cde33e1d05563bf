/**
 * The one boundary between toka and a Kafka client. The processor, emitter and view
 * talk only to these interfaces; `kafkajs-client.ts` implements them with kafkajs and
 * the in-memory tester of `@toka/testing` implements them without a broker.
 */

import type { PartitionOwners } from "./member-user-data.js";

export type { PartitionOwners } from "./member-user-data.js";

/** A record read from Kafka. */
export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal int64. */
  readonly offset: string;
  readonly key: Uint8Array | null;
  /** `null` for a tombstone. */
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** A record to produce. Without `partition`, the key is hashed with murmur2 (Java-compatible). */
export interface OutgoingRecord {
  readonly topic: string;
  readonly partition?: number;
  /** A string key, or the raw key bytes (dead letters keep the original bytes). */
  readonly key: string | Uint8Array | null;
  /** `null` writes a tombstone. */
  readonly value: Uint8Array | null;
  /** Values as text (written as UTF-8) or as their bytes (toka's dedup record). */
  readonly headers: Readonly<Record<string, string | Uint8Array>>;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read. */
  readonly offset: string;
  /**
   * Kept with the offset when it is committed (the commit's metadata string: toka's
   * stream time); nothing else reads it.
   */
  readonly metadata?: string;
}

/** Where the records of one produce request landed, per topic partition. */
export interface ProducedBatch extends TopicPartition {
  /** Offset of the first record of this call in the partition. */
  readonly baseOffset: string;
  /**
   * The offset after the last record of this call in the partition, when the client
   * knows it (all of the call's records for the partition named it explicitly).
   */
  readonly nextOffset?: string;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted: boolean;
  readonly replicationFactor?: number;
  /** Further topic configs by their Kafka names, e.g. `max.message.bytes`. */
  readonly config?: Readonly<Record<string, string>>;
}

export interface PartitionWatermarks {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface ClientAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Partition counts of the topics that exist; missing topics are absent. */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  /**
   * Creates topics; a topic that already exists is not an error. Resolves once every
   * partition of the topics has a leader that every broker of the cluster knows, so
   * that a request to any broker right after finds them.
   * @throws TokaError `TOKA_TIMEOUT` when some broker still lacks a leader after a
   * bounded wait, naming the broker, topics and partitions.
   */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  /**
   * The effective values of the named configs of existing topics: a topic's own setting,
   * else the broker's default. Missing topics are absent.
   */
  topicConfigs(
    topics: readonly string[],
    names: readonly string[],
  ): Promise<Map<string, Map<string, string>>>;
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  /** Committed offsets of a consumer group for a topic; partitions without one are absent. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, string>>;
  /**
   * The metadata committed with a consumer group's offsets of a topic; partitions without
   * an offset or with empty metadata are absent.
   */
  committedMetadata(groupId: string, topic: string): Promise<Map<number, string>>;
  /** First offsets at or after `timestamp` per partition (the high watermark where none). */
  offsetsForTime(topic: string, timestamp: number): Promise<Map<number, string>>;
  /** Commits offsets for a consumer group that has no running members. */
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The names of the cluster's topics. */
  listTopics(): Promise<string[]>;
  /** The IDs of the cluster's consumer groups. */
  listGroups(): Promise<string[]>;
  /**
   * A consumer group's state and members with their assignments (state `Dead`, no
   * members, for a group the cluster does not know).
   */
  describeGroup(groupId: string): Promise<GroupDescription>;
  /**
   * Committed offsets of a consumer group on every topic it committed offsets for, by
   * topic and partition.
   */
  groupOffsets(groupId: string): Promise<Map<string, Map<number, string>>>;
}

/** A consumer group as its coordinator knows it. */
export interface GroupDescription {
  readonly group: string;
  /** The coordinator's state: `Stable`, `PreparingRebalance`, `Empty`, `Dead`, ... */
  readonly state: string;
  readonly members: readonly GroupMemberDescription[];
}

/** A running member of a consumer group (a processor instance). */
export interface GroupMemberDescription {
  readonly memberId: string;
  readonly clientId: string;
  /** The address the member connected from, as the broker saw it. */
  readonly host: string;
  /**
   * Partitions assigned to it, by topic; empty for an assignment that is not in the
   * standard consumer protocol's form (toka's assigner writes that form).
   */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

export interface ClientProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Sends with acks=all, in as many requests as the records need (a request is bounded
   * so that no partition's batch exceeds the broker's message size limit); resolves
   * when the broker acknowledged every record. One entry per partition written.
   */
  send(records: readonly OutgoingRecord[], options?: SendOptions): Promise<ProducedBatch[]>;
  /**
   * Sends the records and commits `offsets` for `groupId` in one Kafka transaction.
   * Only for a producer created with a `transactionalId`.
   */
  sendInTransaction(
    records: readonly OutgoingRecord[],
    offsets: TransactionOffsets,
  ): Promise<ProducedBatch[]>;
}

/** Options of {@link ClientProducer.send}. */
export interface SendOptions {
  /**
   * Stops the retries of a failed write: no attempt starts once it is aborted, and the
   * send rejects with its reason. A request already sent may still be written.
   */
  readonly signal?: AbortSignal | undefined;
}

/** The consumer offsets a transaction commits with its records. */
export interface TransactionOffsets {
  readonly groupId: string;
  /** The input positions after the batch. */
  readonly offsets: readonly TopicPartitionOffset[];
  /**
   * The positions the batch started from, as the group's committed offsets should still
   * be. A producer that replaces a failed one checks them first: offsets another
   * instance moved on mean the partition is no longer this one's, and a new producer
   * would fence its owner.
   */
  readonly from?: readonly TopicPartitionOffset[];
}

export interface IncomingBatch extends TopicPartition {
  readonly records: readonly IncomingRecord[];
  /** The partition's high watermark when fetched. */
  readonly highWatermark: string;
  /**
   * Keeps the consumer's group membership alive during a long batch (a client may
   * throttle it); without it, a batch longer than the session timeout loses the
   * partition and its commit. Resolves `false` when the group is rebalancing or no
   * longer knows this member: the batch should then be left unwritten, so that a
   * partition about to move is not written by two instances.
   */
  readonly heartbeat?: () => Promise<boolean>;
}

/** Callbacks of a consumer. */
export interface ConsumerHandlers {
  /** After every (re)join with the complete new assignment of this member. */
  onAssignment(assignment: readonly TopicPartition[]): void;
  /**
   * A batch of one partition; batches of one partition never overlap. Resolves `true`
   * when the batch was handled, `false` to have it delivered again later.
   */
  onBatch(batch: IncomingBatch): Promise<boolean>;
  /** After a fetched batch was handled, including batches that only held control records. */
  onBatchDone?(partition: TopicPartition, lastOffset: string, highWatermark: string): void;
  /** The consumer stopped for good with this error. */
  onCrash(error: unknown): void;
  /**
   * The consumer lost its connection or group membership and restarts by itself with
   * backoff: no batches arrive until {@link ConsumerHandlers.onReconnected}.
   */
  onReconnecting?(error: unknown): void;
  /**
   * The consumer rejoined its group after {@link ConsumerHandlers.onReconnecting};
   * `onAssignment` was called with the new assignment just before.
   */
  onReconnected?(): void;
  /**
   * The group's partition owners and their query addresses, as the leader assigned them
   * (co-partitioned consumers only): `undefined` once a (re)join starts, until the
   * owners of the new assignment are known. A client that cannot tell never calls it.
   */
  onOwners?(owners: PartitionOwners | undefined): void;
  /**
   * The partitions whose table this member keeps standby replicas of, as the leader
   * assigned them with each (re)join (co-partitioned consumers that ask for standbys
   * only). A client that cannot tell never calls it: no standbys are kept.
   */
  onStandby?(partitions: readonly number[]): void;
  /**
   * Before the member rejoins its group (no batch is handed over from then on): resolves
   * once the writes the handlers make outside batches (timed flushes, timers) are done,
   * so that none lands after the partitions went to their next owner. A client that
   * cannot tell when it rejoins never calls it.
   */
  beforeRejoin?(): Promise<void>;
}

/**
 * How often a group member heartbeats: a tenth of its session timeout (at least 500 ms),
 * so that several heartbeats may be lost before the session expires.
 */
export function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.max(500, Math.floor(sessionTimeoutMs / 10));
}

export interface ConsumerOptions {
  readonly groupId: string;
  /** Give partition p of every subscribed topic to the same member (co-partitioning). */
  readonly copartitioned: boolean;
  /** Read only committed transactional records. */
  readonly readCommitted: boolean;
  /** Where a partition without a committed offset starts. */
  readonly fromBeginning: boolean;
  /** Upper bound of bytes fetched per partition. */
  readonly maxBytesPerPartition: number;
  /** How many partitions are processed at the same time. */
  readonly concurrency: number;
  readonly sessionTimeoutMs: number;
  /** Longest time the broker holds a fetch when no data is there. Default 500 (as Java's). */
  readonly fetchMaxWaitMs?: number;
  /** The member's query service base URL, advertised to the group (co-partitioned only). */
  readonly queryAddress?: string | undefined;
  /**
   * The partitions the member holds local state of, with the table offset each reached
   * (co-partitioned only), advertised so that a partition that moves goes to the member
   * whose state of it is furthest along.
   */
  readonly storedPartitions?: (() => ReadonlyMap<number, number>) | undefined;
  /** Standby replicas of each partition's table the member asks the group for (co-partitioned only). */
  readonly standbyReplicas?: number | undefined;
}

export interface ClientConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(topics: readonly string[]): Promise<void>;
  run(handlers: ConsumerHandlers): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Next fetch of the partition starts at `offset`. */
  seek(position: TopicPartitionOffset): void;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * When the group coordinator last confirmed this member (a heartbeat or a join
   * succeeded); undefined before the first join and from a stopped run until the next
   * join. A write outside a batch (a timed flush), where no heartbeat can be sent, goes
   * on only while this is recent. A client without it leaves such writes unguarded.
   */
  memberConfirmedAt?(): number | undefined;
}

/** A record of a log read: an {@link IncomingRecord} that reads single parts cheaply. */
export interface LogRecord extends IncomingRecord {
  /** The offset as a number (offsets stay below 2^53). */
  readonly offsetNumber: number;
  /** The key as UTF-8 text, `""` for a null key, without materializing `key`. */
  keyText(): string;
  /** Whether the key is null. */
  readonly keyIsNull: boolean;
  /** The key's and the value's bytes together, without materializing them. */
  readonly byteLength: number;
  /** The first value of one header (an ASCII name), without decoding the others. */
  header(name: string): string | undefined;
  /**
   * The first value of one header as its bytes. A client that has only the text of
   * headers gives its UTF-8 encoding: the same bytes when the value is UTF-8 (toka's
   * own headers are).
   */
  headerBytes(name: string): Uint8Array | undefined;
}

/** What {@link KafkaClient.readLog} reads: `[start, end)` of some partitions of one topic. */
export interface LogReadRequest {
  readonly topic: string;
  readonly ranges: readonly {
    readonly partition: number;
    readonly start: string;
    readonly end: string;
  }[];
  /** Skip records of aborted transactions (and never read past the last stable offset). */
  readonly readCommitted: boolean;
  readonly maxBytesPerPartition: number;
  /** Stops the read: it rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/** Records of one partition from one fetch. */
export interface LogBatch extends TopicPartition {
  /** In offset order, within the requested range. */
  readonly records: readonly LogRecord[];
  /** The offset to read next: past these records and any control or aborted batches. */
  readonly nextOffset: string;
}

/** Options of {@link KafkaClient.producer}. */
export interface ProducerOptions {
  /** Makes a transactional producer (`sendInTransaction`). */
  readonly transactionalId?: string;
  /**
   * Default `true`: a retried request never writes a record twice. `false` lets a client
   * use its own writer (toka's, which counts a send as written only when every partition
   * acknowledged it), for records whose duplicates are harmless: a table's latest values,
   * a processor's writes outside transactions (dropped by message ID downstream); such a
   * producer has no transactions.
   */
  readonly idempotent?: boolean;
}

/** Creates the clients toka needs. */
export interface KafkaClient {
  admin(): ClientAdmin;
  producer(options?: ProducerOptions): ClientProducer;
  consumer(options: ConsumerOptions): ClientConsumer;
  /**
   * Reads ranges of a log from start to end, without a consumer group and without
   * committing: for replays and key histories, which read a whole log once. Batches of
   * one partition are delivered one after the other; batches of different partitions may
   * overlap. Resolves once every range was read. See `readLogWithConsumer` for a
   * client without a faster way.
   */
  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void>;
}
