import { EventEmitter } from "node:events";
import type { Codec } from "@toka/codec";
import { memoryStorage, type Storage } from "@toka/state-store";
import type {
  ClientAdmin,
  ClientConsumer,
  ClientProducer,
  IncomingBatch,
  PartitionOwners,
  TopicPartition,
} from "./client/kafka-client.js";
import { ClosingSteps } from "./closing-steps.js";
import { isTokaError, rootMessage, TokaError, TokaErrorCode } from "./errors.js";
import {
  PartitionState,
  PROCESSOR_TRANSITIONS,
  type ProcessorEvents,
  ProcessorStatus,
} from "./events.js";
import type { GroupGraph } from "./group-graph.js";
import { Lifecycle } from "./lifecycle.js";
import {
  type ProcessorOptions,
  type ResolvedProcessorOptions,
  resolveProcessorOptions,
} from "./options.js";
import type { OwnedTable } from "./owned-table.js";
import type { OwnedWindows } from "./owned-windows.js";
import { type PartitionHost, PartitionProcessor } from "./partition-processor.js";
import { logProcessorEvents } from "./processor-log.js";
import { ProcessorQueries } from "./processor-queries.js";
import { retrying, THROUGH_FAILOVER } from "./retry.js";
import { StandbyReplicas, type StandbyStats } from "./standby-replicas.js";
import { runUntilClosed, waitForStatus } from "./status-wait.js";
import { streamTimeOfMetadata } from "./stream-time.js";
import { compareOffsets } from "./table-entry.js";
import { rawTableValues, tableEntryValues } from "./table-value-format.js";
import { observeProcessorGauges, processorMetrics } from "./telemetry.js";
import { prepareGroupTopics } from "./topic-manager.js";
import { View } from "./view.js";
import { windowEndsChange, windowedTableStorage } from "./windowed-table-storage.js";

/** Per-partition figures of {@link Processor.stats}. */
export interface PartitionStats {
  readonly partition: number;
  readonly state: PartitionState;
  /** Next table offset applied to local storage. */
  readonly tableOffset: string;
  /** While recovering: table offsets still to restore (the gauge `toka.recovery.remaining`). */
  readonly recoveryRemaining: number | undefined;
  /** The partition's stream time (see `ctx.streamTime`); undefined before any message. */
  readonly streamTime: number | undefined;
  readonly inputs: readonly {
    topic: string;
    offset: string | undefined;
    highWatermark: string | undefined;
    lag: number | undefined;
  }[];
}

/** A snapshot of a processor's state. */
export interface ProcessorStats {
  readonly group: string;
  readonly status: ProcessorStatus;
  readonly partitions: readonly PartitionStats[];
  /** The standby replicas this instance keeps (`standbyReplicas`), by partition. */
  readonly standbys: readonly StandbyStats[];
}

/**
 * Runs a group: consumes its inputs in a Kafka consumer group, keeps its table, and
 * emits. Instances of the same group share the partitions (co-partitioned: partition p
 * of every input, the loop and the table go to the same instance).
 *
 * Lifecycle: `start()` (idempotent) → `running`; `close()` finishes the in-flight
 * batches, commits and closes storage; `run({ signal })` resolves on stop and rejects
 * with the failure. Observe with `on(event)`, `status`, `waitFor(status)`, `stats()`.
 */
export class Processor<G extends GroupGraph = GroupGraph> {
  readonly group: string;
  private readonly options: ResolvedProcessorOptions;
  private readonly events = new EventEmitter<ProcessorEvents>();
  private readonly lifecycle: Lifecycle<ProcessorStatus>;
  /** Aborted when the processor closes (or fails): set-up retries stop. */
  private readonly closing = new AbortController();
  private readonly partitions = new Map<number, PartitionProcessor>();
  private readonly transactional = new Map<number, ClientProducer>();
  private admin: ClientAdmin | undefined;
  private producer: ClientProducer | undefined;
  private consumer: ClientConsumer | undefined;
  private assignmentWork: Promise<void> = Promise.resolve();
  private readonly subscribed: string[] = [];
  /** Views of the looked-up tables, replicated in memory. */
  private readonly lookups = new Map<string, View<unknown>>();
  /** Whether the first group assignment arrived: until then the processor is starting. */
  private joined = false;
  private onJoined: () => void = () => {};
  /** Until when writes may be retried: set by a close (see closeAllowsWrites). */
  private writesUntil = Number.POSITIVE_INFINITY;
  /** The dead-letter topic's `max.message.bytes`, known once started. */
  private deadLetterMaxBytes = 0;

  /** @throws TokaError `TOKA_INVALID_CONFIG` for invalid options. */
  constructor(
    readonly graph: G,
    options: ProcessorOptions,
  ) {
    this.group = graph.name;
    const resolved = resolveProcessorOptions(graph.name, options);
    this.lifecycle = new Lifecycle({
      component: "processor",
      coordinates: { group: graph.name },
      transitions: PROCESSOR_TRANSITIONS,
      onChange: (status) => this.events.emit("status", status),
    });
    this.queries = new ProcessorQueries({
      group: graph.name,
      tableTopic: graph.tableTopic,
      windows: new Map(
        [...graph.windows].map(([name, aggregate]) => [
          name,
          { topic: graph.windowTopics.get(name)!, codec: aggregate.codec as Codec<unknown> },
        ]),
      ),
      codec: graph.persist,
      queryAddress: resolved.queryAddress,
      status: () => this.lifecycle.status,
      partitions: () => this.partitions.values(),
    });
    this.options = { ...resolved, storage: this.queries.trackStorages(resolved.storage) };
    this.events.setMaxListeners(100);
    for (const [event, listener] of Object.entries(processorMetrics(graph.name))) {
      this.events.on(event as keyof ProcessorEvents, listener as never);
    }
    logProcessorEvents(this.events, this.options.logger, graph.name);
  }

  /**
   * Partitions kept over a rebalance, held back until {@link partitionsBehindGroup} has
   * checked that nobody else wrote them meanwhile: by the number of the last assignment
   * that kept them, whose check releases them (not the check of one before it).
   */
  private readonly checking = new Map<number, number>();
  /** Assignments taken so far, numbering them for {@link checking}. */
  private assignments = 0;
  /**
   * Partitions of the group table this instance holds local state of but does not run,
   * with the table offset that state reached: found in its storage at start, and each
   * partition revoked since (its state stays). With the partitions it runs, advertised to
   * the group, which gives a moving partition to the instance furthest along with it.
   */
  private readonly storedOffsets = new Map<number, number>();

  /** The standby replicas kept for other instances' partitions (`standbyReplicas` > 0). */
  private standbys: StandbyReplicas | undefined;

  /** Unregisters the lag and recovery gauges; set while started. */
  private stopObservingGauges: (() => void) | undefined;

  get status(): ProcessorStatus {
    return this.lifecycle.status;
  }

  on<E extends keyof ProcessorEvents>(
    event: E,
    listener: (...args: ProcessorEvents[E]) => void,
  ): this {
    this.events.on(event, listener as never);
    return this;
  }

  off<E extends keyof ProcessorEvents>(
    event: E,
    listener: (...args: ProcessorEvents[E]) => void,
  ): this {
    this.events.off(event, listener as never);
    return this;
  }

  /**
   * Connects, checks and creates topics, joins the consumer group; resolves once the
   * first assignment is taken (its partitions may still be recovering), or at once when
   * {@link close} is called meanwhile (the start stops; nothing fails). Idempotent: later
   * calls return the same promise.
   * @throws TokaError when topics are missing or not co-partitioned, or Kafka is
   * unreachable; `TOKA_INVALID_STATE` once the processor is closing or closed.
   */
  start(): Promise<void> {
    return this.lifecycle.start(() =>
      this.doStart().catch(async (cause) => {
        // Stopped by a close (its retries and the wait for the first assignment end):
        // the close goes on; that is no failure.
        if (this.closing.signal.aborted) return;
        const error = this.asTokaError(cause, "the processor could not start");
        await this.fail(error);
        throw error;
      }),
    );
  }

  /**
   * Runs until `signal` aborts (then closes) or the processor fails.
   * @throws TokaError the failure that stopped the processor.
   */
  run({ signal }: { signal?: AbortSignal } = {}): Promise<void> {
    return runUntilClosed(
      {
        start: () => this.start(),
        close: () => this.close(),
        waitClosed: () => this.waitFor(ProcessorStatus.Closed),
      },
      signal,
    );
  }

  /**
   * Waits for a start in flight, then finishes in-flight batches, commits, closes
   * storage and leaves the group. Idempotent: every call waits for the same close. A
   * failed processor stays `failed`.
   */
  close(): Promise<void> {
    // A start in flight stops retrying and waiting for its first assignment: through a
    // broker's failover it could take minutes, and the close waits for it.
    this.closing.abort(new Error("the processor is closing"));
    return this.lifecycle.close(() => this.shutdown({ flush: true }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Resolves when the processor reaches `status`; rejects if it fails (or closes, unless
   * waiting for `closed`) first, at once when it can never reach `status` any more (see
   * {@link ProcessorStatus}), or after `timeoutMs` (default: no limit).
   * @throws TokaError `TOKA_TIMEOUT`, the processor's failure, or `TOKA_INVALID_STATE`.
   */
  waitFor(status: ProcessorStatus, { timeoutMs }: { timeoutMs?: number } = {}): Promise<void> {
    return waitForStatus(this.lifecycle, status, { timeoutMs });
  }

  /** Offsets, lag and state per partition owned by this instance. */
  stats(): ProcessorStats {
    const partitions = [...this.partitions.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        state: p.state,
        tableOffset: p.tableOffset,
        recoveryRemaining: p.recoveryRemaining(),
        streamTime: p.currentStreamTime < 0 ? undefined : p.currentStreamTime,
        inputs: this.inputTopics().map((topic) => {
          const offset = p.inputOffsets.get(topic);
          const highWatermark = p.highWatermarks.get(topic);
          const read = p.readPositions.get(topic) ?? offset;
          const lag =
            read !== undefined && highWatermark !== undefined
              ? Math.max(0, Number(BigInt(highWatermark) - BigInt(read)))
              : undefined;
          return { topic, offset, highWatermark, lag };
        }),
      }));
    const standbys = this.standbys?.stats() ?? [];
    return { group: this.group, status: this.lifecycle.status, partitions, standbys };
  }

  // Queries across instances (processor-queries.ts).
  private readonly queries: ProcessorQueries;

  /**
   * Who owns which partition, with their query addresses; undefined while rebalancing,
   * and always without the `queryAddress` option (only instances that take part in
   * queries learn the owners).
   */
  get partitionOwners(): PartitionOwners | undefined {
    return this.queries.ownership.owners;
  }

  /**
   * The query address of the instance that owns `key` now (this one's included);
   * undefined while the group is rebalancing, when the owner advertises none, or when
   * this instance has no `queryAddress`.
   */
  ownerOf(key: string): string | undefined {
    return this.queries.ownership.ownerOf(key);
  }

  /**
   * The group table as this instance holds it, for `serveViews`: keys of its partitions
   * are read here, the others forwarded to their owners (every instance needs the
   * `queryAddress` option).
   * @throws TokaError `TOKA_INVALID_STATE` for a group that persists no table.
   */
  ownedTable(): OwnedTable {
    return this.queries.ownedTable();
  }

  /**
   * The windowed aggregate `name` as this instance holds it, for `serveViews`:
   * `GET /<view>/<key>?from=<ms>&to=<ms>` answers the key's windows starting in that
   * range (`fetchWindows`), read here or forwarded to the key's owner like the table's.
   * @throws TokaError `TOKA_INVALID_STATE` for a name the group does not declare.
   */
  ownedWindows(name: string): OwnedWindows {
    return this.queries.ownedWindows(name);
  }

  private inputTopics(): string[] {
    const topics = this.graph.inputs.map((i) => i.topic);
    if (this.graph.loop) topics.push(this.graph.loopTopic);
    return topics;
  }

  private async doStart() {
    const { client } = this.options;
    this.stopObservingGauges ??= observeProcessorGauges(() => this.stats());
    // Every step that asks the cluster is retried through a broker's death (a seed
    // broker that is gone, leaders not moved yet) and a new topic's metadata that has not
    // reached every broker: a process restarted meanwhile must not fail to start.
    const admin = client.admin();
    this.admin = admin;
    await retrying(() => admin.connect(), this.untilClosed);
    const topics = await retrying(
      () => prepareGroupTopics(admin, this.graph, this.options),
      this.untilClosed,
    );
    this.deadLetterMaxBytes = topics.deadLetterMaxBytes;
    // Keys are located from the start, also with no query address (one instance).
    this.queries.ownership.knowPartitions(topics.partitions);
    await this.readStoredOffsets();
    this.standbys = this.createStandbys(admin);
    if (this.options.guarantee !== "exactly-once-transactional") {
      // toka's own writer where the client has one: it counts a batch as written only
      // when every partition acknowledged it, and writes again what was not. Duplicates
      // it may write after a lost acknowledgement are harmless here: at-least-once allows
      // them, exactly-once drops them by message ID, table records are latest values.
      const producer = client.producer({ idempotent: false });
      this.producer = producer;
      await retrying(() => producer.connect(), this.untilClosed);
    }
    this.consumer = client.consumer({
      groupId: this.group,
      copartitioned: true,
      // Transactional outputs and table writes are only visible once committed.
      readCommitted: true,
      fromBeginning: this.options.startFrom === "earliest",
      maxBytesPerPartition: this.options.maxBatchBytes,
      concurrency: this.options.concurrency,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      queryAddress: this.queries.advertisedAddress(),
      storedPartitions: () => this.storedPartitions(),
      standbyReplicas: this.standbys ? this.options.standbyReplicas : 0,
    });
    // Lookups read through views that recover before the first input is processed.
    for (const [table, codec] of this.graph.lookups) {
      const view = new View({
        client: this.options.client,
        table,
        codec,
        storage: memoryStorage(),
        logger: this.options.logger,
      });
      this.lookups.set(table, view);
      await view.start();
    }
    const consumer = this.consumer;
    await retrying(() => consumer.connect(), this.untilClosed);
    this.subscribed.push(...this.inputTopics());
    this.subscribed.push(...this.graph.joins.keys());
    await retrying(() => consumer.subscribe(this.subscribed), this.untilClosed);
    // Closed meanwhile (the steps above are not all stopped by it): no join to begin.
    this.closing.signal.throwIfAborted();
    // Armed before run(): the first assignment may be applied before run() returns
    // (an instance that gets no partition has nothing to open).
    const joined = new Promise<void>((resolve, reject) => {
      this.onJoined = resolve;
      this.events.once("processor.failed", reject);
      this.closing.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await this.consumer.run({
      onAssignment: (assignment) => this.onAssignment(assignment),
      onBatch: (batch) => this.onBatch(batch),
      onBatchDone: (tp, lastOffset) => this.onBatchDone(tp, lastOffset),
      onCrash: (error) => void this.fail(this.asTokaError(error, "the Kafka consumer stopped")),
      onOwners: (owners) => this.queries.ownership.update(owners),
      onStandby: (partitions) => this.keepStandbys(partitions),
      // A timed flush or a timer's write in flight must land before the partitions may
      // go to another member; later ones wait for the assignment (stillMember is false).
      beforeRejoin: async () => {
        await Promise.all([...this.partitions.values()].map((p) => p.writesDone()));
      },
    });
    // Started once the group was joined and the first assignment applied.
    await joined;
  }

  /**
   * The checkpointed table offsets of the partitions the storage holds state of from an
   * earlier run. A partition it cannot read (locked by another process) is left out.
   */
  private async readStoredOffsets() {
    if (!this.graph.persist) return;
    const { storage } = this.options;
    const stored = (await storage.storedPartitions?.(this.graph.tableTopic)) ?? [];
    for (const partition of stored) {
      const local = storage(this.graph.tableTopic, partition);
      try {
        await local.open();
        const checkpoint = await local.checkpoint();
        if (checkpoint) this.storedOffsets.set(partition, Number(checkpoint.tableOffset));
      } catch {
        // Not readable now: the group just does not prefer this instance for it.
      } finally {
        await local.close().catch(() => {});
      }
    }
  }

  /**
   * Standby replicas of the group's own tables (its table, windows and timers) and its
   * joined tables, when asked for: a promoted standby reads only what its owner wrote
   * since its last poll, whatever the partition keeps.
   */
  private createStandbys(admin: ClientAdmin): StandbyReplicas | undefined {
    const { graph } = this;
    const ownTables = graph.persist || graph.windowTopics.size > 0 || graph.timersTopic;
    if (!ownTables || this.options.standbyReplicas === 0) return undefined;
    const exactlyOnce = this.options.guarantee !== "at-least-once";
    // Windows and timers keep the owner's window-store layout over the raw storage.
    const windowedTable = (topic: string, endsChange = false) => ({
      topic,
      format: rawTableValues,
      layout: (raw: Storage) => windowedTableStorage(raw, { endsChange }).storage,
    });
    return new StandbyReplicas({
      group: this.group,
      tables: [
        ...(graph.persist
          ? [{ topic: graph.tableTopic, format: tableEntryValues(exactlyOnce) }]
          : []),
        ...[...graph.joins.keys()].map((topic) => ({ topic, format: rawTableValues })),
        ...[...graph.windowTopics].map(([name, topic]) =>
          windowedTable(topic, windowEndsChange(graph.windows.get(name)!)),
        ),
        ...(graph.timersTopic ? [windowedTable(graph.timersTopic)] : []),
      ],
      client: this.options.client,
      admin,
      storage: this.options.storage,
      logger: this.options.logger,
      emit: (event, ...args) =>
        (this.events.emit as (name: string, ...values: unknown[]) => boolean).call(
          this.events,
          event,
          ...args,
        ),
    });
  }

  /**
   * The standby partitions the group gave this instance: set up after the assignment
   * work queued before (a partition revoked here closes its storage first), never for a
   * partition this instance runs.
   */
  private keepStandbys(partitions: readonly number[]) {
    const standbys = this.standbys;
    if (!standbys) return;
    this.assignmentWork = this.assignmentWork
      .then(() => {
        if (this.isStopping()) return;
        return standbys.keep(partitions.filter((p) => !this.partitions.has(p)));
      })
      .catch((error) =>
        this.options.logger.warn("setting up standby replicas failed", {
          group: this.group,
          error,
        }),
      );
  }

  /**
   * What this instance holds of the group table: running partitions, standbys and
   * stored ones.
   */
  private storedPartitions(): Map<number, number> {
    const offsets = new Map(this.storedOffsets);
    for (const [partition, offset] of this.standbys?.positions() ?? [])
      offsets.set(partition, offset);
    for (const [partition, processor] of this.partitions)
      offsets.set(partition, Number(processor.tableOffset));
    return offsets;
  }

  private onAssignment(assignment: readonly TopicPartition[]) {
    const assigned = new Set(assignment.map((tp) => tp.partition));
    const number = ++this.assignments;
    // Hold back inputs at once: kafkajs fetches as soon as it joined, before the async
    // set-up below has opened storage and recovered the table, or has checked that a
    // partition kept over the rebalance was not written by another instance meanwhile.
    for (const p of assigned) if (this.partitions.has(p)) this.checking.set(p, number);
    this.pauseInputs([...assigned]);
    // And the joined tables of partitions new to this instance, until the set-up has
    // sought them to the local checkpoints and knows how far recovery must read.
    this.pauseJoinedTables([...assigned].filter((p) => !this.partitions.has(p)));
    this.assignmentWork = this.assignmentWork
      .then(() => this.applyAssignment(assigned, number))
      .catch((error) =>
        this.fail(this.asTokaError(error, "setting up assigned partitions failed")),
      );
  }

  private async applyAssignment(assigned: Set<number>, number: number) {
    if (this.isStopping()) return;
    const behind = await this.partitionsBehindGroup(assigned);
    const unchanged = [...this.partitions.values()].filter(
      (p) => assigned.has(p.partition) && !behind.has(p.partition),
    );
    // Checked: partitions behind are restored below and held back by their state. Those
    // that a later assignment kept again wait for its check.
    for (const [partition, keptBy] of this.checking)
      if (keptBy <= number) this.checking.delete(partition);
    this.consumer!.resume(
      unchanged
        .filter((p) => p.state === PartitionState.Running)
        .flatMap((p) => this.inputTopics().map((topic) => ({ topic, partition: p.partition }))),
    );
    const revoked: number[] = [];
    for (const [partition, processor] of this.partitions) {
      if (assigned.has(partition) && !behind.has(partition)) continue;
      revoked.push(partition);
      if (behind.has(partition)) {
        this.options.logger.warn(
          "the group's offsets of a partition kept over a rebalance moved past this instance's position (another instance, or a commit whose outcome was unknown, wrote it meanwhile); restoring its table again",
          { group: this.group, partition },
        );
      }
      await processor.close();
      if (this.graph.persist) this.storedOffsets.set(partition, Number(processor.tableOffset));
      this.partitions.delete(partition);
      await this.transactional.get(partition)?.disconnect();
      this.transactional.delete(partition);
      this.events.emit("partition.revoked", { partition });
    }
    const added: PartitionProcessor[] = [];
    // Joined tables are read by the restore until the partition is recovered: the
    // consumer holds them back (also those of a partition restored again).
    this.pauseJoinedTables([...assigned].filter((p) => !this.partitions.has(p)));
    for (const partition of assigned) {
      if (this.partitions.has(partition)) continue;
      // A standby of the partition hands its storage over: recovery reads only the rest.
      const followed = await this.standbys?.release(partition);
      if (followed !== undefined) this.storedOffsets.set(partition, followed);
      const processor = new PartitionProcessor(
        await this.hostFor(partition),
        partition,
        this.graph.persist ? this.options.storage(this.graph.tableTopic, partition) : undefined,
        new Map(
          [...this.graph.joins.keys()].map((table) => [
            table,
            this.options.storage(table, partition),
          ]),
        ),
        new Map(
          [...this.graph.windowTopics].map(([name, topic]) => [
            name,
            this.options.storage(topic, partition),
          ]),
        ),
        this.graph.timersTopic && this.options.storage(this.graph.timersTopic, partition),
      );
      this.partitions.set(partition, processor);
      this.events.emit("partition.assigned", { partition });
      await processor.open();
      added.push(processor);
    }
    this.events.emit("group.rebalanced", {
      assigned: added.map((p) => p.partition),
      revoked,
      kept: unchanged.map((p) => p.partition),
    });
    if (!this.joined) {
      this.joined = true;
      this.onJoined();
    }
    this.refreshStatus();
    if (added.length === 0) return;
    // Every added partition's end, or none: an end taken as 0 would skip its recovery.
    const highWatermarks = (topic: string) =>
      retrying(async () => {
        const marks = new Map(
          (await this.admin!.watermarks(topic)).map((w) => [w.partition, w.high]),
        );
        const missing = added.filter((p) => !marks.has(p.partition)).map((p) => p.partition);
        if (missing.length > 0)
          throw new TokaError(
            TokaErrorCode.KafkaFailed,
            `the end offsets of ${topic} lack partitions ${missing.join(", ")} (metadata without them); asking again`,
            { group: this.group, topic, retriable: true },
          );
        return marks;
      }, this.untilClosed);
    // The group's offsets before the table's end: an owner writes a flush's table records
    // before it commits their inputs, so the end read after them covers every commit read
    // here. The other way round, a commit made in between (by an owner still closing, or
    // one that had this instance's partitions while it had lost its membership) would
    // start the partition past inputs whose table records its restore did not read.
    const committed = await this.committedInputs();
    const own = this.graph.persist
      ? await highWatermarks(this.graph.tableTopic)
      : new Map<number, string>();
    const joined = new Map<string, Map<number, string>>();
    const timers = this.graph.timersTopic ? [this.graph.timersTopic] : [];
    for (const table of [
      ...this.graph.joins.keys(),
      ...this.graph.windowTopics.values(),
      ...timers,
    ])
      joined.set(table, await highWatermarks(table));
    for (const processor of added) {
      const { partition } = processor;
      const joinTargets = new Map(
        [...joined].map(([table, marks]) => [table, marks.get(partition) ?? "0"]),
      );
      if (processor.beginRecovery(own.get(partition) ?? "0", joinTargets))
        await this.activate(processor, committed);
      // The tables are restored by toka's reader, beside the group consumer; partitions
      // restore at the same time.
      else void this.restore(processor, committed);
    }
  }

  /** The group's committed offsets of the inputs, by topic and partition. */
  private async committedInputs(): Promise<Map<string, Map<number, string>>> {
    const committed = new Map<string, Map<number, string>>();
    for (const topic of this.inputTopics())
      committed.set(
        topic,
        await retrying(() => this.admin!.committedOffsets(this.group, topic), this.untilClosed),
      );
    return committed;
  }

  private async restore(
    processor: PartitionProcessor,
    committed: ReadonlyMap<string, ReadonlyMap<number, string>>,
  ) {
    try {
      if (!(await processor.restore())) return;
    } catch (error) {
      if (this.partitions.get(processor.partition) !== processor || this.isStopping()) return;
      await this.fail(this.asTokaError(error, "restoring a table partition failed"));
      return;
    }
    // A close that began meanwhile already waited for the assignment work: activating now
    // would seek a consumer that left the group, with retries that outlive the process.
    if (this.isStopping()) return;
    this.assignmentWork = this.assignmentWork
      .then(() => this.activate(processor, committed))
      .catch((error) =>
        this.fail(this.asTokaError(error, "resuming a recovered partition failed")),
      );
  }

  /**
   * Running partitions this instance keeps over a rebalance whose group offsets are past
   * its own input positions: someone wrote them while this instance was not the owner
   * (it lost its membership and got them back), or a transaction whose outcome it did
   * not know committed. Its local table is then behind the table topic and must be
   * restored again before anything more is processed. (This instance's own commits never
   * pass its positions: they are made from them.)
   */
  private async partitionsBehindGroup(assigned: ReadonlySet<number>): Promise<Set<number>> {
    const kept = [...this.partitions.values()].filter(
      (p) => assigned.has(p.partition) && p.state === PartitionState.Running,
    );
    const behind = new Set<number>();
    if (kept.length === 0) return behind;
    for (const [topic, committed] of await this.committedInputs()) {
      for (const processor of kept) {
        const group = committed.get(processor.partition);
        const local = processor.inputOffsets.get(topic);
        if (group !== undefined && (local === undefined || compareOffsets(group, local) > 0))
          behind.add(processor.partition);
      }
    }
    return behind;
  }

  /**
   * A recovered partition: position and resume its inputs, and follow its joined tables.
   * @param committed the group's offsets, read before the end its table was restored to
   */
  private async activate(
    processor: PartitionProcessor,
    committed: ReadonlyMap<string, ReadonlyMap<number, string>>,
  ) {
    const { partition } = processor;
    // Closed (revoked) while its recovery finished, or the processor is closing.
    const gone = () => this.isStopping() || this.partitions.get(partition) !== processor;
    if (gone()) return;
    const checkpointed = processor.checkpointedInputs();
    for (const topic of this.inputTopics()) {
      const groupOffset = committed.get(topic)?.get(partition);
      // The stream time the group's commits carried: a new owner without local state
      // continues from it (the later of it and the checkpoint's counts).
      const metadata = (
        await retrying(() => this.admin!.committedMetadata(this.group, topic), this.untilClosed)
      ).get(partition);
      if (gone()) return;
      processor.continueStreamTime(streamTimeOfMetadata(metadata));
      const local = checkpointed.get(topic);
      // Local state may be ahead of the group's commit (a crash after the storage write):
      // its effects were produced already, so continue after them.
      const start =
        groupOffset === undefined
          ? local
          : local === undefined || compareOffsets(groupOffset, local) >= 0
            ? groupOffset
            : local;
      if (start !== undefined) {
        processor.inputOffsets.set(topic, start);
        this.consumer!.seek({ topic, partition, offset: start });
      }
      if (start !== undefined && start !== groupOffset) {
        // Commit what the checkpoint covers: with no new input the group's offset would
        // otherwise stay behind (lag that never drains; another owner redoing the work).
        // Retried until it succeeds: the coordinator may be moving (a broker died).
        processor.commitLater({ topic, partition, offset: start });
      }
    }
    // Sought to where their restores ended when the partition recovered.
    const joinedTables = [...this.graph.joins.keys()].map((topic) => ({ topic, partition }));
    this.consumer!.resume([
      ...this.inputTopics().map((topic) => ({ topic, partition })),
      ...joinedTables,
    ]);
    this.refreshStatus();
  }

  private async onBatch(batch: IncomingBatch): Promise<boolean> {
    const processor = this.partitions.get(batch.partition);
    if (!processor || this.isStopping()) return false;
    try {
      // Refused while the partition recovers: read again from the restored position.
      if (this.graph.joins.has(batch.topic))
        return await processor.applyJoinBatch(batch.topic, batch.records);
      if (processor.state !== PartitionState.Running || this.checking.has(batch.partition)) {
        // Fetched before the pause took effect: deliver again once recovered or checked.
        this.pauseInputs([batch.partition]);
        this.deliverAgain(batch);
        return false;
      }
      const done = await processor.processBatch(
        batch.topic,
        batch.records,
        batch.highWatermark,
        async () => this.closeAllowsWrites() && ((await batch.heartbeat?.()) ?? true),
      );
      // Left unwritten for a rebalance, with what the write-back cache held: fetched
      // again from the last flush, unless the partition goes away.
      if (!done && processor.state === PartitionState.Running)
        this.readAgain(batch.partition, processor.unflushedFrom());
      return done;
    } catch (cause) {
      const error = this.asTokaError(cause, "processing a batch failed");
      if (error.code === TokaErrorCode.ProducerFenced) {
        // Another member owns the partition now: this one missed a rebalance. Not toka's
        // failure to the client, which therefore restarts its consumer and rejoins.
        this.options.logger.warn("partition fenced by another instance; rejoining the group", {
          group: this.group,
          partition: batch.partition,
          error,
        });
        throw new Error(error.message, { cause: error });
      }
      void this.fail(error);
      // Thrown so the consumer stops without committing this batch.
      throw error;
    }
  }

  /** Has the consumer fetch a partition's inputs again from these offsets. */
  private readAgain(partition: number, positions: ReadonlyMap<string, string>) {
    for (const [topic, offset] of positions) this.consumer?.seek({ topic, partition, offset });
  }

  /** Has the consumer fetch a batch again from its first record. */
  private deliverAgain(batch: IncomingBatch) {
    const first = batch.records[0];
    if (first)
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: first.offset });
  }

  private onBatchDone(tp: TopicPartition, lastOffset: string) {
    const processor = this.partitions.get(tp.partition);
    if (!processor) return;
    if (this.graph.joins.has(tp.topic)) processor.noteJoinProgress(tp.topic, lastOffset);
    else processor.noteInputEnd(tp.topic, lastOffset);
  }

  private pauseJoinedTables(partitions: readonly number[]) {
    const tables = [...this.graph.joins.keys()];
    if (!this.consumer || partitions.length === 0 || tables.length === 0) return;
    this.consumer.pause(
      tables.flatMap((topic) => partitions.map((partition) => ({ topic, partition }))),
    );
  }

  private pauseInputs(partitions: readonly number[]) {
    if (!this.consumer || partitions.length === 0) return;
    this.consumer.pause(
      this.inputTopics().flatMap((topic) => partitions.map((partition) => ({ topic, partition }))),
    );
  }

  private async hostFor(partition: number): Promise<PartitionHost> {
    let producer = this.producer;
    if (this.options.guarantee === "exactly-once-transactional") {
      // A stable transactional id per partition: a new owner's producer fences the old
      // owner's (a zombie) when it connects, and aborts its open transaction or waits for
      // its prepared commit (KIP-98), before the recovery targets are read below.
      const transactional = this.options.client.producer({
        transactionalId: `toka-${this.group}-${partition}`,
      });
      // Retried through a broker's death: the coordinator of the transactional id may
      // be the broker that died, until its partitions' leaders have moved.
      await retrying(() => transactional.connect(), this.untilClosed);
      producer = transactional;
      this.transactional.set(partition, producer);
    }
    return {
      graph: this.graph,
      options: this.options,
      producer: producer!,
      deadLetterMaxBytes: this.deadLetterMaxBytes,
      commit: (offsets) => this.consumer!.commit(offsets),
      stillMember: () => this.stillMember(),
      readAgain: (positions) => this.readAgain(partition, positions),
      fail: (error) => void this.fail(error),
      emit: (event, ...args) => {
        (this.events.emit as (name: string, ...values: unknown[]) => boolean).call(
          this.events,
          event,
          ...args,
        );
        if (event === "partition.recovered") this.refreshStatus();
      },
      lookup: async (table, key) => {
        const view = this.lookups.get(table);
        if (!view) {
          throw new TokaError(
            TokaErrorCode.ContextMisuse,
            `lookup of "${table}", which is not a declared lookup; add lookup("${table}", codec) to the group`,
            { group: this.group, partition, key },
          );
        }
        return view.get(key);
      },
      clock: this.options.clock,
    };
  }

  /**
   * Whether a close still lets writes be retried: a graceful one for a session timeout
   * (the write-back caches are written while this member owns its partitions), a
   * failure not at all. What is left unwritten is redone by the partitions' next owner.
   */
  private closeAllowsWrites(): boolean {
    return Date.now() <= this.writesUntil;
  }

  /**
   * Whether the group confirmed this member less than half a session timeout ago: the
   * coordinator gives its partitions away only after a whole session without a heartbeat,
   * or after a rebalance this member has not rejoined yet (during which its heartbeats
   * are refused, so the confirmation ages). A client that cannot tell counts as a member.
   */
  private stillMember(): boolean {
    if (!this.closeAllowsWrites()) return false;
    const consumer = this.consumer;
    if (!consumer?.memberConfirmedAt) return true;
    const confirmedAt = consumer.memberConfirmedAt();
    return (
      confirmedAt !== undefined && Date.now() - confirmedAt < this.options.sessionTimeoutMs / 2
    );
  }

  private refreshStatus() {
    if (
      !this.lifecycle.is(
        ProcessorStatus.Starting,
        ProcessorStatus.Running,
        ProcessorStatus.Recovering,
      ) ||
      !this.consumer
    )
      return;
    const recovering = [...this.partitions.values()].some(
      (p) => p.state === PartitionState.Recovering,
    );
    this.lifecycle.moveTo(recovering ? ProcessorStatus.Recovering : ProcessorStatus.Running);
  }

  private isStopping() {
    return this.lifecycle.stopping;
  }

  private async fail(error: TokaError) {
    if (this.lifecycle.stopping) return;
    this.options.logger.error("processor failed", { group: this.group, error });
    this.lifecycle.fail(error);
    this.events.emit("processor.failed", error);
    await this.shutdown({ flush: false }).catch(() => {});
  }

  /**
   * Leaves the group and closes everything. `flush` (a graceful close) first writes the
   * write-back caches; a failed processor writes nothing more.
   */
  /**
   * The retries of setting up (connections, partitions' offsets and watermarks) through a
   * cluster's failover, stopped by a close: a close does not wait minutes for them.
   */
  private get untilClosed() {
    return {
      ...THROUGH_FAILOVER,
      signal: this.closing.signal,
      onRetry: (error: unknown, waitMs: number) =>
        this.options.logger.info("setting up failed; retrying", {
          group: this.group,
          error: rootMessage(error),
          waitMs,
        }),
    };
  }

  private async shutdown({ flush }: { flush: boolean }) {
    this.closing.abort(new Error("the processor is closing"));
    this.stopObservingGauges?.();
    this.stopObservingGauges = undefined;
    this.writesUntil = flush ? Date.now() + this.options.sessionTimeoutMs : Date.now();
    const step = new ClosingSteps(this.options.logger, { group: this.group }, this.options.clock);
    // Batches do not wait for their offset commits: those must reach the group before
    // this member leaves it, or the next owner would process the batches again.
    // The write-back caches are written first, while this member still owns the partitions.
    for (const processor of this.partitions.values()) {
      const partition = processor.partition;
      if (flush)
        await step.run(`writing the cache of partition ${partition}`, () => processor.flushNow());
      await step.run(`finishing the batches of partition ${partition}`, () => processor.settle());
    }
    // Leaving the group waits for the in-flight batches; then storage can close.
    await step.run("leaving the group", async () => this.consumer?.disconnect());
    await step.run("finishing the assignment work", () => this.assignmentWork);
    await step.run("closing the standby replicas", async () => this.standbys?.close());
    for (const processor of this.partitions.values()) {
      await step.run(`closing partition ${processor.partition}`, () => processor.close());
    }
    this.partitions.clear();
    for (const [partition, producer] of this.transactional) {
      await step.run(`closing the transactional producer of partition ${partition}`, () =>
        producer.disconnect(),
      );
    }
    this.transactional.clear();
    await step.run("closing the producer", async () => this.producer?.disconnect());
    for (const [table, view] of this.lookups) {
      await step.run(`closing the lookup view of ${table}`, () => view.close());
    }
    await step.run("closing the admin client", async () => this.admin?.disconnect());
  }

  private asTokaError(error: unknown, message: string): TokaError {
    return isTokaError(error)
      ? (error as TokaError)
      : new TokaError(TokaErrorCode.KafkaFailed, message, { group: this.group, cause: error });
  }
}
