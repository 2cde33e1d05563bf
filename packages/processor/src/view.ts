import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { defaultPartition } from "./client/default-partitioner.js";
import type {
  ClientAdmin,
  ClientConsumer,
  IncomingBatch,
  TopicPartition,
} from "./client/kafka-client.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import { Lifecycle, type Transitions } from "./lifecycle.js";
import { retrying, THROUGH_FAILOVER } from "./retry.js";
import { runUntilClosed, waitForStatus } from "./status-wait.js";
import { compareOffsets } from "./table-entry.js";
import { observeViewGauges } from "./telemetry.js";
import {
  type ResolvedViewOptions,
  resolveViewOptions,
  VIEW_DEFAULTS,
  type ViewOptions,
} from "./view-options.js";
import { type AppliedRecord, ViewPartition } from "./view-partition.js";

/**
 * Lifecycle states of a {@link View}, moving as {@link VIEW_TRANSITIONS} allows:
 *
 * ```
 * idle → starting → recovering → running → closing → closed
 *                         ⇅         ⇅
 *                        reconnecting
 * ```
 *
 * `close()` from `idle` goes to `closing`; every status from `starting` to
 * `reconnecting` may end in `failed`, which is final.
 */
export const ViewStatus = {
  /** Constructed; `start()` not called yet. */
  Idle: "idle",
  /** Connecting, opening local storage. */
  Starting: "starting",
  /** Reading the table up to the high watermarks taken at start; `get` may see old values. */
  Recovering: "recovering",
  /** Recovered and following the table. */
  Running: "running",
  /** Lost Kafka and reconnecting with backoff; reads serve the last known values. */
  Reconnecting: "reconnecting",
  Closing: "closing",
  Closed: "closed",
  /** Stopped with an error (see the `view.failed` event and `run()`'s rejection). */
  Failed: "failed",
} as const;
export type ViewStatus = (typeof ViewStatus)[keyof typeof ViewStatus];

/** The moves between {@link ViewStatus}es a view makes. */
export const VIEW_TRANSITIONS: Transitions<ViewStatus> = {
  idle: ["starting", "closing"],
  starting: ["recovering", "closing", "failed"],
  recovering: ["running", "reconnecting", "closing", "failed"],
  running: ["reconnecting", "closing", "failed"],
  // Back to where it was: recovering until every partition caught up once.
  reconnecting: ["recovering", "running", "closing", "failed"],
  closing: ["closed"],
  closed: [],
  failed: [],
};

/** An applied table record, as `view.updated` reports it. */
export interface ViewUpdate<T> {
  readonly key: string;
  /** The new value; `undefined` when the key was deleted (a tombstone). */
  readonly value: T | undefined;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Recovery progress, counted in table offsets (a compacted table has gaps, so fewer
 * records than offsets may be read).
 */
export interface ViewRecovery {
  /** Offsets read so far, up to the high watermarks taken at start. */
  readonly recovered: number;
  /** Offsets between the local checkpoints and the high watermarks taken at start. */
  readonly total: number;
  /** Table records applied to local storage during recovery. */
  readonly records: number;
  readonly done: boolean;
  /** How long recovery took, once done. */
  readonly durationMs: number | undefined;
}

/** Per-partition figures of {@link View.stats}. */
export interface ViewPartitionStats {
  readonly partition: number;
  /** Next table offset to apply: everything before it is in local storage. */
  readonly offset: string;
  /** The last high watermark seen. */
  readonly highWatermark: string;
  /** Offsets behind that high watermark. */
  readonly lag: number;
  /**
   * Milliseconds since the partition was last at its high watermark (0 while it is): how
   * old its answers may be. Known as of the last fetch response.
   */
  readonly staleMs: number;
  readonly recovered: boolean;
}

/** A snapshot of a view's state. */
export interface ViewStats {
  readonly table: string;
  readonly status: ViewStatus;
  readonly partitions: readonly ViewPartitionStats[];
  readonly recovery: ViewRecovery;
  /** Records applied after recovery. */
  readonly updates: number;
  /** Values that did not decode, reported as `view.decode-failed`. */
  readonly decodeFailures: number;
}

/** Typed, namespaced events of a view: `view.on("view.updated", (u) => ...)`. */
export interface ViewEvents<T> {
  status: [status: ViewStatus];
  /** Recovery progress after each recovered batch. */
  "view.recovering": [event: { recovered: number; total: number }];
  /** Every partition reached the high watermark taken at start. */
  "view.recovered": [event: { records: number; durationMs: number }];
  /**
   * A record beyond the snapshot taken at start was applied (offset ≥ that partition's
   * high watermark at start): every change after recovery, in offset order per partition.
   */
  "view.updated": [update: ViewUpdate<T>];
  /** A value did not decode (`TOKA_DECODE_FAILED` with topic, partition, offset, key); the view goes on. */
  "view.decode-failed": [error: TokaError];
  /** The Kafka connection was lost; the view reconnects by itself (`TOKA_KAFKA_FAILED`, retriable). */
  "view.reconnecting": [error: TokaError];
  /** The view stopped with this error. */
  "view.failed": [error: TokaError];
}

/** A key range of {@link View.iterate}, in UTF-8 byte order of the keys. */
export interface ViewIterateOptions {
  /** Only keys after this one. */
  readonly gt?: string;
  /** Only keys from this one on (wins over `gt`). */
  readonly gte?: string;
  /** Only keys before this one. */
  readonly lt?: string;
  /** Only keys up to this one (wins over `lt`). */
  readonly lte?: string;
  /** Only keys starting with this. */
  readonly prefix?: string;
  /** At most this many entries: a non-negative integer or `Infinity`. Default: all. */
  readonly limit?: number;
}

/** Options of the view's waits. */
export interface ViewWaitOptions {
  /** Default {@link VIEW_DEFAULTS.waitTimeoutMs} (30 s). */
  readonly timeoutMs?: number;
  /** Abandons the wait; it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

type AppliedListener<T> = (partition: number, records: readonly AppliedRecord<T>[]) => void;

const READABLE: ReadonlySet<ViewStatus> = new Set([
  ViewStatus.Recovering,
  ViewStatus.Running,
  ViewStatus.Reconnecting,
]);

/**
 * A local, read-only replica of a table topic (every partition), kept up to date: it
 * recovers the table into local storage (from each partition's checkpoint, so a
 * restarted view on LevelDB reads only what it missed), then follows it. It serves
 * `get`, `has` and `iterate` from local storage, also while reconnecting to Kafka.
 *
 * Views are eventually consistent: a value written to the table is visible after the
 * view fetched it. To read your own write, wait for it with {@link View.waitForKey},
 * {@link View.waitForOffset} or {@link View.catchUp}.
 *
 * Lifecycle: `start()` (idempotent) resolves once recovered (`running`); `close()`
 * (idempotent) leaves Kafka and closes storage; `run({ signal })` resolves on stop and
 * rejects with the failure. Observe with `on(event)`, `status`, `waitFor(status)`,
 * `recovery()` and `stats()`.
 *
 * @example
 * const view = new View({ brokers, table: "bank-table", codec: jsonCodec(Balance) });
 * await view.start();
 * const balance = await view.get("alice");
 */
export class View<T> {
  /** The table topic this view replicates. */
  readonly table: string;
  /** The consumer group of this instance: unique, so it is assigned every partition. */
  readonly groupId: string;
  private readonly options: ResolvedViewOptions<T>;
  private readonly events = new EventEmitter<ViewEvents<T>>();
  private readonly lifecycle: Lifecycle<ViewStatus>;
  /** Connecting and opening storage, which `close()` waits for (it does not wait for recovery). */
  private starting: Promise<void> | undefined;
  private resolveRecovered: (() => void) | undefined;
  private rejectRecovered: ((error: TokaError) => void) | undefined;
  private readonly partitions = new Map<number, ViewPartition<T>>();
  private readonly ready = new Map<number, Promise<ViewPartition<T> | undefined>>();
  private partitionCount = 0;
  private admin: ClientAdmin | undefined;
  private consumer: ClientConsumer | undefined;
  private consumerRunning = false;
  private reconnecting = false;
  private recoveryStartedAt = 0;
  private recoveryDurationMs: number | undefined;
  private decodeFailureCount = 0;
  /** Keys whose current value did not decode, with the error reported for it. */
  private readonly undecodable = new Map<string, TokaError>();
  private readonly appliedListeners = new Set<AppliedListener<T>>();
  private readonly progressListeners = new Set<() => void>();
  /** Unregisters the lag and staleness gauges; set while started. */
  private stopObservingGauges: (() => void) | undefined;

  /** @throws TokaError `TOKA_INVALID_CONFIG` for invalid options, naming the option. */
  constructor(options: ViewOptions<T>) {
    this.options = resolveViewOptions(options);
    this.table = this.options.table;
    this.groupId = `toka-view-${this.table}-${randomUUID()}`;
    this.lifecycle = new Lifecycle({
      component: "view",
      coordinates: { topic: this.table },
      transitions: VIEW_TRANSITIONS,
      onChange: (status) => this.events.emit("status", status),
    });
    this.events.setMaxListeners(1000);
  }

  /** The lifecycle state; see {@link ViewStatus}. */
  get status(): ViewStatus {
    return this.lifecycle.status;
  }

  /** Adds a listener of a typed event; see {@link ViewEvents}. */
  on<E extends keyof ViewEvents<T>>(event: E, listener: (...args: ViewEvents<T>[E]) => void): this {
    this.events.on(event, listener as never);
    return this;
  }

  /** Removes a listener added with {@link View.on}. */
  off<E extends keyof ViewEvents<T>>(
    event: E,
    listener: (...args: ViewEvents<T>[E]) => void,
  ): this {
    this.events.off(event, listener as never);
    return this;
  }

  /**
   * Connects, opens local storage, joins a consumer group of its own and recovers every
   * partition of the table up to the high watermarks taken now. Resolves when recovered
   * (`running`). Idempotent: later calls return the same promise.
   * @throws TokaError `TOKA_TOPIC_MISSING` when the table topic does not exist,
   * `TOKA_STORAGE_FAILED` when local storage fails, `TOKA_KAFKA_FAILED` when Kafka is
   * unreachable, `TOKA_INVALID_STATE` when the view was closed (before it recovered).
   */
  start(): Promise<void> {
    return this.lifecycle.start(() => {
      const recovered = new Promise<void>((resolve, reject) => {
        this.resolveRecovered = resolve;
        this.rejectRecovered = reject;
      });
      // Nobody has to see this rejection but the caller of start().
      recovered.catch(() => {});
      this.starting = this.doStart().catch(async (cause) => {
        const error = this.asTokaError(cause, "the view could not start");
        await this.fail(error);
        throw error;
      });
      return this.starting.then(() => recovered);
    });
  }

  /**
   * Runs until `signal` aborts (then closes) or the view fails.
   * @throws TokaError the failure that stopped the view.
   */
  run({ signal }: { signal?: AbortSignal } = {}): Promise<void> {
    return runUntilClosed(
      {
        start: () => this.start(),
        close: () => this.close(),
        waitClosed: () => this.waitFor(ViewStatus.Closed),
      },
      signal,
    );
  }

  /**
   * Leaves Kafka and closes local storage; pending waits and a `start()` still
   * recovering reject. Idempotent: every call waits for the same close. A failed view
   * stays `failed`.
   */
  close(): Promise<void> {
    return this.lifecycle.close(async () => {
      this.rejectRecovered?.(this.closedError("recover"));
      await this.shutdown();
    }, this.starting);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Resolves when the view reaches `status`; rejects if it fails (or closes) first, at
   * once when it can never reach `status` any more (see {@link ViewStatus}), or after
   * `timeoutMs` (default: no limit).
   * @throws TokaError `TOKA_TIMEOUT`, the view's failure, or `TOKA_INVALID_STATE` when
   * it closed first or cannot reach `status`.
   */
  waitFor(status: ViewStatus, { timeoutMs }: { timeoutMs?: number } = {}): Promise<void> {
    return waitForStatus(this.lifecycle, status, { timeoutMs });
  }

  /**
   * The value of `key`, or `undefined`. Reads local storage of the key's partition
   * (Kafka's default murmur2 partitioner, as toka's and Java producers use). Allowed while
   * `recovering` (values may be old), `running` and `reconnecting` (last known values).
   * @throws TokaError `TOKA_DECODE_FAILED` when the stored value does not decode (the
   * same error `view.decode-failed` reported); `TOKA_INVALID_STATE` when the view is not
   * started, closed or failed; `TOKA_INVALID_ARGUMENT` for a key that is not a string.
   */
  async get(key: string): Promise<T | undefined> {
    const partition = this.partitionOf(key);
    const bytes = await partition.get(key);
    if (bytes === undefined) return undefined;
    try {
      return this.options.codec.decode(bytes);
    } catch (cause) {
      throw this.undecodable.get(key) ?? partition.decodeError(key, undefined, cause);
    }
  }

  /**
   * Whether `key` has a value (also one that does not decode).
   * @throws TokaError as {@link View.get}, except `TOKA_DECODE_FAILED`.
   */
  async has(key: string): Promise<boolean> {
    return this.partitionOf(key).has(key);
  }

  /**
   * Entries of every partition, merge-sorted by key (UTF-8 byte order), within the range
   * of `options`. Each `for await` reads a snapshot per partition taken when it starts.
   * Values that do not decode are skipped (they were reported by `view.decode-failed`
   * when applied). Errors reject the first `next()`.
   * @throws TokaError `TOKA_INVALID_STATE` when the view is not readable (see
   * {@link View.get}); `TOKA_INVALID_ARGUMENT` for a bad `limit`.
   */
  iterate(options: ViewIterateOptions = {}): AsyncIterable<[key: string, value: T]> {
    return { [Symbol.asyncIterator]: () => this.merge(options) };
  }

  /** Recovery progress; see {@link ViewRecovery}. */
  recovery(): ViewRecovery {
    let recovered = 0;
    let total = 0;
    let records = 0;
    for (const p of this.partitions.values()) {
      recovered += p.recoveryDone;
      total += p.recoveryTotal;
      records += p.recoveredRecords;
    }
    return {
      recovered,
      total,
      records,
      done: this.recoveryDurationMs !== undefined,
      durationMs: this.recoveryDurationMs,
    };
  }

  /** Offsets, lag and recovery per partition. */
  stats(): ViewStats {
    const partitions = [...this.partitions.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        offset: p.position,
        highWatermark: p.highWatermark,
        lag: p.lag,
        staleMs: p.staleMs(),
        recovered: p.recovered,
      }));
    let updates = 0;
    for (const p of this.partitions.values()) updates += p.updates;
    return {
      table: this.table,
      status: this.lifecycle.status,
      partitions,
      recovery: this.recovery(),
      updates,
      decodeFailures: this.decodeFailureCount,
    };
  }

  /**
   * Resolves once the view applied the table record at `offset` of `partition` (and
   * everything before it), e.g. an offset a producer of the table got back.
   * @throws TokaError `TOKA_TIMEOUT` after `timeoutMs` (default 30 s),
   * `TOKA_INVALID_ARGUMENT` for a partition the table does not have or a bad offset,
   * `TOKA_INVALID_STATE` when the view is not started or closes first, or its failure.
   */
  waitForOffset(
    partition: number,
    offset: string | number | bigint,
    options: ViewWaitOptions = {},
  ): Promise<void> {
    const target = String(offset);
    const p = this.partitions.get(partition);
    if (!READABLE.has(this.lifecycle.status)) {
      return this.waitForProgress(
        () => false,
        `offset ${target} of partition ${partition}`,
        options,
      );
    }
    if (!p || !/^\d+$/.test(target)) {
      return Promise.reject(
        new TokaError(
          TokaErrorCode.InvalidArgument,
          !p
            ? `the table has partitions 0..${this.partitionCount - 1}; pass one of them`
            : `the offset "${target}" is not a non-negative integer`,
          { topic: this.table, partition },
        ),
      );
    }
    return this.waitForProgress(
      () => compareOffsets(p.position, target) > 0,
      `offset ${target} of partition ${partition} applied`,
      options,
    );
  }

  /**
   * Reads the table's current high watermarks and resolves once the view applied
   * everything below them: after it, the view holds every write the table had
   * acknowledged when `catchUp` was called. (An open transaction on the table delays
   * this until it ends.)
   * @throws TokaError `TOKA_TIMEOUT` after `timeoutMs` (default 30 s), `TOKA_KAFKA_FAILED`
   * when the watermarks cannot be read, `TOKA_INVALID_STATE` when the view is not started
   * or closes first, or its failure.
   */
  async catchUp(options: ViewWaitOptions = {}): Promise<void> {
    this.assertReadable("catch up");
    let watermarks: { partition: number; high: string }[];
    try {
      watermarks = await this.admin!.watermarks(this.table);
    } catch (cause) {
      throw new TokaError(TokaErrorCode.KafkaFailed, "reading the table's high watermarks failed", {
        topic: this.table,
        cause,
        retriable: true,
      });
    }
    await this.waitForProgress(
      () =>
        watermarks.every((w) => {
          const p = this.partitions.get(w.partition);
          return !p || compareOffsets(p.position, w.high) >= 0;
        }),
      "the high watermarks taken at catchUp() applied",
      options,
    );
  }

  /**
   * Resolves with the value of `key` once `predicate` holds for it: at once if it holds
   * for the current value, else at the first applied change for which it holds. The
   * predicate sees `undefined` for an absent or deleted key. Default predicate: the key
   * has a value. Changes that do not decode are not offered to the predicate.
   * @throws TokaError `TOKA_TIMEOUT` after `timeoutMs` (default 30 s),
   * `TOKA_INVALID_STATE` when the view is not started or closes first, or its failure.
   */
  waitForKey(
    key: string,
    predicate: (value: T | undefined) => boolean = (value) => value !== undefined,
    options: ViewWaitOptions = {},
  ): Promise<T | undefined> {
    const what = `key ${JSON.stringify(key)} to match`;
    return new Promise((resolve, reject) => {
      this.assertCanWait(what, options.signal);
      let finished = false;
      const finish = (settle: () => void) => {
        if (finished) return;
        finished = true;
        this.appliedListeners.delete(listener);
        cleanup();
        settle();
      };
      const offer = (value: T | undefined) => {
        try {
          if (predicate(value)) finish(() => resolve(value));
        } catch (error) {
          finish(() => reject(error));
        }
      };
      const listener: AppliedListener<T> = (_partition, records) => {
        for (const r of records) if (r.key === key && !r.error) offer(r.value);
      };
      const cleanup = this.waitScaffold(what, options, (error) => finish(() => reject(error)));
      this.appliedListeners.add(listener);
      this.get(key).then(
        (value) => {
          if (!finished) offer(value);
        },
        (error: unknown) => {
          // An undecodable current value: wait for a change.
          if (isTokaError(error) && error.code === TokaErrorCode.DecodeFailed) return;
          finish(() => reject(error));
        },
      );
    });
  }

  private waitForProgress(
    check: () => boolean,
    what: string,
    options: ViewWaitOptions,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.assertCanWait(what, options.signal);
      let finished = false;
      const finish = (settle: () => void) => {
        if (finished) return;
        finished = true;
        this.progressListeners.delete(listener);
        cleanup();
        settle();
      };
      const listener = () => {
        if (check()) finish(resolve);
      };
      const cleanup = this.waitScaffold(what, options, (error) => finish(() => reject(error)));
      this.progressListeners.add(listener);
      listener();
    });
  }

  /** Throws (rejecting the wait at once) when the signal aborted or the view is not readable. */
  private assertCanWait(what: string, signal: AbortSignal | undefined) {
    if (signal?.aborted) throw signal.reason;
    this.assertReadable(`wait for ${what}`);
  }

  /**
   * Timeout, abort signal and the view's end for a wait: calls `reject` (never
   * synchronously) when one of them comes first. Returns the cleanup.
   */
  private waitScaffold(
    what: string,
    { timeoutMs = VIEW_DEFAULTS.waitTimeoutMs, signal }: ViewWaitOptions,
    reject: (error: unknown) => void,
  ): () => void {
    const onStatus = (status: ViewStatus) => {
      if (status === ViewStatus.Failed) reject(this.lifecycle.failure);
      else if (status === ViewStatus.Closing || status === ViewStatus.Closed)
        reject(this.closedError(`wait for ${what}`));
    };
    const onAbort = () => reject(signal?.reason);
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(
          () =>
            reject(
              new TokaError(
                TokaErrorCode.Timeout,
                `waited ${timeoutMs} ms for ${what}; the view is ${this.lifecycle.status}, ${this.lagSummary()}`,
                { topic: this.table },
              ),
            ),
          timeoutMs,
        )
      : undefined;
    const stopObserving = this.lifecycle.observe(onStatus);
    signal?.addEventListener("abort", onAbort, { once: true });
    return () => {
      if (timer) clearTimeout(timer);
      stopObserving();
      signal?.removeEventListener("abort", onAbort);
    };
  }

  private async doStart() {
    const { client, table } = this.options;
    this.stopObservingGauges ??= observeViewGauges(() => this.stats());
    this.admin = client.admin();
    await this.admin.connect();
    const admin = this.admin;
    // Right after the table topic was created, or while a broker dies, a broker may not
    // know its leaders yet (NOT_LEADER_FOR_PARTITION): asked again, not a failed start.
    const count = (await retrying(() => admin.partitionCounts([table]), THROUGH_FAILOVER)).get(
      table,
    );
    if (count === undefined) {
      throw new TokaError(
        TokaErrorCode.TopicMissing,
        'the table topic does not exist; start the processor that owns it first, or check the view\'s "table" option',
        { topic: table },
      );
    }
    const watermarks = new Map(
      (await retrying(() => admin.watermarks(table), THROUGH_FAILOVER)).map((w) => [
        w.partition,
        w,
      ]),
    );
    this.partitionCount = count;
    this.recoveryStartedAt = Date.now();
    for (let partition = 0; partition < count; partition++) {
      const opened = this.openPartition(partition, watermarks.get(partition)?.high ?? "0");
      this.ready.set(partition, opened);
      await opened;
    }
    if (this.isStopping()) return;
    this.lifecycle.moveTo(ViewStatus.Recovering);
    this.events.emit("view.recovering", this.progress());

    this.consumer = client.consumer({
      groupId: this.groupId,
      copartitioned: false,
      // Records of aborted or open table transactions must never reach a view.
      readCommitted: true,
      fromBeginning: true,
      maxBytesPerPartition: this.options.maxBatchBytes,
      concurrency: this.options.concurrency,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
    });
    await this.consumer.connect();
    await this.consumer.subscribe([table]);
    await this.consumer.run({
      onAssignment: (assignment) => this.onAssignment(assignment),
      onBatch: (batch) => this.onBatch(batch),
      onBatchDone: (tp, lastOffset, highWatermark) =>
        this.onBatchDone(tp, lastOffset, highWatermark),
      onCrash: (error) =>
        void this.fail(this.asTokaError(error, "the view's Kafka consumer stopped")),
      onReconnecting: (error) => this.onReconnecting(error),
      onReconnected: () => this.onReconnected(),
    });
    this.consumerRunning = true;
    this.maybeRecovered();
    this.refreshStatus();
  }

  private async openPartition(
    partition: number,
    highWatermark: string,
  ): Promise<ViewPartition<T> | undefined> {
    const { table, codec, storage, logger } = this.options;
    let store: ReturnType<typeof storage>;
    try {
      store = storage(table, partition);
    } catch (cause) {
      throw new TokaError(
        TokaErrorCode.StorageFailed,
        "the view's storage factory failed for the partition",
        { topic: table, partition, cause },
      );
    }
    const view = new ViewPartition(table, partition, store, codec, logger);
    this.partitions.set(partition, view);
    if (await view.open(highWatermark)) {
      logger.warn(
        "the view's local state was ahead of the table topic (was the topic deleted and created again?); rebuilding the partition from offset 0",
        { topic: table, partition },
      );
    }
    return view;
  }

  private onAssignment(assignment: readonly TopicPartition[]) {
    const { table, logger } = this.options;
    for (const { topic, partition } of assignment) {
      if (topic !== table) continue;
      const known = this.partitions.get(partition);
      if (known) {
        // The view's position lives in its storage, never in committed offsets.
        this.consumer?.seek({ topic, partition, offset: known.position });
        continue;
      }
      if (this.ready.has(partition)) continue;
      // The table grew: the new partition starts empty (keys hash differently from now on).
      logger.warn("the table has a new partition; the view follows it", {
        topic: table,
        partition,
      });
      this.partitionCount = Math.max(this.partitionCount, partition + 1);
      const opened = this.openPartition(partition, "0").then(
        (p) => {
          if (p) this.consumer?.seek({ topic, partition, offset: p.position });
          return p;
        },
        (error: unknown) => {
          void this.fail(this.asTokaError(error, "opening a new partition of the table failed"));
          return undefined;
        },
      );
      this.ready.set(partition, opened);
    }
    const assigned = new Set(assignment.map((tp) => tp.partition));
    const missing = [...this.partitions.keys()].filter((p) => !assigned.has(p));
    if (missing.length > 0) {
      logger.warn(
        "the view was not assigned every partition of the table; is another consumer using its group id?",
        { topic: table, group: this.groupId, missing },
      );
    }
  }

  private async onBatch(batch: IncomingBatch): Promise<boolean> {
    if (batch.topic !== this.table || this.isStopping()) return false;
    const partition = await this.ready.get(batch.partition);
    if (!partition || this.isStopping()) return false;
    let applied: AppliedRecord<T>[];
    try {
      applied = await partition.apply(batch.records, batch.highWatermark);
    } catch (cause) {
      const error = this.asTokaError(cause, "applying a table batch failed");
      void this.fail(error);
      // Thrown so the consumer stops.
      throw error;
    }
    if (applied.length > 0) this.afterApply(partition, applied);
    return true;
  }

  private afterApply(partition: ViewPartition<T>, applied: readonly AppliedRecord<T>[]) {
    for (const r of applied) {
      if (r.error) {
        this.undecodable.set(r.key, r.error);
        this.decodeFailureCount++;
        this.options.logger.warn("a table value does not decode; the view skips it", {
          error: r.error,
        });
        this.events.emit("view.decode-failed", r.error);
        continue;
      }
      this.undecodable.delete(r.key);
      if (compareOffsets(r.offset, partition.target) >= 0) {
        this.events.emit("view.updated", {
          key: r.key,
          value: r.value,
          partition: partition.partition,
          offset: r.offset,
        });
      }
    }
    for (const listener of this.appliedListeners) listener(partition.partition, applied);
    if (!partition.recovered) {
      if (partition.checkRecovered()) this.maybeRecovered();
      else this.events.emit("view.recovering", this.progress());
    }
    this.notifyProgress();
  }

  private onBatchDone(tp: TopicPartition, lastOffset: string, highWatermark: string) {
    if (tp.topic !== this.table || this.isStopping()) return;
    const partition = this.partitions.get(tp.partition);
    if (!partition) return;
    partition.noteProgress(lastOffset, highWatermark);
    if (partition.checkRecovered()) this.maybeRecovered();
    this.notifyProgress();
  }

  private onReconnecting(cause: unknown) {
    if (this.isStopping()) return;
    this.reconnecting = true;
    const error = new TokaError(
      TokaErrorCode.KafkaFailed,
      "the view lost its Kafka consumer and reconnects; it serves the last known values meanwhile",
      { topic: this.table, group: this.groupId, cause, retriable: true },
    );
    this.options.logger.warn("view reconnecting", { error });
    this.events.emit("view.reconnecting", error);
    this.refreshStatus();
  }

  private onReconnected() {
    if (this.isStopping()) return;
    this.reconnecting = false;
    this.options.logger.info("view reconnected", { topic: this.table });
    this.refreshStatus();
  }

  /** Once every partition recovered and the consumer runs: `view.recovered`, `running`. */
  private maybeRecovered() {
    if (this.recoveryDurationMs !== undefined || !this.consumerRunning || this.isStopping()) return;
    for (const p of this.partitions.values()) if (!p.recovered) return;
    this.recoveryDurationMs = Date.now() - this.recoveryStartedAt;
    const { records } = this.recovery();
    this.events.emit("view.recovering", this.progress());
    this.events.emit("view.recovered", { records, durationMs: this.recoveryDurationMs });
    this.options.logger.info("view recovered", {
      topic: this.table,
      records,
      durationMs: this.recoveryDurationMs,
    });
    this.refreshStatus();
    this.resolveRecovered?.();
  }

  private progress() {
    const { recovered, total } = this.recovery();
    return { recovered, total };
  }

  private notifyProgress() {
    for (const listener of this.progressListeners) listener();
  }

  private refreshStatus() {
    if (!READABLE.has(this.lifecycle.status)) return;
    if (this.reconnecting) this.lifecycle.moveTo(ViewStatus.Reconnecting);
    else if (this.recoveryDurationMs !== undefined) this.lifecycle.moveTo(ViewStatus.Running);
    else this.lifecycle.moveTo(ViewStatus.Recovering);
  }

  private partitionOf(key: string): ViewPartition<T> {
    if (typeof key !== "string") {
      throw new TokaError(TokaErrorCode.InvalidArgument, "a view key is a string", {
        topic: this.table,
      });
    }
    this.assertReadable("read");
    const partition = this.partitions.get(defaultPartition(key, this.partitionCount));
    if (!partition) {
      throw new TokaError(TokaErrorCode.InvalidState, "the key's partition is not open yet", {
        topic: this.table,
        key,
      });
    }
    return partition;
  }

  private async *merge(options: ViewIterateOptions): AsyncGenerator<[string, T]> {
    const { limit = Number.POSITIVE_INFINITY, ...range } = options;
    if (!(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 0))) {
      throw new TokaError(
        TokaErrorCode.InvalidArgument,
        `iterate "limit" must be a non-negative integer or Infinity, got ${limit}`,
        { topic: this.table },
      );
    }
    this.assertReadable("iterate");
    if (limit === 0) return;
    const iterators = [...this.partitions.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => p.iterate(range)[Symbol.asyncIterator]());
    try {
      const heads = await Promise.all(iterators.map((it) => it.next()));
      let yielded = 0;
      while (yielded < limit) {
        let min = -1;
        for (let i = 0; i < heads.length; i++) {
          const head = heads[i]!;
          if (head.done) continue;
          if (min < 0 || compareKeys(head.value[0], (heads[min]!.value as [string])[0]) < 0)
            min = i;
        }
        if (min < 0) return;
        const [key, bytes] = heads[min]!.value as [string, Uint8Array];
        heads[min] = await iterators[min]!.next();
        let value: T;
        try {
          value = this.options.codec.decode(bytes);
        } catch {
          continue;
        }
        yield [key, value];
        yielded++;
      }
    } finally {
      await Promise.all(iterators.map((it) => it.return?.().catch(() => {})));
    }
  }

  private assertReadable(what: string) {
    if (READABLE.has(this.lifecycle.status)) return;
    if (this.lifecycle.status === ViewStatus.Failed) {
      throw new TokaError(TokaErrorCode.InvalidState, `cannot ${what}: the view failed`, {
        topic: this.table,
        cause: this.lifecycle.failure,
      });
    }
    throw new TokaError(
      TokaErrorCode.InvalidState,
      this.lifecycle.status === ViewStatus.Idle || this.lifecycle.status === ViewStatus.Starting
        ? `cannot ${what}: the view is ${this.lifecycle.status}; await view.start() first`
        : `cannot ${what}: the view is ${this.lifecycle.status}`,
      { topic: this.table },
    );
  }

  private lagSummary(): string {
    const lagging = [...this.partitions.values()].filter((p) => p.lag > 0);
    if (lagging.length === 0) return "no partition lags";
    return `lag: ${lagging.map((p) => `p${p.partition}=${p.lag}`).join(" ")}`;
  }

  private isStopping() {
    return this.lifecycle.stopping;
  }

  private async fail(error: TokaError) {
    if (this.isStopping()) return;
    this.options.logger.error("view failed", { topic: this.table, error });
    this.lifecycle.fail(error);
    this.rejectRecovered?.(error);
    this.events.emit("view.failed", error);
    await this.shutdown().catch(() => {});
  }

  private async shutdown() {
    this.stopObservingGauges?.();
    this.stopObservingGauges = undefined;
    // Leaving the group waits for the in-flight batches; then storage can close.
    await this.consumer?.disconnect().catch(() => {});
    await Promise.all([...this.ready.values()].map((p) => p.catch(() => {})));
    for (const partition of this.partitions.values()) await partition.close().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }

  private closedError(what: string): TokaError {
    return new TokaError(
      TokaErrorCode.InvalidState,
      `the view was closed and cannot ${what}; create a new View`,
      { topic: this.table },
    );
  }

  private asTokaError(error: unknown, message: string): TokaError {
    return isTokaError(error)
      ? (error as TokaError)
      : new TokaError(TokaErrorCode.KafkaFailed, message, { topic: this.table, cause: error });
  }
}

/** Compares keys in UTF-8 byte order (code point order), the order of local storage. */
function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate encodes a code point above U+FFFF, which sorts after every BMP one.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
