import type { Codec } from "@toka/codec";
import type { Checkpoint, Storage } from "@toka/state-store";
import {
  type ClientProducer,
  heartbeatIntervalMs,
  type IncomingRecord,
  type OutgoingRecord,
  type ProducedBatch,
  type TopicPartitionOffset,
} from "./client/kafka-client.js";
import type { Clock } from "./clock.js";
import { CommitQueue } from "./commit-queue.js";
import { type ContextHost, MessageContext, messageId, TimerClock } from "./context.js";
import {
  appliedFromOrigin,
  appliedOffset,
  emptyDedup,
  rememberId,
  seenRecently,
  setApplied,
  setAppliedFromOrigin,
} from "./dedup-record.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import { eventTimeOf, isEventTime } from "./event-time.js";
import { PartitionState, type ProcessorEvents } from "./events.js";
import type { AnyContext, Callback, EventTimeExtractor, GroupGraph } from "./group-graph.js";
import { type KeyState, keyStorageEntry, keyTableRecord, storedKeyState } from "./key-state.js";
import { whileMember } from "./membership-guard.js";
import { callbackError, FailurePolicy, invalidKeyError } from "./message-failures.js";
import type { ResolvedProcessorOptions } from "./options.js";
import { PartitionTable, tableWriteOf } from "./partition-table.js";
import { PartitionTimers, TTL_TIMER } from "./partition-timers.js";
import { recordKey } from "./record-key.js";
import { ORIGIN_HEADER, type Origin, originSource, parseOrigin } from "./record-origin.js";
import { headerOf, recordBytes } from "./record-parts.js";
import { isRetriable, retrying } from "./retry.js";
import { StreamTime } from "./stream-time.js";
import { addToOffset, compareOffsets } from "./table-entry.js";
import { rawTableValues, tableEntryValues } from "./table-value-format.js";
import { inBatchSpan } from "./telemetry.js";
import { ID_HEADER } from "./topic-names.js";
import { inMessageSpan, tracingInstalled, withTraceContext } from "./trace-context.js";
import { WindowAggregation } from "./window-aggregation.js";
import type { WindowResult } from "./windowed-aggregate.js";
import { windowEndsChange, windowedTableStorage } from "./windowed-table-storage.js";
import { expiryBefore } from "./windows.js";
import { WriteBackCache } from "./write-back-cache.js";

/** What a partition processor needs from its processor. */
export interface PartitionHost {
  readonly graph: GroupGraph;
  readonly options: ResolvedProcessorOptions;
  /** The producer of this partition's batches (transactional per partition, or shared). */
  readonly producer: ClientProducer;
  /** The dead-letter topic's `max.message.bytes`: larger letters are cut to fit. */
  readonly deadLetterMaxBytes: number;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * Outside a batch, where no heartbeat can be sent: whether the group confirmed this
   * member recently enough that its partitions cannot have been given to another.
   */
  stillMember(): boolean;
  /**
   * Has the consumer fetch these topics of this partition again from these offsets: its
   * inputs, or its joined tables once they are restored.
   */
  readAgain(positions: ReadonlyMap<string, string>): void;
  /** Stops the processor: a failure outside a batch (a timed flush). */
  fail(error: TokaError): void;
  emit<E extends keyof ProcessorEvents>(event: E, ...args: ProcessorEvents[E]): void;
  lookup(table: string, key: string): Promise<unknown>;
  /** Time and the timers of commit retries and timed flushes. */
  readonly clock: Clock;
}

/**
 * The offset a table's checkpoint records after `count` records were produced to it
 * (`current` when none were). Without the exact end from the client, the first offset of
 * the batch is recorded instead: a recovery then re-applies this batch's own records,
 * which is harmless (they are the latest values, in order).
 */
function offsetAfter(
  produced: readonly ProducedBatch[],
  topic: string,
  partition: number,
  count: number,
  current: string,
): string {
  if (count === 0) return current;
  const batch = produced.find((b) => b.topic === topic && b.partition === partition);
  if (!batch || batch.baseOffset === "-1") return current;
  return batch.nextOffset ?? batch.baseOffset;
}

/** The table record of a key this message changes continues the message's trace too. */
function continueTrace(ctx: MessageContext<unknown>): void {
  ctx.traceHeaders = withTraceContext({});
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

/** What a message's callback did: its context, holding its effects, or why it failed. */
type CallbackOutcome = MessageContext<unknown> | TokaError;

/** The input positions a write covers: from the last write's to this one's. */
interface InputRange {
  readonly from: readonly TopicPartitionOffset[];
  readonly to: readonly TopicPartitionOffset[];
}

interface Handler {
  readonly codec: Codec<unknown>;
  readonly callback: Callback<AnyContext, unknown>;
  readonly eventTime?: EventTimeExtractor<unknown> | undefined;
  /**
   * Whether its messages move the stream time: inputs do; the loop does not, since its
   * records carry the time they were written, not an event time.
   */
  readonly movesStreamTime: boolean;
  /** The source that the records its callback produces name as their origin. */
  readonly origin: string;
}

/** Records of a flush's other state: windows and timers (see `produceOnce`). */
interface StateRecords {
  readonly beforeTable: readonly OutgoingRecord[];
  readonly afterTable: readonly OutgoingRecord[];
}

const NO_STATE_RECORDS: StateRecords = { beforeTable: [], afterTable: [] };

/** A windowed aggregate of this partition: its windows in memory and its local copy. */
interface WindowedState {
  readonly aggregation: WindowAggregation;
  readonly table: PartitionTable;
}

/** The timers of this partition and their local copy. */
interface TimersState {
  readonly timers: PartitionTimers;
  readonly table: PartitionTable;
}

/** How often a running partition looks for wall-clock timers that came due. */
const WALL_TIMER_TICK_MS = 1_000;

/** The first and the longest wait before a batch whose writes failed is sent again. */
const FIRST_REDO_BACKOFF_MS = 500;
const MAX_REDO_BACKOFF_MS = 5_000;

/** Ends a batch's write retries: the partition is closing or may be another's by now. */
const PARTITION_LEFT = new Error("the partition left this member");

/** Messages between heartbeats within a batch: long batches keep the group membership. */
const HEARTBEAT_EVERY = 1_000;

/**
 * Processes one partition of a group: recovers its table partition into local storage,
 * then runs batches of input messages through the callbacks (ARCHITECTURE §4):
 * one storage read per batch, callbacks in offset order against an in-memory overlay,
 * one produce, one atomic storage write with the checkpoint, then the offset commit.
 */
export class PartitionProcessor {
  state: PartitionState = PartitionState.Recovering;
  /**
   * Next table offset to apply (everything before is in storage): the table's position
   * after opening and restoring, then moved by each flush.
   */
  tableOffset = "0";
  /** Per input topic (and the loop): the next offset to process. */
  readonly inputOffsets = new Map<string, string>();
  /** Per input topic: the high watermark seen in the last batch, for lag. */
  readonly highWatermarks = new Map<string, string>();
  /**
   * Per input topic: how far fetching got, past transaction markers too (which never
   * reach a batch). Only for lag: a log written in transactions ends in a marker.
   */
  readonly readPositions = new Map<string, string>();
  private checkpointed: Checkpoint | undefined;
  private recoveryStart = Date.now();
  /** Changed keys and a transaction's emits, written at the next flush. */
  private readonly cache: WriteBackCache<KeyState>;
  /**
   * Per input topic, the position the last flush wrote (and committed, or will): where a
   * dropped cache goes back to.
   */
  private readonly flushedInputs = new Map<string, string>();
  /** Cancels the timed flush of a cache that no batch flushed. */
  private cancelFlush: (() => void) | undefined;
  /** Times the write-back cache was dropped: a batch fetched before a drop is refused. */
  private unflushedDrops = 0;
  /** Stops the restores of the tables when the partition is closed. */
  private readonly restoring = new AbortController();
  /** The local copy of this partition of the group's table, when it has one. */
  private readonly table: PartitionTable | undefined;
  private readonly handlers = new Map<string, Handler>();
  private readonly group: string;
  private readonly exactlyOnce: boolean;
  /** Local copies of this partition of every joined table, by table topic. */
  private readonly joinedTables = new Map<string, PartitionTable>();
  /** The windowed aggregates, by name. */
  private readonly windowed = new Map<string, WindowedState>();
  private readonly aggregateNames: ReadonlySet<string>;
  /** The group's timers, when it has a timer callback or a table time-to-live. */
  private readonly timers: TimersState | undefined;
  /** Stops looking for due wall-clock timers. */
  private cancelWallTick: (() => void) | undefined;
  /** Stops hearing of the clock's jumps (a test's clock). */
  private stopAdvanceListener: (() => void) | undefined;
  private readonly commits: CommitQueue;
  private readonly failures: FailurePolicy;
  /** The highest event time of the messages processed (see stream-time.ts). */
  private readonly streamTime = new StreamTime();
  /** Serializes everything done to this partition: batches of all its topics and closing. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: PartitionHost,
    readonly partition: number,
    /** The storage of {@link table}, which opens and closes it; batches read it directly. */
    private readonly storage: Storage | undefined,
    joinStorages: ReadonlyMap<string, Storage> = new Map(),
    /** The storages of the windowed aggregates' windows, by aggregate name. */
    windowStorages: ReadonlyMap<string, Storage> = new Map(),
    /** The storage of the group's timers, when it has any. */
    timerStorage?: Storage,
  ) {
    const { graph, options } = host;
    this.group = graph.name;
    this.exactlyOnce = options.guarantee !== "at-least-once";
    this.cache = new WriteBackCache(
      { intervalMs: options.commitIntervalMs, maxBytes: options.cacheMaxBytes },
      () => host.clock.now(),
    );
    this.failures = new FailurePolicy({
      policy: options.errorPolicy,
      deadLetterTopic: graph.deadLetterTopic,
      deadLetterMaxBytes: host.deadLetterMaxBytes,
      emit: (event, ...args) => host.emit(event, ...args),
    });
    this.commits = new CommitQueue({
      group: this.group,
      partition,
      logger: options.logger,
      clock: host.clock,
      commit: (offsets) => host.commit(offsets),
      emit: (event, ...args) => host.emit(event, ...args),
    });
    for (const edge of graph.inputs)
      this.handlers.set(edge.topic, {
        codec: edge.codec,
        callback: edge.callback,
        eventTime: edge.eventTime as EventTimeExtractor<unknown> | undefined,
        movesStreamTime: true,
        origin: originSource(this.group, edge.topic, partition),
      });
    const { logger } = options;
    if (storage)
      this.table = new PartitionTable({
        topic: graph.tableTopic,
        partition,
        storage,
        format: tableEntryValues(this.exactlyOnce),
        logger,
        group: this.group,
      });
    for (const [topic, storage] of joinStorages)
      this.joinedTables.set(
        topic,
        new PartitionTable({
          topic,
          partition,
          storage,
          format: rawTableValues,
          logger,
          group: this.group,
        }),
      );
    this.aggregateNames = new Set(graph.windows.keys());
    if (graph.timersTopic && timerStorage) {
      const { store, storage } = windowedTableStorage(timerStorage);
      this.timers = {
        timers: new PartitionTimers(store, graph.timersTopic, partition),
        table: new PartitionTable({
          topic: graph.timersTopic,
          partition,
          storage,
          format: rawTableValues,
          logger,
          group: this.group,
        }),
      };
    }
    for (const [name, raw] of windowStorages) {
      const definition = graph.windows.get(name)!;
      const topic = graph.windowTopics.get(name)!;
      const { store, storage } = windowedTableStorage(raw, {
        endsChange: windowEndsChange(definition),
      });
      this.windowed.set(name, {
        aggregation: new WindowAggregation(definition, store, {
          group: this.group,
          partition,
          topic,
          exactlyOnce: this.exactlyOnce,
          dedupIdsPerKey: options.dedupIdsPerKey,
          dedupMaxAgeMs: options.dedupMaxAgeMs,
          outputCodec:
            definition.output === undefined
              ? undefined
              : (graph.outputs.get(definition.output) as Codec<WindowResult<unknown>>),
        }),
        table: new PartitionTable({
          topic,
          partition,
          storage,
          format: rawTableValues,
          logger,
          group: this.group,
        }),
      });
    }
    if (graph.loop) {
      const { codec, callback } = graph.loop;
      this.handlers.set(graph.loopTopic, {
        codec,
        callback: callback as Callback<AnyContext, unknown>,
        movesStreamTime: false,
        origin: originSource(this.group, graph.loopTopic, partition),
      });
    }
  }

  /** Opens the tables' storage and reads the checkpoint; returns the table offset to recover from. */
  open(): Promise<string> {
    // Serialized: batches that arrive meanwhile wait for the storage to be open.
    return this.serialize(async () => {
      for (const table of this.joinedTables.values()) await table.open();
      // A flush writes the windows, then the group table: the last one written carries
      // the checkpoint that everything else is at least at.
      let checkpointed: Checkpoint | undefined;
      for (const { table } of this.windowed.values())
        checkpointed = (await table.open()).checkpoint;
      if (this.timers) checkpointed = (await this.timers.table.open()).checkpoint;
      if (this.table) {
        checkpointed = (await this.table.open()).checkpoint;
        this.tableOffset = this.table.position;
      }
      this.checkpointed = checkpointed;
      this.streamTime.continueFrom(checkpointed?.streamTime);
      for (const [topic, offset] of Object.entries(this.checkpointed?.inputOffsets ?? {})) {
        this.inputOffsets.set(topic, offset);
      }
      return this.tableOffset;
    });
  }

  /**
   * Continues from the stream time the group's offset commits carried, when it is later
   * than the local checkpoint's (a new owner, or local state deleted).
   */
  continueStreamTime(committed: number | undefined): void {
    this.streamTime.continueFrom(committed);
  }

  /** The partition's stream time; -1 before any message moved it. */
  get currentStreamTime(): number {
    return this.streamTime.current;
  }

  /** The input offsets the last checkpoint recorded. */
  checkpointedInputs(): ReadonlyMap<string, string> {
    return new Map(Object.entries(this.checkpointed?.inputOffsets ?? {}));
  }

  /** The group's table, the joined tables, the windows and timers: what recovery restores. */
  private tables(): PartitionTable[] {
    const own = [...this.windowed.values()].map((w) => w.table);
    if (this.timers) own.push(this.timers.table);
    return this.table
      ? [this.table, ...this.joinedTables.values(), ...own]
      : [...this.joinedTables.values(), ...own];
  }

  /**
   * Starts recovery up to the high watermarks, taken at assignment, of the table
   * partition and of the joined tables' and windowed tables' partitions (`watermarks`, by
   * topic); true if there is nothing to read.
   */
  beginRecovery(
    highWatermark: string,
    watermarks: ReadonlyMap<string, string> = new Map(),
  ): boolean {
    this.recoveryStart = Date.now();
    this.table?.recoverTo(highWatermark);
    for (const [topic, table] of this.joinedTables) table.recoverTo(watermarks.get(topic) ?? "0");
    for (const { table } of this.windowed.values())
      table.recoverTo(watermarks.get(table.topic) ?? "0");
    this.timers?.table.recoverTo(watermarks.get(this.timers.table.topic) ?? "0");
    return this.maybeRecovered();
  }

  /**
   * Restores the group's table and the joined tables from their checkpoints up to the
   * recovery targets, in parallel, through toka's log reader (never through the group
   * consumer, which holds the joined tables back until then); true once the partition is
   * recovered. A restore stopped by {@link close} resolves false.
   */
  async restore(): Promise<boolean> {
    if (this.state !== PartitionState.Recovering) return false;
    const pending = this.tables().filter((table) => !table.recovered);
    const restored = await Promise.all(
      pending.map((table) =>
        table.restore({
          client: this.host.options.client,
          signal: this.restoring.signal,
          onProgress: () => this.reportRecovery(),
        }),
      ),
    );
    if (restored.includes(false)) return false;
    return this.serialize(async () => {
      if (this.table) this.tableOffset = this.table.position;
      return this.maybeRecovered();
    });
  }

  private reportRecovery() {
    if (this.state !== PartitionState.Recovering) return;
    let recovered = 0;
    let remaining = 0;
    for (const table of this.tables()) {
      recovered += table.recoveredRecords;
      remaining += table.remaining;
    }
    this.host.emit("partition.recovering", {
      partition: this.partition,
      recovered,
      total: recovered + remaining,
    });
  }

  /** Table offsets still to restore while recovering; undefined once running. */
  recoveryRemaining(): number | undefined {
    if (this.state !== PartitionState.Recovering) return undefined;
    let remaining = 0;
    for (const table of this.tables()) remaining += table.remaining;
    return remaining;
  }

  /**
   * Once every table reached its target: the partition runs, and the consumer follows the
   * joined tables from where their restores ended.
   */
  private maybeRecovered(): boolean {
    if (this.state !== PartitionState.Recovering) return false;
    const tables = this.tables();
    if (!tables.every((table) => table.recovered)) return false;
    this.state = PartitionState.Running;
    if (this.timers) {
      this.tickWallTimers();
      this.stopAdvanceListener = this.host.clock.onAdvance?.(() => void this.fireWallTimers());
    }
    if (this.joinedTables.size > 0)
      this.host.readAgain(
        new Map([...this.joinedTables].map(([topic, table]) => [topic, table.position])),
      );
    let records = 0;
    for (const table of tables) records += table.recoveredRecords;
    this.host.emit("partition.recovered", {
      partition: this.partition,
      records,
      durationMs: Date.now() - this.recoveryStart,
    });
    return true;
  }

  /**
   * Applies a batch of a joined table the consumer follows. Batches fetched while the
   * partition recovers are refused: the consumer reads them again from where the
   * table's restore ended (see {@link maybeRecovered}).
   * @returns whether the batch was applied.
   */
  applyJoinBatch(topic: string, records: readonly IncomingRecord[]): Promise<boolean> {
    // Decided on arrival: a batch fetched before the seek to the restored position must
    // not be applied after it.
    if (this.state !== PartitionState.Running) return Promise.resolve(false);
    return this.serialize(async () => {
      if (this.state !== PartitionState.Running) return false;
      await this.joinedTables.get(topic)?.apply(records);
      return true;
    });
  }

  /** Told after each applied batch of a joined table, also ones holding only markers. */
  noteJoinProgress(topic: string, lastOffset: string): void {
    if (this.state === PartitionState.Running)
      this.joinedTables.get(topic)?.noteProgress(lastOffset);
  }

  /** Told after each handled batch of an input topic, also ones holding only markers. */
  noteInputEnd(topic: string, lastOffset: string): void {
    // While recovering, fetched input batches are handed back, not processed.
    if (this.state !== PartitionState.Running) return;
    const next = addToOffset(lastOffset, 1);
    const read = this.readPositions.get(topic);
    if (read === undefined || compareOffsets(next, read) > 0) this.readPositions.set(topic, next);
  }

  /** Runs a batch of one input topic (or the loop) through the callbacks. */
  processBatch(
    topic: string,
    records: readonly IncomingRecord[],
    highWatermark: string,
    heartbeat: () => Promise<boolean> = async () => true,
  ): Promise<boolean> {
    const attributes = {
      "toka.group": this.group,
      "toka.topic": topic,
      "toka.partition": this.partition,
      "toka.messages": records.length,
    };
    // A batch fetched before a dropped cache sent the inputs back (it waited behind the
    // drop, e.g. a timed flush or another input's batch) starts past where they stand:
    // handed back, it is fetched again from there.
    const drops = this.unflushedDrops;
    return this.serialize(async () => {
      if (drops !== this.unflushedDrops) return false;
      return inBatchSpan(attributes, () => this.runBatch(topic, records, highWatermark, heartbeat));
    });
  }

  /**
   * Commits an input position without waiting for it (see {@link CommitQueue}), with the
   * stream time as its metadata: a commit without it would erase the stored one.
   */
  commitLater(position: TopicPartitionOffset): void {
    const metadata = position.metadata ?? this.streamTime.commitMetadata();
    this.commits.commitLater(metadata === undefined ? position : { ...position, metadata });
  }

  /**
   * Resolves once the work queued on the partition is done: a batch, a timed flush, a
   * timer's writes. Commits may still be in flight.
   */
  writesDone(): Promise<void> {
    return this.serialize(async () => {});
  }

  /** Resolves once the in-flight batch and the commits of finished batches are done. */
  async settle(): Promise<void> {
    await this.writesDone();
    await this.commits.settled();
  }

  /** Waits for the in-flight batch and its commit, then closes storage. */
  close(): Promise<void> {
    this.state = PartitionState.Closing;
    this.restoring.abort(new Error("the partition was closed"));
    this.cancelFlushTimer();
    this.cancelWallTick?.();
    this.stopAdvanceListener?.();
    this.commits.close();
    return this.serialize(async () => {
      await this.commits.settled();
      for (const table of this.tables()) await table.close();
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Resolves `false` when the batch was left unwritten: the partition is closing, or the
   * group is rebalancing (its new owner, maybe this instance again, reads it again).
   */
  private async runBatch(
    topic: string,
    incoming: readonly IncomingRecord[],
    highWatermark: string,
    heartbeat: () => Promise<boolean>,
  ): Promise<boolean> {
    if (this.state !== PartitionState.Running) return false;
    const started = Date.now();
    this.highWatermarks.set(topic, highWatermark);
    const from = this.inputOffsets.get(topic);
    // Records before the position were fetched before a seek took effect: already done.
    // A batch is in offset order, so only one that starts before it needs filtering.
    const first = incoming[0];
    const records =
      from !== undefined && first !== undefined && compareOffsets(first.offset, from) < 0
        ? incoming.filter((r) => compareOffsets(r.offset, from) >= 0)
        : incoming;
    const last = records.at(-1);
    if (!last) return true;
    const handler = this.handlers.get(topic);
    if (!handler)
      throw this.error(TokaErrorCode.InvalidState, `no callback for topic "${topic}"`, { topic });
    await this.loadWindows();

    // A record without a valid key reads no key state: it is invalid input (see below).
    const keys = records.map(recordKey);
    const validKeys = keys.filter((key) => key !== undefined);
    const { states, cacheHits, storageReads } = await this.readKeys(validKeys);
    const joined = await this.readJoins(validKeys);
    const position = { offset: "" };
    // Asked once per batch: without an SDK, a span per message is pure overhead.
    const traced = tracingInstalled();
    const host = this.batchHost(states, joined, position, traced);
    const out: OutgoingRecord[] = [];
    // Stream-time timers fire before the message that moves stream time past them: a
    // key's own message never hides the timer it comes too late for.
    const fireDue = this.timers
      ? () => this.fireTimers(TimerClock.Stream, this.streamTime.current, out, traced, states)
      : undefined;
    let processed = 0;
    let redelivered = 0;
    let duplicates = 0;
    let failed = 0;

    for (let i = 0; i < records.length; i++) {
      // Handed back for a rebalance: what the cache holds and this batch did so far (keys'
      // states changed in place, windows, stream time) is dropped, and read again.
      if (i % HEARTBEAT_EVERY === HEARTBEAT_EVERY - 1 && !(await heartbeat()))
        return this.dropUnflushed();
      const record = records[i]!;
      const key = keys[i];
      if (key === undefined) {
        failed += 1;
        const error = invalidKeyError(
          { group: this.group, topic, partition: this.partition, offset: record.offset },
          record.key,
        );
        const deadLetter = this.failures.apply(error, record);
        if (deadLetter) out.push(deadLetter);
        continue;
      }
      const offset = record.offset;
      const explicitId = headerOf(record, ID_HEADER);
      const state = states.get(key);
      let origin: Origin | undefined;
      if (state && this.exactlyOnce) {
        state.dedup ??= emptyDedup();
        const dedup = state.dedup;
        const applied = appliedOffset(dedup, topic);
        if (applied !== undefined && compareOffsets(offset, applied) <= 0) {
          redelivered += 1;
          continue;
        }
        setApplied(dedup, topic, offset);
        state.dirty = true;
        origin = parseOrigin(headerOf(record, ORIGIN_HEADER));
        if (
          (origin !== undefined && appliedFromOrigin(dedup, topic, origin)) ||
          (explicitId !== undefined &&
            seenRecently(dedup, explicitId, record.timestamp, this.host.options.dedupMaxAgeMs))
        ) {
          dedup.duplicates += 1;
          duplicates += 1;
          this.host.emit("message.duplicate", {
            topic,
            partition: this.partition,
            offset,
            key,
            id: explicitId ?? messageId(topic, this.partition, offset),
          });
          continue;
        }
      }

      position.offset = offset;
      const ran = this.runCallback(handler, record, key, offset, explicitId, host, traced, fireDue);
      const outcome = ran instanceof Promise ? await ran : ran;
      // Not `instanceof TokaError`: a callback may throw another copy's branded error.
      if (!(outcome instanceof MessageContext)) {
        failed += 1;
        const deadLetter = this.failures.apply(outcome, record);
        if (deadLetter) out.push(deadLetter);
        continue;
      }
      const ctx = outcome;
      if (ctx.aggregates) {
        const failure = this.aggregate(ctx, record, out);
        if (failure) {
          failed += 1;
          const deadLetter = this.failures.apply(failure, record);
          if (deadLetter) out.push(deadLetter);
          continue;
        }
      }
      processed += 1;
      this.applyEffects(ctx, state, explicitId, out);
      // Only explicit IDs can repeat: an offset-based ID is unique, and its redelivery is
      // caught by the applied offsets.
      if (state?.dedup && explicitId !== undefined)
        rememberId(state.dedup, explicitId, record.timestamp, this.host.options.dedupIdsPerKey);
      if (state?.dedup && origin !== undefined) setAppliedFromOrigin(state.dedup, topic, origin);
    }
    await this.fireTimers(TimerClock.Stream, this.streamTime.current, out, traced, states);

    const nextInput = addToOffset(last.offset, 1);
    // Where this topic's inputs stand in what is written: a dropped cache goes back there.
    if (!this.flushedInputs.has(topic)) this.flushedInputs.set(topic, from ?? records[0]!.offset);
    if (!(await heartbeat())) return this.dropUnflushed();
    if (this.host.options.guarantee === "exactly-once-transactional") {
      // Committed with the flush's table records and offsets, in one transaction.
      for (const r of out) this.cache.records.push(r);
    } else if (out.length > 0) {
      // Out now, before the table records that mark their inputs applied (see produce).
      if (!(await this.produce([], out, heartbeat))) return this.dropUnflushed();
    }
    for (const [key, state] of states) if (state.dirty) this.cache.set(key, state);
    this.inputOffsets.set(topic, nextInput);
    let bytes = 0;
    for (const r of records) bytes += recordBytes(r);
    this.cache.noteInput(bytes);
    // Before the flush, so that a partition.flushed makes every batch reported before durable.
    this.host.emit("batch.processed", {
      topic,
      partition: this.partition,
      processed,
      redelivered,
      duplicates,
      failed,
      cacheHits,
      storageReads,
      durationMs: Date.now() - started,
    });
    // At the end of the log (a transaction's commit marker may follow the last record):
    // written at once, so that nothing waits while the input is quiet.
    const caughtUp = BigInt(highWatermark) - BigInt(nextInput) <= 1n;
    const ownState = this.storage || this.windowed.size > 0 || this.timers;
    if (!ownState || this.cache.isDue(caughtUp)) {
      if (!(await this.flush(heartbeat))) return this.dropUnflushed();
    } else {
      this.flushLater();
    }
    return true;
  }

  /**
   * Writes the write-back cache: the changed keys' table records (and, in a
   * transaction, the batches' emits with the input offsets), then one atomic local
   * write of the keys with the checkpoint, then the offset commits. False when the
   * partition is closing or the group rebalances first: nothing of it is committed.
   */
  private async flush(heartbeat: () => Promise<boolean>): Promise<boolean> {
    try {
      return await this.writeCache(heartbeat);
    } catch (error) {
      // Not written, or not all of it: nothing of it may be written later either.
      this.dropUnflushed();
      throw error;
    }
  }

  private async writeCache(heartbeat: () => Promise<boolean>): Promise<boolean> {
    const started = Date.now();
    const changed = this.cache.changed();
    const tableRecords = this.tableRecords(changed);
    const to: TopicPartitionOffset[] = [];
    const from: TopicPartitionOffset[] = [];
    const metadata = this.streamTime.commitMetadata();
    for (const [topic, offset] of this.inputOffsets) {
      const flushed = this.flushedInputs.get(topic);
      if (flushed === undefined || flushed === offset) continue;
      to.push(
        metadata === undefined
          ? { topic, partition: this.partition, offset }
          : { topic, partition: this.partition, offset, metadata },
      );
      from.push({ topic, partition: this.partition, offset: flushed });
    }
    // Windows closed by the stream time this write records emit their final results in it:
    // whatever is written with a stream time has emitted what closed by then, so that a
    // new owner loading the windows still open at that time misses none.
    const finals: OutgoingRecord[] = [];
    for (const { aggregation } of this.windowed.values())
      for (const result of aggregation.close(this.streamTime.current)) finals.push(result);
    const windowWrites = [...this.windowed.values()].map((windowed) => ({
      ...windowed,
      records: windowed.aggregation.records(),
    }));
    const timerRecords = this.timers?.timers.records() ?? { scheduled: [], fired: [] };
    const others = finals.length > 0 ? [...this.cache.records, ...finals] : this.cache.records;
    const produced = await this.produce(
      tableRecords,
      others,
      heartbeat,
      { from, to },
      {
        beforeTable: [...windowWrites.flatMap((w) => w.records), ...timerRecords.scheduled],
        afterTable: timerRecords.fired,
      },
    );
    if (!produced) return false;
    await heartbeat();
    // The windows first: the group table's checkpoint is the one recovery trusts.
    for (const { aggregation, table, records } of windowWrites) {
      await this.writeLocally(table, records, produced);
      aggregation.markWritten();
    }
    if (this.timers) {
      const records = [...timerRecords.scheduled, ...timerRecords.fired];
      await this.writeLocally(this.timers.table, records, produced);
      this.timers.timers.written();
    }
    this.reportTableGap(produced, tableRecords.length);
    const tableOffset = offsetAfter(
      produced,
      this.host.graph.tableTopic,
      this.partition,
      tableRecords.length,
      this.tableOffset,
    );
    if (this.storage) {
      const puts = new Map<string, Uint8Array>();
      const deletes = new Set<string>();
      for (const [key, state] of changed) {
        const entry = keyStorageEntry(state);
        if (entry === undefined) deletes.add(key);
        else puts.set(key, entry);
      }
      await this.write({
        puts,
        deletes,
        tableOffset,
        inputOffsets: this.currentInputOffsets(),
        streamTime: this.streamTime.stored,
      });
    }
    this.tableOffset = tableOffset;
    this.streamTime.markWritten();
    await this.expireWindows();
    for (const [topic, offset] of this.inputOffsets) this.flushedInputs.set(topic, offset);
    this.cache.clear();
    this.cancelFlushTimer();
    if (this.host.options.guarantee !== "exactly-once-transactional")
      for (const position of to) this.commitLater(position);
    this.host.emit("partition.flushed", {
      partition: this.partition,
      tableRecords: tableRecords.length,
      durationMs: Date.now() - started,
    });
    return true;
  }

  /**
   * Writes the records a flush produced to one of the partition's own tables (windows,
   * timers) to its local copy, with the checkpoint of the flush.
   */
  private writeLocally(
    table: PartitionTable,
    records: readonly OutgoingRecord[],
    produced: readonly ProducedBatch[],
  ): Promise<boolean> {
    const { topic, position } = table;
    return table.write({
      ...tableWriteOf(records),
      tableOffset: offsetAfter(produced, topic, this.partition, records.length, position),
      inputOffsets: this.currentInputOffsets(),
      streamTime: this.streamTime.stored,
    });
  }

  /**
   * Forgets what the write-back cache holds and goes back to the last flush: its inputs
   * are read again (see {@link unflushedFrom}). What was emitted meanwhile is emitted
   * again, with the same derived IDs.
   */
  private dropUnflushed(): false {
    this.unflushedDrops += 1;
    this.cache.clear();
    // Read again from the window stores, which hold what the last flush wrote.
    for (const { aggregation } of this.windowed.values()) aggregation.reset();
    this.timers?.timers.dropped();
    this.streamTime.dropUnwritten();
    this.host.emit("partition.unflushed-dropped", { partition: this.partition });
    for (const [topic, offset] of this.flushedInputs) this.inputOffsets.set(topic, offset);
    // Fetched from where the inputs stand now, whoever dropped the cache (a batch, a timed
    // flush, wall-clock timers): a batch fetched from further on would skip the rest.
    if (this.state === PartitionState.Running) this.host.readAgain(this.unflushedFrom());
    return false;
  }

  /**
   * Writes the write-back cache now, if the partition still processes and it holds
   * anything: before a graceful shutdown leaves the group, so that the next owner does
   * not redo it, and when a backlog stopped short of its log's end (a last batch that
   * ended before an aborted transaction's records).
   */
  flushNow(): Promise<void> {
    this.cancelFlushTimer();
    return this.serialize(() => this.flushCache());
  }

  /**
   * Without transactions (whose markers take offsets between two writes) this instance's
   * table records follow one another: a write that starts past where its last write or
   * restore ended means records in between that the local table does not hold (another
   * member wrote the partition meanwhile, or a write was sent twice after a lost
   * acknowledgement). Logged as an error with the offsets, as evidence: the cluster
   * scaling test has seen table records written on stale key states.
   */
  private reportTableGap(produced: readonly ProducedBatch[], count: number) {
    if (count === 0 || this.host.options.guarantee === "exactly-once-transactional") return;
    const batch = produced.find(
      (b) => b.topic === this.host.graph.tableTopic && b.partition === this.partition,
    );
    if (!batch || batch.baseOffset === "-1" || batch.baseOffset === this.tableOffset) return;
    this.host.options.logger.error(
      "the table partition holds records this instance did not write since its last write or restore: its local table may be behind",
      {
        group: this.group,
        topic: this.host.graph.tableTopic,
        partition: this.partition,
        tableOffset: this.tableOffset,
        baseOffset: batch.baseOffset,
      },
    );
  }

  /** {@link flushNow}'s work, inside the partition's queue. */
  private async flushCache(): Promise<void> {
    if (this.state !== PartitionState.Running || this.cache.isEmpty()) return;
    // No batch, so no heartbeat to send: the write goes on while the group's last
    // confirmation of this member is recent, and is left to the next owner otherwise.
    const member = async () => this.host.stillMember();
    if (!(await this.flush(member))) this.dropUnflushed();
  }

  /** Flushes after the commit interval unless a batch does it first. */
  private flushLater() {
    if (this.cancelFlush) return;
    this.cancelFlush = this.host.clock.schedule(this.host.options.commitIntervalMs, () => {
      this.cancelFlush = undefined;
      // Not confirmed lately (a rebalance under way, a busy fetch loop): tried again after
      // another interval, unless a batch flushes first.
      if (!this.host.stillMember()) return this.flushLater();
      this.flushNow().catch((error) =>
        this.host.fail(
          isTokaError(error)
            ? error
            : this.error(TokaErrorCode.ProduceFailed, "writing the write-back cache failed", {
                cause: error,
              }),
        ),
      );
    });
  }

  private cancelFlushTimer() {
    this.cancelFlush?.();
    this.cancelFlush = undefined;
  }

  /** Per input topic, the position to read again from after a batch was left unwritten. */
  unflushedFrom(): ReadonlyMap<string, string> {
    return this.inputOffsets;
  }

  /**
   * Applies what a callback that returned did, besides its aggregates: its key's table
   * change (and the key's time-to-live), its timers, its records.
   */
  private applyEffects(
    ctx: MessageContext<unknown>,
    state: KeyState | undefined,
    explicitId: string | undefined,
    out: OutgoingRecord[],
  ): void {
    const timers = this.timers?.timers;
    if (state && ctx.change) {
      state.value = ctx.change.kind === "set" ? ctx.change.value : undefined;
      state.encoded = undefined;
      state.dirty = true;
      state.lastTopic = ctx.topic;
      state.lastOffset = ctx.offset;
      state.lastExplicitId = explicitId;
      state.lastTrace = ctx.traceHeaders;
      const ttl = this.host.graph.ttl;
      if (ttl && timers) {
        if (ctx.change.kind === "delete") timers.cancel(ctx.key, TTL_TIMER);
        else {
          const now = ttl.clock === TimerClock.Wall ? this.host.clock.now() : ctx.streamTime;
          const seq = this.nextTimerSeq(state, TTL_TIMER);
          timers.schedule(ctx.key, TTL_TIMER, now + ttl.ms, ttl.clock, seq);
        }
      }
    }
    // Most messages schedule nothing: no array is made for them.
    if (ctx.timers)
      for (const change of ctx.timers) {
        if (change.kind === "schedule") {
          const seq = this.nextTimerSeq(state, change.name);
          timers!.schedule(ctx.key, change.name, change.at, change.clock, seq);
        } else timers!.cancel(ctx.key, change.name);
      }
    if (ctx.records.length > 0) for (const r of ctx.records) out.push(r);
  }

  /**
   * The sequence of a timer `name` of the key of `state` scheduled now: one more than its
   * last firing's (see `KeyTimer.seq`); 0 where firings are not deduplicated.
   */
  private nextTimerSeq(state: KeyState | undefined, name: string): number {
    if (!this.exactlyOnce || !state?.dedup) return this.exactlyOnce && state ? 1 : 0;
    const applied = appliedOffset(state.dedup, this.firingsTopic(name));
    return applied === undefined ? 1 : Number(applied) + 1;
  }

  /** Where a key's dedup state keeps the sequence of the last firing of timer `name`. */
  private firingsTopic(name: string): string {
    return `${this.timers!.table.topic}/${name}`;
  }

  /**
   * Fires the timers due on `clock` at `now`, in time order: a table's time-to-live
   * deletes its key; the others run the group's timer callback, whose effects are
   * applied like a message's. Under exactly-once a firing counts as applied to its key
   * (its sequence, per timer name, in the key's dedup state), so a timer fired again
   * after a crash changes nothing twice. `batchStates` are the states of the keys
   * of the batch just processed (not in the write-back cache yet): a timer of one of
   * them changes the same state.
   * @returns how many timers fired.
   */
  private async fireTimers(
    clock: TimerClock,
    now: number,
    out: OutgoingRecord[],
    traced: boolean,
    batchStates: ReadonlyMap<string, KeyState> = new Map(),
  ): Promise<number> {
    const timers = this.timers;
    if (!timers || now < 0) return 0;
    const due = await timers.timers.due(clock, now);
    if (due.length === 0) return 0;
    const keys = due.map((timer) => timer.key);
    const states = new Map(batchStates);
    const read = await this.readKeys(keys.filter((key) => !states.has(key)));
    for (const [key, state] of read.states) states.set(key, state);
    const joined = await this.readJoins(keys);
    const position = { offset: "" };
    const host = this.batchHost(states, joined, position, traced);
    const topic = timers.table.topic;
    for (const timer of due) {
      if (!timers.timers.isCurrent(timer)) continue;
      timers.timers.fired(timer);
      const state = states.get(timer.key);
      const offset = String(timer.at);
      const explicitId = `${this.group}/timer/${timer.clock}/${timer.name}/${timer.key}/${timer.at}/${timer.seq}`;
      if (state && this.exactlyOnce) {
        state.dedup ??= emptyDedup();
        const firings = this.firingsTopic(timer.name);
        const applied = appliedOffset(state.dedup, firings);
        if (applied !== undefined && compareOffsets(String(timer.seq), applied) <= 0) continue;
        setApplied(state.dedup, firings, String(timer.seq));
        state.dirty = true;
      }
      const record: IncomingRecord = {
        topic,
        partition: this.partition,
        offset,
        key: new TextEncoder().encode(timer.key),
        value: null,
        headers: { [ID_HEADER]: explicitId },
        timestamp: timer.at,
      };
      if (timer.name === TTL_TIMER) {
        if (state) {
          state.value = undefined;
          state.encoded = undefined;
          state.dirty = true;
          state.lastTopic = topic;
          state.lastOffset = offset;
          state.lastExplicitId = explicitId;
          state.lastTrace = undefined;
        }
        continue;
      }
      const callback = this.host.graph.timer;
      // A timer left by an earlier version of the group that had a timer callback.
      if (!callback) continue;
      position.offset = offset;
      const ctx = new MessageContext(
        host,
        record,
        timer.key,
        offset,
        explicitId,
        undefined,
        timer.at,
        this.streamTime.current,
      );
      const fired = { name: timer.name, at: timer.at, clock: timer.clock };
      const ran = this.invoke(
        callback as Callback<AnyContext, unknown>,
        ctx,
        fired,
        record,
        traced,
      );
      const outcome = ran instanceof Promise ? await ran : ran;
      const failure =
        outcome instanceof MessageContext
          ? outcome.aggregates && this.aggregate(outcome, record, out)
          : outcome;
      if (failure) {
        const deadLetter = this.failures.apply(failure, record);
        if (deadLetter) out.push(deadLetter);
        continue;
      }
      this.applyEffects(ctx, state, explicitId, out);
    }
    for (const [key, state] of states) if (state.dirty) this.cache.set(key, state);
    return due.length;
  }

  /** Looks for due wall-clock timers every {@link WALL_TIMER_TICK_MS} while running. */
  private tickWallTimers(): void {
    this.cancelWallTick?.();
    this.cancelWallTick = this.host.clock.schedule(WALL_TIMER_TICK_MS, () => {
      this.cancelWallTick = undefined;
      void this.fireWallTimers().finally(() => {
        if (this.state === PartitionState.Running) this.tickWallTimers();
      });
    });
  }

  /**
   * Fires the wall-clock timers due now, outside any batch, and writes what they did at
   * once. A failure stops the processor, as a failed timed flush does.
   */
  private fireWallTimers(): Promise<void> {
    return this.serialize(async () => {
      if (this.state !== PartitionState.Running) return;
      await this.loadWindows();
      const out: OutgoingRecord[] = [];
      const now = this.host.clock.now();
      if ((await this.fireTimers(TimerClock.Wall, now, out, tracingInstalled())) === 0) return;
      this.cache.noteInput(0);
      if (this.host.options.guarantee === "exactly-once-transactional") {
        for (const r of out) this.cache.records.push(r);
      } else if (
        out.length > 0 &&
        !(await this.produce([], out, async () => this.host.stillMember()))
      ) {
        this.dropUnflushed();
        return;
      }
      await this.flushCache();
    }).catch((error) =>
      this.host.fail(
        isTokaError(error)
          ? error
          : this.error(TokaErrorCode.CallbackFailed, "firing wall-clock timers failed", {
              cause: error,
            }),
      ),
    );
  }

  /**
   * Reads the open windows of the aggregates into memory: when the partition starts
   * processing, and after a dropped write-back cache.
   */
  private async loadWindows(): Promise<void> {
    for (const { aggregation } of this.windowed.values())
      if (!aggregation.loaded) await aggregation.load(this.streamTime.current);
  }

  /** Deletes the windows past their retention from the window stores. */
  private async expireWindows(): Promise<void> {
    const streamTime = this.streamTime.current;
    if (streamTime < 0) return;
    for (const { aggregation } of this.windowed.values())
      await aggregation.store.expire(expiryBefore(aggregation.definition.windows, streamTime));
  }

  /**
   * Folds a processed message into the windowed aggregates its callback named, all or
   * none: the error when an update function threw. A message too late for an aggregate
   * leaves it as it is and is dead-lettered as late (once, whichever aggregates it
   * missed); its other effects stand.
   */
  private aggregate(
    ctx: MessageContext<unknown>,
    record: IncomingRecord,
    out: OutgoingRecord[],
  ): TokaError | undefined {
    const input = {
      key: ctx.key,
      eventTime: ctx.eventTime,
      streamTime: ctx.streamTime,
      topic: record.topic,
      offset: ctx.offset,
      id: ctx.id,
      explicitId: headerOf(record, ID_HEADER),
      // Windows dedup only under exactly-once: the header is not parsed otherwise.
      origin: this.exactlyOnce ? parseOrigin(headerOf(record, ORIGIN_HEADER)) : undefined,
      timestamp: record.timestamp,
    };
    const commits: (() => OutgoingRecord[])[] = [];
    const late: string[] = [];
    for (const { name, update } of ctx.aggregates ?? []) {
      try {
        const outcome = this.windowed.get(name)!.aggregation.prepare(input, update);
        if (outcome.kind === "late") late.push(name);
        else if (outcome.kind === "ready") commits.push(outcome.commit);
      } catch (cause) {
        return this.callbackFailed(record.topic, ctx.offset, ctx.key, cause);
      }
    }
    for (const commit of commits) for (const result of commit()) out.push(result);
    if (late.length > 0) out.push(this.failures.late(this.lateError(ctx, late), record));
    return undefined;
  }

  private lateError(ctx: MessageContext<unknown>, aggregates: readonly string[]): TokaError {
    const graces = aggregates
      .map((name) => `"${name}" (grace ${this.host.graph.windows.get(name)!.windows.graceMs} ms)`)
      .join(", ");
    return this.error(
      TokaErrorCode.LateRecord,
      `the message's event time ${ctx.eventTime} is too late for windowed aggregate(s) ${graces}: stream time is ${ctx.streamTime} and every window that holds it is closed; raise graceMs to accept records this late`,
      { topic: ctx.topic, offset: ctx.offset, key: ctx.key },
    );
  }

  /** The batch's keys in every joined table: one storage read per table. */
  private async readJoins(keys: readonly string[]): Promise<Map<string, Map<string, Uint8Array>>> {
    const joined = new Map<string, Map<string, Uint8Array>>();
    if (this.joinedTables.size === 0) return joined;
    const unique = [...new Set(keys)];
    for (const [topic, table] of this.joinedTables) joined.set(topic, await table.read(unique));
    return joined;
  }

  private joinValue(
    table: string,
    key: string,
    joined: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>,
    offset: string,
  ): unknown {
    const codec = this.host.graph.joins.get(table);
    if (!codec) {
      throw new TokaError(
        TokaErrorCode.ContextMisuse,
        `join of "${table}", which is not a declared join; add join("${table}", codec) to the group`,
        { group: this.group, partition: this.partition, offset, key },
      );
    }
    const bytes = joined.get(table)?.get(key);
    if (!bytes) return undefined;
    try {
      return codec.decode(bytes);
    } catch (cause) {
      throw this.error(
        TokaErrorCode.DecodeFailed,
        `the joined value of "${table}" does not decode with ${codec.name}`,
        {
          cause,
          topic: table,
          key,
        },
      );
    }
  }

  /** Reads the batch's keys in one storage round trip. */
  private async readKeys(
    keys: readonly string[],
  ): Promise<{ states: Map<string, KeyState>; cacheHits: number; storageReads: number }> {
    const states = new Map<string, KeyState>();
    if (!this.storage) return { states, cacheHits: 0, storageReads: 0 };
    // Keys changed since the last flush are read from the write-back cache.
    const unique: string[] = [];
    for (const key of new Set(keys)) {
      const cached = this.cache.get(key);
      if (cached) states.set(key, cached);
      else unique.push(key);
    }
    let stored: (Uint8Array | undefined)[];
    try {
      stored = await this.storage.getMany(unique);
    } catch (cause) {
      throw this.error(
        TokaErrorCode.StorageFailed,
        "reading the batch's keys from local storage failed",
        {
          cause,
        },
      );
    }
    const codec = this.host.graph.persist!;
    unique.forEach((key, i) => {
      try {
        states.set(key, storedKeyState(stored[i], codec));
      } catch (cause) {
        throw this.error(
          TokaErrorCode.DecodeFailed,
          `the stored table value does not decode with ${codec.name}; if the table's codec changed, migrate the table or reset the group`,
          { cause, topic: this.host.graph.tableTopic, key },
        );
      }
    });
    return { states, cacheHits: states.size - unique.length, storageReads: unique.length };
  }

  /**
   * Synchronous for a callback that returns no promise (see {@link inMessageSpan}), unless
   * the message's stream time makes stream-time timers due: `fireDue` fires them first.
   * In a span only when `traced`.
   */
  private runCallback(
    handler: Handler,
    record: IncomingRecord,
    key: string,
    offset: string,
    explicitId: string | undefined,
    host: ContextHost<unknown>,
    traced: boolean,
    fireDue?: () => Promise<unknown>,
  ): CallbackOutcome | Promise<CallbackOutcome> {
    const { topic } = record;
    if (record.value === null) {
      return this.error(
        TokaErrorCode.DecodeFailed,
        "the input message has no value (a tombstone); input callbacks need a value",
        { topic, offset, key },
      );
    }
    let message: unknown;
    try {
      message = handler.codec.decode(record.value);
    } catch (cause) {
      return this.error(
        TokaErrorCode.DecodeFailed,
        `the message does not decode with ${handler.codec.name}`,
        { topic, offset, key, cause },
      );
    }
    // The common case, a valid Kafka timestamp and no extractor, allocates nothing.
    const eventTime =
      handler.eventTime === undefined && isEventTime(record.timestamp)
        ? record.timestamp
        : eventTimeOf(handler.eventTime, message, record, key, {
            group: this.group,
            topic,
            partition: this.partition,
            offset,
          });
    if (typeof eventTime !== "number") return eventTime;
    if (handler.movesStreamTime) this.streamTime.observe(eventTime);
    const ctx = new MessageContext(
      host,
      record,
      key,
      offset,
      explicitId,
      handler.origin,
      eventTime,
      this.streamTime.current,
    );
    if (fireDue && this.timers!.timers.nextStreamDue <= this.streamTime.current)
      return fireDue().then(() => this.invoke(handler.callback, ctx, message, record, traced));
    return this.invoke(handler.callback, ctx, message, record, traced);
  }

  /**
   * Calls `callback` with `ctx` and `message`: its context once it returned, or why it
   * failed. Synchronous for a callback that returns no promise; in a span when `traced`.
   */
  private invoke(
    callback: Callback<AnyContext, unknown>,
    ctx: MessageContext<unknown>,
    message: unknown,
    record: IncomingRecord,
    traced: boolean,
  ): CallbackOutcome | Promise<CallbackOutcome> {
    const { topic } = record;
    const { key, offset } = ctx;
    let ran: unknown;
    try {
      // Untraced, the callback is called as is: no closure, span or promise per message.
      ran = traced
        ? inMessageSpan(
            {
              topic,
              offset,
              key,
              group: this.group,
              partition: this.partition,
              id: ctx.id,
              headers: record.headers,
            },
            () => {
              const result: unknown = callback(ctx, message);
              if (isThenable(result)) return Promise.resolve(result).then(() => continueTrace(ctx));
              continueTrace(ctx);
            },
          )
        : callback(ctx, message);
    } catch (cause) {
      return this.callbackFailed(topic, offset, key, cause);
    }
    // Any thenable is awaited, not only a native promise.
    if (isThenable(ran))
      return Promise.resolve(ran).then(
        () => ctx,
        (cause: unknown) => this.callbackFailed(topic, offset, key, cause),
      );
    return ctx;
  }

  private callbackFailed(topic: string, offset: string, key: string, cause: unknown): TokaError {
    return callbackError(
      { group: this.group, topic, partition: this.partition, offset },
      key,
      cause,
    );
  }

  /**
   * What the contexts of one batch's messages read through: one per batch, not one per
   * message (closures per message were a measurable part of the per-message cost).
   * `position` names the message being processed, for the errors of its joins.
   */
  private batchHost(
    states: ReadonlyMap<string, KeyState>,
    joined: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>,
    position: { readonly offset: string },
    traced: boolean,
  ): ContextHost<unknown> {
    const { graph } = this.host;
    return {
      group: this.group,
      hasTable: this.storage !== undefined,
      traced,
      outputs: graph.outputs,
      loop: graph.loop ? { topic: graph.loopTopic, codec: graph.loop.codec } : undefined,
      aggregates: this.aggregateNames,
      hasTimers: graph.timer !== undefined,
      currentValue: (key) => states.get(key)?.value,
      join: (table, key) => this.joinValue(table, key, joined, position.offset),
      lookup: (table, key) => this.host.lookup(table, key),
    };
  }

  /** One table record per changed key. */
  private tableRecords(states: ReadonlyMap<string, KeyState>): OutgoingRecord[] {
    const { persist, tableTopic } = this.host.graph;
    const records: OutgoingRecord[] = [];
    for (const [key, state] of states)
      if (state.dirty)
        records.push(keyTableRecord(key, state, persist!, tableTopic, this.partition));
    return records;
  }

  /**
   * Sends the batch's table records and its other records (emits, loopbacks, dead
   * letters). Transactional: one transaction with the input offsets. Exactly-once
   * without transactions: the other records first, then the table records, because a
   * produce to several partitions is not atomic and a table record marks its inputs as
   * applied (its dedup header): written alone, a redelivery would skip the input and its
   * emits would be lost. This order at worst re-emits with the same derived IDs.
   * At-least-once: one request.
   *
   * Writes that fail retriably (a broker dying, leaders moving) are sent again with
   * backoff until they succeed, keeping the group membership alive meanwhile; resolves
   * `undefined` when the partition is closed or the group rebalances first.
   */
  private async produce(
    tableRecords: readonly OutgoingRecord[],
    others: readonly OutgoingRecord[],
    heartbeat: () => Promise<boolean>,
    inputs: InputRange = { from: [], to: [] },
    state: StateRecords = NO_STATE_RECORDS,
  ): Promise<ProducedBatch[] | undefined> {
    const position = inputs.to[0];
    const at = position ? { topic: position.topic, offset: position.offset } : {};
    let attempt = 0;
    try {
      return await retrying(
        async () => {
          // A partition taken away during the wait, or about to be given out again, is
          // left to its owner after the rebalance, unwritten by this attempt.
          if (attempt++ > 0 && (!(await heartbeat()) || this.state === PartitionState.Closing))
            throw PARTITION_LEFT;
          let lost: AbortSignal | undefined;
          try {
            return await whileMember(
              heartbeat,
              heartbeatIntervalMs(this.host.options.sessionTimeoutMs),
              (signal) => {
                lost = signal;
                return this.produceOnce(tableRecords, others, state, inputs, signal);
              },
            );
          } catch (cause) {
            // Another member may own the partition by now: nothing more is written.
            if (lost?.aborted) throw PARTITION_LEFT;
            throw this.error(
              isTokaError(cause) && cause.code === TokaErrorCode.ProducerFenced
                ? TokaErrorCode.ProducerFenced
                : TokaErrorCode.ProduceFailed,
              "producing the batch's table updates and emits failed",
              { cause, ...at, retriable: isRetriable(cause) },
            );
          }
        },
        {
          // Until it succeeds or the partition goes: redoing the batch's writes is safe
          // under every guarantee (table records are the keys' latest values, other
          // records carry their derived IDs, a transaction was aborted before it is sent
          // again).
          attempts: Number.POSITIVE_INFINITY,
          initialDelayMs: FIRST_REDO_BACKOFF_MS,
          maxDelayMs: MAX_REDO_BACKOFF_MS,
          onRetry: (error, backoffMs) =>
            this.host.options.logger.warn("producing a batch failed; sending it again", {
              group: this.group,
              ...at,
              partition: this.partition,
              backoffMs,
              error,
            }),
        },
      );
    } catch (error) {
      if (error === PARTITION_LEFT) return undefined;
      throw error;
    }
  }

  private async produceOnce(
    tableRecords: readonly OutgoingRecord[],
    others: readonly OutgoingRecord[],
    state: StateRecords,
    inputs: InputRange,
    signal: AbortSignal,
  ): Promise<ProducedBatch[]> {
    const { producer, options } = this.host;
    const { beforeTable, afterTable } = state;
    if (options.guarantee === "exactly-once-transactional") {
      return producer.sendInTransaction(
        [...tableRecords, ...beforeTable, ...afterTable, ...others],
        { groupId: this.group, offsets: inputs.to, from: inputs.from },
      );
    }
    if (options.guarantee === "exactly-once") {
      // In steps, each written only once the one before is: emits; windows (each with
      // its applied offsets) and timers scheduled; table records, which mark a message
      // applied to its key (it is then skipped whole); the timers that fired, whose
      // firing the table records mark applied in turn.
      const produced: ProducedBatch[] = [];
      for (const records of [others, beforeTable, tableRecords, afterTable])
        if (records.length > 0) produced.push(...(await producer.send(records, { signal })));
      return produced;
    }
    return producer.send([...tableRecords, ...beforeTable, ...afterTable, ...others], { signal });
  }

  private currentInputOffsets(): Record<string, string> {
    return Object.fromEntries(this.inputOffsets);
  }

  private async write(change: {
    puts: Map<string, Uint8Array>;
    deletes: Set<string>;
    tableOffset: string;
    inputOffsets: Record<string, string>;
    streamTime: number | undefined;
  }) {
    await this.table?.write(change);
  }

  private error(
    code: TokaErrorCode,
    message: string,
    extra: {
      cause?: unknown;
      topic?: string;
      offset?: string;
      key?: string;
      retriable?: boolean;
    } = {},
  ): TokaError {
    return new TokaError(code, message, { group: this.group, partition: this.partition, ...extra });
  }
}
