import { TokaError, TokaErrorCode } from "@toka/processor";
import type {
  ConsumerHandlers,
  ConsumerOptions,
  IncomingBatch,
  IncomingRecord,
  ProducedBatch,
  TopicPartition,
  TopicPartitionOffset,
} from "@toka/processor/kafka";
import { defaultPartition, standbyAssignment, stickyAssignment } from "@toka/processor/kafka";
import type { TestClock } from "./test-clock.js";

/** A record in a partition log of the in-memory broker. */
export interface StoredRecord {
  readonly offset: number;
  /** Position in the broker-wide append order: orders records across partitions. */
  readonly seq: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
  /** A transaction marker (commit or abort): takes an offset, is never delivered. */
  readonly control: boolean;
  /** Written by a transaction that aborted: invisible to read-committed consumers. */
  readonly aborted: boolean;
}

/** A topic of the in-memory broker: one append-only log per partition. */
export interface TopicLog {
  readonly name: string;
  readonly compacted: boolean;
  /** Topic configs set at creation, by their Kafka names; see {@link BROKER_DEFAULT_CONFIG}. */
  readonly config: Readonly<Record<string, string>>;
  readonly partitions: StoredRecord[][];
  /** Where the next record without key and partition goes (round robin). */
  nextUnkeyed: number;
}

/** A record to append; without `partition` the key picks it as Kafka's default partitioner does. */
export interface AppendRecord {
  readonly topic: string;
  readonly partition?: number | undefined;
  readonly key: string | Uint8Array | null;
  readonly value: Uint8Array | null;
  /** Values as text or bytes; stored as text, as a kafkajs consumer hands them over. */
  readonly headers: Readonly<Record<string, string | Uint8Array>>;
  /** Default: the clock's time. */
  readonly timestamp?: number | undefined;
}

/** What {@link InMemoryBroker.append} wrote. */
export interface AppendResult {
  /** Per partition written, in first-write order: the offset of its first record. */
  readonly batches: ProducedBatch[];
  /** Where each record landed, in the order given. */
  readonly positions: TopicPartitionOffset[];
}

/** A produce failure the tester injects. */
export interface InjectedFailure {
  /** The topic whose next produce fails; `undefined`: the next produce to any topic. */
  readonly topic: string | undefined;
  readonly error: Error;
  /** A plain produce still writes its records to other topics. */
  readonly partial: boolean;
}

/** How records are appended: plainly, in a committed transaction, or in an aborted one. */
export type AppendMode = "plain" | "committed" | "aborted";

/** Member states: created → connected → running (in its group) → stopped. */
export type MemberState = "created" | "connected" | "running" | "stopped";

/** A batch handed to a member, with what the delivery loop needs to finish it. */
export interface PreparedBatch {
  readonly member: GroupMember;
  readonly tp: TopicPartition;
  /** The batch to hand over; `undefined` when every record in range was filtered out. */
  readonly batch: IncomingBatch | undefined;
  /** The last offset examined, including trailing transaction markers. */
  readonly lastOffset: number;
  readonly highWatermark: number;
}

/** Settings of the in-memory broker. */
export interface BrokerSettings {
  readonly clock: TestClock;
  /** Create a topic on the first produce to it, like `auto.create.topics.enable`. */
  readonly autoCreateTopics: boolean;
  /** Partitions of topics created implicitly. */
  readonly defaultPartitions: number;
  /** Most records handed over in one batch. */
  readonly maxBatchRecords: number;
}

/** The broker's defaults of the topic configs the in-memory broker models (Kafka's). */
export const BROKER_DEFAULT_CONFIG: Readonly<Record<string, string>> = {
  // message.max.bytes: 1 MiB plus the 12 bytes of a batch's offset and length fields.
  "max.message.bytes": "1048588",
};

/** A topic config's effective value: the topic's own, else the broker's default. */
export function topicConfig(log: TopicLog, name: string): string | undefined {
  return Object.hasOwn(log.config, name) ? log.config[name] : BROKER_DEFAULT_CONFIG[name];
}

/**
 * Fewest bytes a record can take in a record batch of its own (61 bytes of batch header,
 * at least one for each of the record's 7 length and delta fields, and its parts), the
 * size Kafka compares with `max.message.bytes`.
 */
function leastBatchSize(record: AppendRecord): number {
  let size = 61 + 7 + (keyBytes(record.key)?.byteLength ?? 0) + (record.value?.byteLength ?? 0);
  for (const [name, value] of Object.entries(record.headers))
    size +=
      Buffer.byteLength(name) +
      (typeof value === "string" ? Buffer.byteLength(value) : value.byteLength);
  return size;
}

/** Key of a topic partition in maps. */
export function tpKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}

/** The topic and partition of a {@link tpKey}. */
export function fromTpKey(key: string): TopicPartition {
  const at = key.indexOf("\u0000");
  return { topic: key.slice(at + 1), partition: Number(key.slice(0, at)) };
}

const utf8 = new TextEncoder();

function keyBytes(key: string | Uint8Array | null): Uint8Array | null {
  if (key === null) return null;
  return typeof key === "string" ? utf8.encode(key) : key.slice();
}

/**
 * A copy of headers without a prototype, as the kafkajs client delivers them: a header
 * named `__proto__` is an ordinary property, and a name the record lacks
 * (`constructor`) finds nothing.
 */
export function copyHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.assign(Object.create(null), headers);
}

/** Headers as a consumer of the kafkajs client gets them: values decoded as UTF-8. */
function headersAsText(
  headers: Readonly<Record<string, string | Uint8Array>>,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(headers))
    out[name] =
      typeof value === "string"
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
  return out;
}

function compareTp(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/**
 * One consumer of a consumer group, as the broker sees it: subscription, assignment,
 * positions, pauses and pending seeks (kafkajs semantics: a seek applies at the next
 * fetch, pauses outlive rebalances, positions restart from the committed offsets after
 * every rebalance).
 */
export class GroupMember {
  state: MemberState = "created";
  readonly topics = new Set<string>();
  handlers: ConsumerHandlers | undefined;
  assignment: readonly TopicPartition[] = [];
  /** Next offset to fetch per assigned partition. */
  readonly positions = new Map<string, number>();
  /** Seeks not applied yet: they apply at the next fetch of an assigned partition. */
  readonly seeks = new Map<string, number>();
  readonly paused = new Set<string>();
  /** Partitions whose last batch was handed back (`false`), with the change count then. */
  readonly refused = new Map<string, number>();
  /** The delivery in progress; `abandoned` once it outlived its timeout. */
  inFlight: { readonly done: Promise<void>; abandoned: boolean } | undefined;
  /** Resolves `run()` once a rebalance included this member. */
  private joinWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly options: ConsumerOptions,
  ) {}

  get groupId(): string {
    return this.options.groupId;
  }

  /** Resolves after the next rebalance that includes this member, or when it stops. */
  joined(): Promise<void> {
    return new Promise((resolve) => this.joinWaiters.push(resolve));
  }

  /** Wakes `run()` callers. */
  notifyJoined(): void {
    const waiters = this.joinWaiters;
    this.joinWaiters = [];
    for (const resolve of waiters) resolve();
  }

  isAssigned(topic: string, partition: number): boolean {
    return this.assignment.some((tp) => tp.topic === topic && tp.partition === partition);
  }
}

/** A consumer group: its members in join order and its committed offsets. */
export interface GroupState {
  readonly id: string;
  /** Order of creation, for a deterministic delivery order across groups. */
  readonly index: number;
  readonly members: GroupMember[];
  readonly committed: Map<string, number>;
  /** The metadata committed with each offset, when it had any. */
  readonly committedMetadata: Map<string, string>;
  generation: number;
  rebalancePending: boolean;
}

/**
 * The state of the in-memory Kafka: topics with partition logs (offsets, headers,
 * timestamps, transaction markers), consumer groups with members, assignments and
 * committed offsets, and transactional producer epochs. It never runs anything by
 * itself: the delivery loop asks it for the next batch, and every change is counted and
 * announced through `onChange` so the loop knows when to look again.
 */
export class InMemoryBroker {
  readonly topics = new Map<string, TopicLog>();
  readonly groups = new Map<string, GroupState>();
  /** Counts every change a client made: the delivery loop's notion of progress. */
  changes = 0;
  /** Called after every change. */
  onChange: () => void = () => {};
  private seq = 0;
  private memberSeq = 0;
  private readonly epochs = new Map<string, number>();
  private readonly produceFailures: InjectedFailure[] = [];
  private readonly commitFailures: { readonly group: string | undefined; readonly error: Error }[] =
    [];
  /** The last partition handed out, for round robin between candidates. */
  private lastDelivered = "";

  constructor(readonly settings: BrokerSettings) {}

  /** Records that something changed and wakes the delivery loop. */
  touch(): void {
    this.changes += 1;
    this.onChange();
  }

  // Topics ------------------------------------------------------------------------------

  /**
   * Creates a topic; returns `false` if it exists already (with any partition count).
   * @throws TokaError `TOKA_INVALID_CONFIG` for a partition count below 1.
   */
  createTopic(
    name: string,
    partitions: number,
    compacted: boolean,
    config: Readonly<Record<string, string>> = {},
  ): boolean {
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `a topic needs a whole number of partitions >= 1, got ${partitions}`,
        { topic: name },
      );
    }
    if (this.topics.has(name)) return false;
    this.topics.set(name, {
      name,
      compacted,
      config: { ...config },
      partitions: Array.from({ length: partitions }, () => []),
      nextUnkeyed: 0,
    });
    // Members subscribed to a topic that did not exist yet get its partitions now
    // (kafkajs notices new topics through a metadata refresh and rejoins).
    for (const group of this.groups.values()) {
      if (group.members.some((m) => m.state === "running" && m.topics.has(name))) {
        group.rebalancePending = true;
      }
    }
    this.touch();
    return true;
  }

  /** @throws TokaError `TOKA_TOPIC_MISSING` when the topic does not exist. */
  topic(name: string): TopicLog {
    const topic = this.topics.get(name);
    if (!topic) {
      throw new TokaError(TokaErrorCode.TopicMissing, `the topic "${name}" does not exist`, {
        topic: name,
      });
    }
    return topic;
  }

  private topicForProduce(name: string): TopicLog {
    if (!this.topics.has(name) && this.settings.autoCreateTopics) {
      this.createTopic(name, this.settings.defaultPartitions, false);
    }
    const topic = this.topics.get(name);
    if (!topic) {
      throw new TokaError(
        TokaErrorCode.TopicMissing,
        `cannot produce to "${name}": the topic does not exist and the tester does not create topics on produce (autoCreateTopics is off)`,
        { topic: name },
      );
    }
    return topic;
  }

  // Producing ---------------------------------------------------------------------------

  /** Makes the next produce request (to `topic`, or to any topic) fail; see {@link append}. */
  failNextProduce(failure: InjectedFailure): void {
    this.produceFailures.push(failure);
  }

  /**
   * Appends records atomically: all or none. `committed` and `aborted` also write a
   * transaction marker to every partition written, like a Kafka transaction's end.
   * @returns per partition written, in first-write order, the offset of its first record;
   * and where each record landed.
   * @throws TokaError `TOKA_TOPIC_MISSING` / `TOKA_INVALID_CONFIG` for a bad target (nothing
   * is appended); an injected failure (see {@link failNextProduce}): a transaction's
   * records are appended as aborted; of a plain request nothing is appended, or with
   * `partial` the records to other topics than the failure's (a multi-partition produce
   * is not atomic in Kafka).
   */
  append(records: readonly AppendRecord[], mode: AppendMode): AppendResult {
    let targets = records.map((record) => ({ record, ...this.target(record) }));
    for (const { record, log, partition } of targets) this.checkSize(record, log, partition);
    const injected = this.takeFailure(records);
    let effective = mode;
    if (injected && mode === "plain") {
      targets = injected.partial ? targets.filter((t) => t.log.name !== injected.topic) : [];
    } else if (injected) {
      effective = "aborted";
    }
    const now = this.settings.clock.now();
    const batches = new Map<string, ProducedBatch>();
    const written: StoredRecord[][] = [];
    const positions: TopicPartitionOffset[] = [];
    for (const { record, log, partition } of targets) {
      const list = log.partitions[partition]!;
      const key = tpKey(log.name, partition);
      if (!batches.has(key)) {
        batches.set(key, { topic: log.name, partition, baseOffset: String(list.length) });
        written.push(list);
      }
      positions.push({ topic: log.name, partition, offset: String(list.length) });
      list.push({
        offset: list.length,
        seq: this.seq++,
        key: keyBytes(record.key),
        value: record.value === null ? null : record.value.slice(),
        headers: headersAsText(record.headers),
        timestamp: record.timestamp ?? now,
        control: false,
        aborted: effective === "aborted",
      });
      batches.set(key, { ...batches.get(key)!, nextOffset: String(list.length) });
    }
    if (effective !== "plain") {
      for (const list of written) {
        list.push({
          offset: list.length,
          seq: this.seq++,
          key: null,
          value: null,
          headers: {},
          timestamp: now,
          control: true,
          aborted: effective === "aborted",
        });
      }
    }
    this.touch();
    if (injected) throw injected.error;
    return { batches: [...batches.values()], positions };
  }

  /** Refuses a record above its topic's `max.message.bytes`, as Kafka's MESSAGE_TOO_LARGE. */
  private checkSize(record: AppendRecord, log: TopicLog, partition: number) {
    const limit = Number(topicConfig(log, "max.message.bytes"));
    const size = leastBatchSize(record);
    if (size > limit) {
      throw new TokaError(
        TokaErrorCode.KafkaFailed,
        `a record of at least ${size} bytes is larger than max.message.bytes ${limit} of the topic (Kafka's MESSAGE_TOO_LARGE)`,
        { topic: log.name, partition },
      );
    }
  }

  private target(record: AppendRecord): { log: TopicLog; partition: number } {
    const log = this.topicForProduce(record.topic);
    const count = log.partitions.length;
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= count)
        throw new TokaError(
          TokaErrorCode.InvalidConfig,
          `partition ${record.partition} does not exist; the topic has partitions 0..${count - 1}`,
          { topic: record.topic, partition: record.partition },
        );
      return { log, partition: record.partition };
    }
    if (record.key === null) {
      const partition = log.nextUnkeyed % count;
      log.nextUnkeyed += 1;
      return { log, partition };
    }
    return { log, partition: defaultPartition(record.key, count) };
  }

  private takeFailure(records: readonly AppendRecord[]): InjectedFailure | undefined {
    const index = this.produceFailures.findIndex(
      (f) => f.topic === undefined || records.some((r) => r.topic === f.topic),
    );
    if (index < 0) return undefined;
    return this.produceFailures.splice(index, 1)[0];
  }

  /** A new producer with this transactional id fences the older ones (KIP-98). */
  bumpEpoch(transactionalId: string): number {
    const epoch = (this.epochs.get(transactionalId) ?? 0) + 1;
    this.epochs.set(transactionalId, epoch);
    this.touch();
    return epoch;
  }

  isCurrentEpoch(transactionalId: string, epoch: number): boolean {
    return this.epochs.get(transactionalId) === epoch;
  }

  // Reading -----------------------------------------------------------------------------

  /** The records of a topic across partitions in append order, without markers. */
  read(topic: string, readCommitted: boolean): { partition: number; record: StoredRecord }[] {
    const log = this.topics.get(topic);
    if (!log) return [];
    const out: { partition: number; record: StoredRecord }[] = [];
    log.partitions.forEach((list, partition) => {
      for (const record of list) {
        if (record.control || (readCommitted && record.aborted)) continue;
        out.push({ partition, record });
      }
    });
    return out.sort((a, b) => a.record.seq - b.record.seq);
  }

  // Groups ------------------------------------------------------------------------------

  group(id: string): GroupState {
    let group = this.groups.get(id);
    if (!group) {
      group = {
        id,
        index: this.groups.size,
        members: [],
        committed: new Map(),
        committedMetadata: new Map(),
        generation: 0,
        rebalancePending: false,
      };
      this.groups.set(id, group);
    }
    return group;
  }

  /** A new member; IDs sort in creation order, so assignments follow the join order. */
  newMember(options: ConsumerOptions): GroupMember {
    this.memberSeq += 1;
    return new GroupMember(
      `${options.groupId}-${String(this.memberSeq).padStart(6, "0")}`,
      options,
    );
  }

  /** Adds a running member to its group and asks for a rebalance. */
  join(member: GroupMember): void {
    const group = this.group(member.groupId);
    group.members.push(member);
    group.rebalancePending = true;
    this.touch();
  }

  /**
   * Asks `groupId` (every group without it) to rebalance with the members it has: the
   * batches being handled hear it from their heartbeat, and the members rejoin.
   */
  requestRebalance(groupId?: string): void {
    for (const group of this.groups.values())
      if (groupId === undefined || group.id === groupId) group.rebalancePending = true;
    this.touch();
  }

  /** Removes a member from its group (leave or crash) and asks for a rebalance. */
  leave(member: GroupMember): void {
    const group = this.group(member.groupId);
    const index = group.members.indexOf(member);
    if (index >= 0) {
      group.members.splice(index, 1);
      group.rebalancePending = true;
    }
    member.assignment = [];
    member.notifyJoined();
    this.touch();
  }

  /** Commits offsets of a group (a member's commit or a transaction's `sendOffsets`). */
  /** Makes the next offset commit of `group` (of any group without it) throw `error`. */
  failNextCommit(failure: { readonly group: string | undefined; readonly error: Error }): void {
    this.commitFailures.push(failure);
  }

  /**
   * Commits a group's offsets.
   * @throws an injected failure (see {@link failNextCommit}): nothing is committed.
   */
  commit(groupId: string, offsets: readonly TopicPartitionOffset[]): void {
    const failure = this.commitFailures.findIndex(
      (f) => f.group === undefined || f.group === groupId,
    );
    if (failure >= 0) throw this.commitFailures.splice(failure, 1)[0]!.error;
    const group = this.group(groupId);
    for (const o of offsets) {
      const key = tpKey(o.topic, o.partition);
      group.committed.set(key, Number(o.offset));
      if (o.metadata) group.committedMetadata.set(key, o.metadata);
      else group.committedMetadata.delete(key);
    }
    this.touch();
  }

  hasPendingRebalance(): boolean {
    for (const group of this.groups.values()) if (group.rebalancePending) return true;
    return false;
  }

  /**
   * Runs every pending rebalance: computes the assignment, resets positions to the
   * committed offsets (or the reset policy), and calls every member's `onAssignment`.
   * @returns the members whose `onAssignment` threw, with the error.
   */
  rebalance(): { member: GroupMember; error: unknown }[] {
    const failures: { member: GroupMember; error: unknown }[] = [];
    const pending = [...this.groups.values()].filter((g) => g.rebalancePending);
    for (const group of pending) {
      group.rebalancePending = false;
      group.generation += 1;
      const members = group.members
        .filter((m) => m.state === "running")
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const { assignments, standby } = this.assign(members);
      for (const member of members) {
        member.assignment = assignments.get(member) ?? [];
        member.positions.clear();
        member.refused.clear();
        for (const { topic, partition } of member.assignment) {
          const key = tpKey(topic, partition);
          const committed = group.committed.get(key);
          const end = this.topic(topic).partitions[partition]!.length;
          member.positions.set(key, committed ?? (member.options.fromBeginning ? 0 : end));
        }
      }
      this.changes += 1;
      for (const member of members) {
        try {
          member.handlers?.onAssignment(member.assignment);
          if (member.options.standbyReplicas)
            member.handlers?.onStandby?.(standby.get(member.id) ?? []);
        } catch (error) {
          failures.push({ member, error });
        }
        member.notifyJoined();
      }
    }
    this.onChange();
    return failures;
  }

  /**
   * The group's assignment: with `copartitioned` (the first member's setting), partition
   * p of every subscribed topic goes to one member, sticky as toka's co-partitioned
   * assigner (`stickyAssignment`: members keep what they own up to their share, and a
   * partition that moves goes to the member whose stored state of it is furthest along),
   * and members asking for standby replicas get them placed as that assigner places
   * them (`standbyAssignment`); otherwise all partitions round robin (as kafkajs's
   * default assigner). Members drop topics they did not subscribe to, as kafkajs does.
   */
  private assign(members: readonly GroupMember[]): {
    assignments: Map<GroupMember, TopicPartition[]>;
    standby: Map<string, number[]>;
  } {
    const assignments = new Map<GroupMember, TopicPartition[]>(members.map((m) => [m, []]));
    const standby = new Map<string, number[]>();
    if (members.length === 0) return { assignments, standby };
    const topics = [...new Set(members.flatMap((m) => [...m.topics]))]
      .filter((t) => this.topics.has(t))
      .sort();
    const all = topics.flatMap((topic) =>
      this.topic(topic).partitions.map((_, partition) => ({ topic, partition })),
    );
    if (!members[0]!.options.copartitioned) {
      all.forEach((tp, i) => {
        const owner = members[i % members.length]!;
        if (owner.topics.has(tp.topic)) assignments.get(owner)!.push(tp);
      });
      return { assignments, standby };
    }
    const stored = new Map(members.map((m) => [m.id, m.options.storedPartitions?.() ?? new Map()]));
    const shares = stickyAssignment(
      members.map((m) => m.id),
      new Map(members.map((m) => [m.id, [...new Set(m.assignment.map((tp) => tp.partition))]])),
      [...new Set(all.map((tp) => tp.partition))],
      stored,
    );
    for (const member of members) {
      const mine = new Set(shares.get(member.id));
      assignments
        .get(member)!
        .push(...all.filter((tp) => mine.has(tp.partition) && member.topics.has(tp.topic)));
    }
    const replicas = Math.max(0, ...members.map((m) => m.options.standbyReplicas ?? 0));
    const eligible = new Set(members.filter((m) => m.options.standbyReplicas).map((m) => m.id));
    return { assignments, standby: standbyAssignment(shares, replicas, eligible, stored) };
  }

  // Delivery ----------------------------------------------------------------------------

  /**
   * The next batch to deliver, round robin over every (running member, assigned,
   * unpaused partition) with records past its position that was not handed back since
   * the last change; `undefined` when there is none. Applies pending seeks first, as a
   * kafkajs fetch does.
   */
  nextBatch(): PreparedBatch | undefined {
    const candidates: { order: string; member: GroupMember; tp: TopicPartition }[] = [];
    for (const group of this.groups.values()) {
      for (const member of group.members) {
        if (member.state !== "running" || member.inFlight || !member.handlers) continue;
        this.applySeeks(member);
        for (const tp of [...member.assignment].sort(compareTp)) {
          const key = tpKey(tp.topic, tp.partition);
          if (member.paused.has(key)) continue;
          const refusedAt = member.refused.get(key);
          if (refusedAt !== undefined && refusedAt === this.changes) continue;
          const position = member.positions.get(key) ?? 0;
          if (position >= this.topic(tp.topic).partitions[tp.partition]!.length) continue;
          const order = `${String(group.index).padStart(6, "0")}|${member.id}|${tp.topic}|${String(tp.partition).padStart(6, "0")}`;
          candidates.push({ order, member, tp });
        }
      }
    }
    if (candidates.length === 0) return undefined;
    const next = candidates.find((c) => c.order > this.lastDelivered) ?? candidates[0]!;
    this.lastDelivered = next.order;
    return this.prepare(next.member, next.tp);
  }

  /** The partitions handed back (`onBatch` resolved `false`) that wait for a change. */
  refusedPartitions(): { member: GroupMember; tp: TopicPartition }[] {
    const out: { member: GroupMember; tp: TopicPartition }[] = [];
    for (const group of this.groups.values()) {
      for (const member of group.members) {
        if (member.state !== "running") continue;
        for (const tp of member.assignment) {
          const key = tpKey(tp.topic, tp.partition);
          if (member.refused.get(key) === this.changes && !member.paused.has(key))
            out.push({ member, tp });
        }
      }
    }
    return out;
  }

  private applySeeks(member: GroupMember) {
    for (const [key, offset] of member.seeks) {
      const [partition, topic] = key.split("\u0000") as [string, string];
      if (!member.isAssigned(topic, Number(partition))) continue;
      member.seeks.delete(key);
      member.positions.set(key, offset);
      member.refused.delete(key);
    }
  }

  private prepare(member: GroupMember, tp: TopicPartition): PreparedBatch {
    const list = this.topic(tp.topic).partitions[tp.partition]!;
    const from = member.positions.get(tpKey(tp.topic, tp.partition)) ?? 0;
    const { readCommitted, maxBytesPerPartition } = member.options;
    const records: IncomingRecord[] = [];
    let bytes = 0;
    let last = from - 1;
    for (let i = from; i < list.length; i++) {
      const r = list[i]!;
      const visible = !r.control && !(readCommitted && r.aborted);
      if (visible) {
        const size = (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0);
        if (records.length >= this.settings.maxBatchRecords) break;
        if (records.length > 0 && bytes + size > maxBytesPerPartition) break;
        bytes += size;
        records.push({
          topic: tp.topic,
          partition: tp.partition,
          offset: String(r.offset),
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          headers: copyHeaders(r.headers),
          timestamp: r.timestamp,
        });
      }
      last = i;
    }
    const highWatermark = list.length;
    return {
      member,
      tp,
      batch:
        records.length === 0
          ? undefined
          : {
              topic: tp.topic,
              partition: tp.partition,
              records,
              highWatermark: String(highWatermark),
              // As a Kafka member's heartbeat answers: the group is rebalancing.
              heartbeat: async () => !this.group(member.groupId).rebalancePending,
            },
      lastOffset: last,
      highWatermark,
    };
  }
}
