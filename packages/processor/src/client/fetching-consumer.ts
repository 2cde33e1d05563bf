import { isTokaError, rootMessage, TokaError, TokaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import {
  type BrokerAddress,
  BrokerConnection,
  type LeaderLookup,
  REQUEST_TIMEOUT_MS,
} from "./broker-connection.js";
import {
  decodeFetchResponse,
  encodeFetchRequest,
  FETCH_API_KEY,
  FETCH_VERSION,
  type FetchedPartition,
} from "./fetch-request.js";
import { FetchVersionCheck } from "./fetch-version-check.js";
import { keptBatches, readBatch } from "./fetched-batches.js";
import type {
  ClientAdmin,
  ClientConsumer,
  ConsumerHandlers,
  ConsumerOptions,
  TopicPartition,
  TopicPartitionOffset,
} from "./kafka-client.js";
import {
  describeKafkaError,
  isKafkaErrorKind,
  KafkaErrorKind,
  kafkaErrorCode,
} from "./kafka-error-codes.js";
import type { BatchRecord, RecordBatchHeader } from "./record-batch.js";
import { authorizationError, isSecurityError } from "./security-errors.js";

/** Upper bound of one fetch response, over all its partitions (as the Java consumer's `fetch.max.bytes`). */
const FETCH_MAX_BYTES = 50 * 1024 * 1024;
const RETRY_BACKOFF_MS = 250;
const MAX_RETRY_BACKOFF_MS = 2_000;
/** How often the fetch loop looks again for work nobody announced (a safety net). */
const IDLE_CHECK_MS = 1_000;
/**
 * How long a partition that should be fetched (assigned, not paused) may go without a
 * fetch answering for it before a warning says what holds it (a long-poll answers every
 * `fetchMaxWaitMs`, so a healthy partition is answered for every second or so).
 */
const STALL_WARN_MS = 30_000;

/** One assigned partition as this consumer follows it. */
interface FollowedPartition extends TopicPartition {
  readonly key: string;
  /** The next offset to fetch; undefined until sought or taken from the group's commit. */
  fetchAt: number | undefined;
  /** Taken from the log's start or end instead of the group's commit (offset out of range). */
  reset: boolean;
  paused: boolean;
  /** Set until the group gives this partition out again after its batch was refused. */
  held: boolean;
  /** Bumped whenever the position is set anew: a fetch answered for an older one is dropped. */
  generation: number;
  /** Bumped by every seek: tells whether the handler of a batch sought elsewhere. */
  seeks: number;
  fetching: boolean;
  /**
   * Bytes asked for: `maxBytesPerPartition`, doubled while a record batch larger than
   * that does not come back (the broker returns a whole oversized batch only for the
   * first partition of a response). Kept once grown: the partition's producers write
   * batches of that size, and shrinking again would cost an empty answer per batch.
   */
  fetchBytes: number;
  /** Fetched and waiting to be handled (at most one chunk: fetching waits for room). */
  queue: FetchedChunk[];
  delivering: boolean;
  /** When a fetch last answered for it, or it last became fetchable (ms). */
  answeredAt: number;
}

/** What one fetch answered for one partition. */
interface FetchedChunk {
  /** The position the fetch started from. */
  readonly from: number;
  readonly batches: readonly RecordBatchHeader[];
  /** Past the batches, control batches and aborted transactions included. */
  readonly nextOffset: number;
  readonly highWatermark: number;
}

/**
 * A group consumer whose records come over toka's own connections: kafkajs (the
 * `membership` consumer, all of whose partitions stay paused) joins the group with
 * toka's co-partitioned assignor, heartbeats and commits, while this consumer fetches
 * the assigned partitions from their leaders with Fetch requests, one long-polling
 * request per broker, and hands their records over undecoded ({@link BatchRecord}).
 * kafkajs decodes every record into objects and asks the broker for one partition's
 * worth at a time per round; this reads about five times as fast (see the benchmark).
 *
 * While one chunk of a partition is handled the next is fetched, and at most one more
 * waits: memory stays within a few `maxBytesPerPartition` per partition. Before the
 * member rejoins its group (`beforeJoin`, called by the socket gate of the membership's
 * connections), delivery stops and the batches being handled finish first.
 */
export class FetchingConsumer implements ClientConsumer {
  private readonly partitions = new Map<string, FollowedPartition>();
  private readonly leaders = new Map<string, BrokerAddress>();
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private readonly loops = new Map<string, Promise<void>>();
  private readonly versions = new FetchVersionCheck();
  private subscribed: readonly string[] = [];
  private handlers: ConsumerHandlers | undefined;
  private running = false;
  private leadersStale = true;
  /** From the gate's call before a join, or a restart of the membership, to the next assignment. */
  private rejoining = false;
  private deliveries = 0;
  private readonly idle: (() => void)[] = [];
  private inUse = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly sleepers = new Set<() => void>();
  private coordination: Promise<void> | undefined;

  constructor(
    private readonly options: ConsumerOptions,
    private readonly membership: ClientConsumer,
    private readonly admin: ClientAdmin,
    private readonly lookupLeaders: LeaderLookup,
    private readonly logger: Logger,
  ) {}

  async connect(): Promise<void> {
    await this.admin.connect();
    await this.membership.connect();
  }

  async disconnect(): Promise<void> {
    this.running = false;
    this.wake();
    for (const connection of this.connections.values()) {
      connection.then(
        (c) => c.close(),
        () => {},
      );
    }
    await Promise.allSettled([this.coordination, ...this.loops.values()]);
    this.connections.clear();
    await this.membership.disconnect();
    await this.admin.disconnect().catch(() => {});
  }

  subscribe(topics: readonly string[]): Promise<void> {
    this.subscribed = [...topics];
    return this.membership.subscribe(topics);
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    this.running = true;
    this.coordination = this.coordinate();
    await this.membership.run({
      onAssignment: (assignment) => {
        // kafkajs fetches nothing itself: it only keeps the membership.
        this.membership.pause(assignment);
        this.assign(assignment);
        handlers.onAssignment(assignment);
        this.wake();
      },
      onBatch: async (batch) => {
        this.membership.pause([batch]);
        return false;
      },
      onCrash: (error) => {
        this.running = false;
        this.wake();
        handlers.onCrash(error);
      },
      onReconnecting: (error) => {
        this.stopDelivery();
        handlers.onReconnecting?.(error);
      },
      onReconnected: () => handlers.onReconnected?.(),
      onOwners: (owners) => handlers.onOwners?.(owners),
      onStandby: (partitions) => handlers.onStandby?.(partitions),
    });
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const p = this.partitions.get(keyOf(tp));
      if (!p || p.paused) continue;
      p.paused = true;
      this.dropFetched(p);
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const p = this.partitions.get(keyOf(tp));
      if (p?.paused) {
        p.paused = false;
        p.answeredAt = Date.now();
      }
    }
    this.wake();
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    const p = this.partitions.get(keyOf({ topic, partition }));
    if (!p) return;
    p.fetchAt = Number(offset);
    p.reset = false;
    p.answeredAt = Date.now();
    p.seeks++;
    p.generation++;
    p.queue.length = 0;
    this.wake();
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return this.membership.commit(offsets);
  }

  /** Undefined from the start of a rejoin until the next assignment: nothing may be written. */
  memberConfirmedAt(): number | undefined {
    if (this.rejoining || !this.running) return undefined;
    return this.membership.memberConfirmedAt?.();
  }

  /**
   * Called by the membership's socket gate before it sends JoinGroup: no batch starts
   * from now until the next assignment, and this resolves once the batches being
   * handled and the handlers' other writes ({@link ConsumerHandlers.beforeRejoin}) are
   * done, or a session timeout passed: a handler that hangs must not keep the member out
   * of its group for ever.
   */
  beforeJoin(): Promise<void> {
    this.stopDelivery();
    const done = Promise.all([this.batchesDone(), this.handlers?.beforeRejoin?.()]);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(
          "batches or writes still running when the group rejoined; their partitions may be written by the next owner too",
          { group: this.options.groupId, waitedMs: this.options.sessionTimeoutMs },
        );
        resolve();
      }, this.options.sessionTimeoutMs);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      done.then(finish, finish);
    });
  }

  /** Resolves once no batch is being handled. */
  private batchesDone(): Promise<void> {
    if (this.deliveries === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Until the next assignment: nothing is handed over, what was fetched is fetched again. */
  private stopDelivery() {
    this.rejoining = true;
    for (const p of this.partitions.values()) this.dropFetched(p);
  }

  private assign(assignment: readonly TopicPartition[]) {
    const keys = new Set(assignment.map(keyOf));
    for (const [key, p] of this.partitions) {
      if (keys.has(key)) continue;
      p.generation++;
      p.queue.length = 0;
      this.partitions.delete(key);
    }
    for (const tp of assignment) {
      const key = keyOf(tp);
      const known = this.partitions.get(key);
      if (known) {
        // Kept: what was fetched before the rebalance is fetched again.
        known.held = false;
        known.answeredAt = Date.now();
        this.dropFetched(known);
        continue;
      }
      this.partitions.set(key, {
        topic: tp.topic,
        partition: tp.partition,
        key,
        fetchAt: undefined,
        reset: false,
        paused: false,
        held: false,
        generation: 0,
        seeks: 0,
        fetching: false,
        fetchBytes: this.options.maxBytesPerPartition,
        queue: [],
        delivering: false,
        answeredAt: Date.now(),
      });
    }
    this.rejoining = false;
    this.leadersStale = true;
  }

  /** Forgets what was fetched but not handled yet: it is fetched again from its start. */
  private dropFetched(p: FollowedPartition) {
    const first = p.queue[0];
    if (first) p.fetchAt = first.from;
    p.queue.length = 0;
    p.generation++;
  }

  private fetchable(p: FollowedPartition): boolean {
    return (
      !p.paused &&
      !p.held &&
      !p.fetching &&
      p.fetchAt !== undefined &&
      p.queue.length === 0 &&
      !this.rejoining
    );
  }

  /**
   * Keeps a fetch loop running for every broker that leads a partition with work,
   * positions new partitions and refreshes the leaders when a loop found them moved.
   */
  private async coordinate() {
    let backoff = RETRY_BACKOFF_MS;
    while (this.running) {
      try {
        if (!this.rejoining) {
          await this.position();
          if (this.leadersStale) await this.refreshLeaders();
          for (const p of this.partitions.values()) {
            if (!this.fetchable(p)) continue;
            const leader = this.leaders.get(p.key);
            if (!leader) {
              this.leadersStale = true;
              continue;
            }
            const broker = `${leader.host}:${leader.port}`;
            if (this.loops.has(broker)) continue;
            const loop = this.fetchFrom(leader, broker).finally(() => {
              this.loops.delete(broker);
              this.wake();
            });
            this.loops.set(broker, loop);
          }
        }
        backoff = RETRY_BACKOFF_MS;
        this.reportStalled();
        await this.sleep(this.leadersStale ? backoff : IDLE_CHECK_MS);
      } catch (error) {
        if (!this.running) return;
        // Denied access does not pass by retrying; anything else (a broker failing over,
        // an admin request that ran out of retries) is asked again.
        if (isSecurityError(error)) {
          this.crash(error);
          return;
        }
        this.logger.warn(
          "the consumer could not look up its partitions' positions or leaders; retrying",
          {
            group: this.options.groupId,
            error: rootMessage(error),
          },
        );
        await this.sleep(backoff);
        backoff = Math.min(MAX_RETRY_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /** Positions new partitions at the group's committed offsets, else as `fromBeginning` says. */
  private async position() {
    const waiting = [...this.partitions.values()].filter(
      (p) => p.fetchAt === undefined && !p.paused,
    );
    for (const topic of new Set(waiting.map((p) => p.topic))) {
      const generations = new Map(waiting.map((p) => [p, p.generation]));
      const committed = await this.admin.committedOffsets(this.options.groupId, topic);
      const marks = new Map((await this.admin.watermarks(topic)).map((w) => [w.partition, w]));
      for (const p of waiting) {
        if (p.topic !== topic || p.fetchAt !== undefined || p.generation !== generations.get(p))
          continue;
        const mark = marks.get(p.partition);
        const start =
          (p.reset ? undefined : committed.get(p.partition)) ??
          (this.options.fromBeginning ? mark?.low : mark?.high) ??
          "0";
        p.fetchAt = Number(start);
        p.reset = false;
      }
    }
  }

  /**
   * Warns, once per {@link STALL_WARN_MS}, of each partition that should be fetched but
   * was not answered for that long, with the state that says why: a chunk its handler
   * has not finished, a fetch in flight, no position or no known leader.
   */
  private reportStalled() {
    if (this.rejoining) return;
    const now = Date.now();
    for (const p of this.partitions.values()) {
      if (p.paused || p.held || now - p.answeredAt < STALL_WARN_MS) continue;
      p.answeredAt = now;
      const leader = this.leaders.get(p.key);
      this.logger.warn(`partition not fetched for ${STALL_WARN_MS / 1000} s`, {
        group: this.options.groupId,
        topic: p.topic,
        partition: p.partition,
        offset: p.fetchAt === undefined ? undefined : String(p.fetchAt),
        fetching: p.fetching,
        queued: p.queue.length,
        delivering: p.delivering,
        leader: leader ? `${leader.host}:${leader.port}` : undefined,
        leadersStale: this.leadersStale,
      });
    }
  }

  private async refreshLeaders() {
    this.leadersStale = false;
    for (const topic of this.subscribed) {
      const { leaders } = await this.lookupLeaders(topic);
      for (const [partition, address] of leaders)
        this.leaders.set(keyOf({ topic, partition }), address);
    }
  }

  /** Fetches the partitions `broker` leads until none of them has work. */
  private async fetchFrom(address: BrokerAddress, broker: string) {
    let backoff = RETRY_BACKOFF_MS;
    while (this.running && !this.rejoining) {
      const wanted = [...this.partitions.values()].filter((p) => {
        const leader = this.leaders.get(p.key);
        return this.fetchable(p) && leader?.host === address.host && leader.port === address.port;
      });
      if (wanted.length === 0) return;
      const asked = new Map(wanted.map((p) => [p.key, { p, generation: p.generation }]));
      for (const p of wanted) p.fetching = true;
      try {
        const connection = await this.connectionTo(address, broker);
        const body = await connection.request(
          FETCH_API_KEY,
          FETCH_VERSION,
          this.fetchRequest(wanted),
          (this.options.fetchMaxWaitMs ?? 500) + REQUEST_TIMEOUT_MS,
        );
        const response = decodeFetchResponse(body);
        if (response.errorCode !== 0) {
          throw new TokaError(
            TokaErrorCode.KafkaFailed,
            `broker ${broker} answered a fetch with ${describeKafkaError(response.errorCode)}`,
            { group: this.options.groupId, retriable: true },
          );
        }
        for (const fetched of response.partitions) {
          const entry = asked.get(keyOf(fetched));
          if (
            entry &&
            entry.generation === entry.p.generation &&
            this.partitions.get(entry.p.key) === entry.p
          )
            this.take(entry.p, fetched, broker);
        }
        backoff = RETRY_BACKOFF_MS;
      } catch (error) {
        if (!this.running) return;
        if (!isRetriableFailure(error)) {
          this.crash(error);
          return;
        }
        this.closeConnection(broker);
        this.leadersStale = true;
        this.logger.warn("fetching from a broker failed; retrying with fresh metadata", {
          group: this.options.groupId,
          broker,
          partitions: wanted.map((p) => p.key).join(", "),
          error: rootMessage(error),
        });
        await this.sleep(backoff);
        backoff = Math.min(MAX_RETRY_BACKOFF_MS, backoff * 2);
        return;
      } finally {
        for (const p of wanted) p.fetching = false;
      }
    }
  }

  private fetchRequest(partitions: readonly FollowedPartition[]): Buffer {
    const byTopic = new Map<string, FollowedPartition[]>();
    for (const p of partitions) {
      const list = byTopic.get(p.topic) ?? [];
      list.push(p);
      byTopic.set(p.topic, list);
    }
    let total = 0;
    for (const p of partitions) total += p.fetchBytes;
    return encodeFetchRequest({
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((p) => ({
          partition: p.partition,
          offset: p.fetchAt!,
          maxBytes: p.fetchBytes,
        })),
      })),
      maxWaitMs: this.options.fetchMaxWaitMs ?? 500,
      maxBytes: Math.min(FETCH_MAX_BYTES, total),
      readCommitted: this.options.readCommitted,
    });
  }

  /** Queues what a fetch answered for a partition, or acts on its error. */
  private take(p: FollowedPartition, fetched: FetchedPartition, broker: string) {
    const position = p.fetchAt!;
    p.answeredAt = Date.now();
    if (isKafkaErrorKind(fetched.errorCode, KafkaErrorKind.LeaderMoved)) {
      this.leadersStale = true;
      return;
    }
    if (fetched.errorCode === kafkaErrorCode("OFFSET_OUT_OF_RANGE")) {
      this.logger.warn(
        `offset ${position} is outside the partition's log (deleted by retention, or past its end); starting from the log's ${this.options.fromBeginning ? "start" : "end"}`,
        { group: this.options.groupId, topic: p.topic, partition: p.partition },
      );
      p.fetchAt = undefined;
      p.reset = true;
      return;
    }
    if (fetched.errorCode !== 0) {
      const denied = authorizationError(fetched.errorCode, { operation: "Read", topic: p.topic });
      if (denied) throw denied;
      this.logger.warn(
        `broker ${broker} answered a fetch with ${describeKafkaError(fetched.errorCode)}; retrying`,
        {
          group: this.options.groupId,
          topic: p.topic,
          partition: p.partition,
          offset: String(position),
        },
      );
      this.leadersStale = true;
      return;
    }
    const kept = keptBatches(
      fetched,
      position,
      Number.MAX_SAFE_INTEGER,
      this.options.readCommitted,
    );
    if (kept.nextOffset === position) {
      // Records there but no whole batch came back: the next batch is larger than what
      // was asked for (the broker returns none of it, or only a part).
      const end = this.options.readCommitted ? fetched.lastStableOffset : fetched.highWatermark;
      if (end > position) p.fetchBytes = Math.min(FETCH_MAX_BYTES, p.fetchBytes * 2);
      return;
    }
    p.fetchAt = kept.nextOffset;
    p.queue.push({
      from: position,
      batches: kept.batches,
      nextOffset: kept.nextOffset,
      highWatermark: fetched.highWatermark,
    });
    void this.deliver(p);
  }

  /** Hands a partition's fetched chunks to the handler, one after the other. */
  private async deliver(p: FollowedPartition) {
    if (p.delivering) return;
    p.delivering = true;
    this.deliveries++;
    try {
      while (p.queue.length > 0 && this.running && !this.rejoining && !p.held) {
        // Taken at once when free: the chunk leaves the queue before the fetch loop
        // builds its next request, which then asks for the partition's next chunk.
        if (!this.tryAcquireSlot()) await this.slotFreed();
        try {
          if (this.rejoining || this.partitions.get(p.key) !== p) return;
          const chunk = p.queue.shift();
          if (!chunk) return;
          this.wake();
          await this.handle(p, chunk);
        } finally {
          this.releaseSlot();
        }
      }
    } catch (error) {
      this.crash(error);
    } finally {
      p.delivering = false;
      this.deliveries--;
      if (this.deliveries === 0) for (const done of this.idle.splice(0)) done();
    }
  }

  private async handle(p: FollowedPartition, chunk: FetchedChunk) {
    const handlers = this.handlers!;
    const seeks = p.seeks;
    const records: BatchRecord[] = [];
    for (const batch of chunk.batches) {
      const reading = readBatch(
        p.topic,
        p.partition,
        batch,
        chunk.from,
        Number.MAX_SAFE_INTEGER,
        records,
      );
      if (reading) await reading;
    }
    // Sought while a compressed batch was decompressed (the handler sent the partition
    // back to an earlier position): the chunk was fetched from before the seek, and
    // handing it over would skip what lies between the two positions.
    if (p.seeks !== seeks) return;
    const highWatermark = String(chunk.highWatermark);
    let handled = true;
    if (records.length > 0) {
      try {
        handled = await handlers.onBatch({
          topic: p.topic,
          partition: p.partition,
          records,
          highWatermark,
          heartbeat: async () => this.stillMember(),
        });
      } catch (error) {
        if (isTokaError(error)) throw error;
        // Not toka's failure (a fenced producer: another member owns the partition
        // now): the batch waits for the group to give the partition out again.
        this.logger.warn("a batch was refused until the next rebalance", {
          group: this.options.groupId,
          topic: p.topic,
          partition: p.partition,
          error: rootMessage(error),
        });
        p.held = true;
        handled = false;
      }
    }
    if (handled) {
      handlers.onBatchDone?.(p, String(chunk.nextOffset - 1), highWatermark);
    } else if (p.seeks === seeks) {
      // Handed back without a seek: delivered again from its first record.
      p.fetchAt = chunk.from;
      p.generation++;
      p.queue.length = 0;
      this.wake();
    }
  }

  /** Whether a batch may still be written: the group did not start to give partitions out. */
  private stillMember(): boolean {
    if (this.rejoining || !this.running) return false;
    const confirmedAt = this.membership.memberConfirmedAt?.();
    return confirmedAt !== undefined && Date.now() - confirmedAt < this.options.sessionTimeoutMs;
  }

  private tryAcquireSlot(): boolean {
    if (this.inUse >= this.options.concurrency) return false;
    this.inUse++;
    return true;
  }

  /** Resolves with a slot handed over by {@link releaseSlot}. */
  private slotFreed(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot() {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.inUse--;
  }

  private connectionTo(address: BrokerAddress, broker: string): Promise<BrokerConnection> {
    let connection = this.connections.get(broker);
    if (!connection) {
      connection = BrokerConnection.open(address).then(async (c) => {
        await this.versions.check(c, address);
        return c;
      });
      connection.catch(() => this.connections.delete(broker));
      this.connections.set(broker, connection);
    }
    return connection.then((c) => (c.closed ? this.reopen(address, broker) : c));
  }

  private reopen(address: BrokerAddress, broker: string): Promise<BrokerConnection> {
    this.connections.delete(broker);
    return this.connectionTo(address, broker);
  }

  private closeConnection(broker: string) {
    const connection = this.connections.get(broker);
    this.connections.delete(broker);
    connection?.then(
      (c) => c.close(),
      () => {},
    );
  }

  private crash(error: unknown) {
    if (!this.running) return;
    this.running = false;
    this.wake();
    this.handlers?.onCrash(error);
  }

  /** Ends every {@link sleep}: there may be new work. */
  private wake() {
    for (const wakeUp of this.sleepers) wakeUp();
    this.sleepers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(wakeUp);
        resolve();
      }, ms);
      this.sleepers.add(wakeUp);
    });
  }
}

function keyOf(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

/** Connection failures, leader moves and timeouts pass; denied access and bugs do not. */
function isRetriableFailure(error: unknown): boolean {
  if ((error as Error | undefined)?.name === "BrokerConnectionError") return true;
  return (error as { retriable?: unknown } | undefined)?.retriable === true;
}
