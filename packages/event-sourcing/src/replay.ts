import { EventEmitter } from "node:events";
import { ID_HEADER, isTokaError, TokaError, TokaErrorCode, tableTopic } from "@toka/processor";
import { DEDUP_HEADER, encodeDedup, type KeyDedup } from "@toka/processor/dedup";
import type {
  ClientAdmin,
  ClientProducer,
  LogBatch,
  LogRecord,
  OutgoingRecord,
} from "@toka/processor/kafka";
import { memoryStorage, type Storage, type StorageFactory } from "@toka/state-store";
import { z } from "zod";
import { type Connection, type ConnectionOptions, resolveConnection } from "./connection.js";
import { type EventRecord, eventMeta } from "./event-log.js";
import { ensureTopics } from "./event-topics.js";
import type { Fold } from "./fold.js";
import { decodeSpilledEntry, encodeSpilledEntry, ReplayKeyEntry } from "./replay-key-entry.js";
import { ProgressMeter, type ReplayProgress } from "./replay-progress.js";
import {
  fromBeginning,
  type PartitionRange,
  partitionRanges,
  type ReplayFrom,
} from "./replay-start.js";

/** Options of a {@link Replay}. */
export interface ReplayOptions extends ConnectionOptions {
  /** Where to start reading the event log. Default: the beginning. */
  readonly from?: ReplayFrom;
  /**
   * The group of the new table (`<group>-table`), which a processor can continue
   * (see `rebuildProjection`). Default `<name>-replay-<n>` with the first `n` whose table
   * does not exist. A table that exists and holds records is refused.
   */
  readonly group?: string;
  /**
   * Where values go when more than {@link maxCachedKeys} are held. Default:
   * `memoryStorage()`; give `levelStorage({ path })` for tables larger than memory.
   */
  readonly storage?: StorageFactory;
  /** Keys held decoded in memory before they spill to `storage`. Default 1 000 000. */
  readonly maxCachedKeys?: number;
  /** Changed keys per partition buffered before their table records are produced. Default 50 000. */
  readonly flushKeys?: number;
  /** Bytes fetched per partition and request. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  /**
   * Event IDs remembered per key to drop an event repeated in the log (as the live
   * exactly-once group does with its `dedup.idsPerKey`). Default 32.
   */
  readonly dedupIdsPerKey?: number;
  /** How often `replay.progress` is emitted, in ms. Default 1000. */
  readonly progressIntervalMs?: number;
  /** Replication factor of the new table topic. Default: the broker's default. */
  readonly replicationFactor?: number;
}

/** Named defaults of {@link ReplayOptions}. */
export const REPLAY_DEFAULTS = {
  maxCachedKeys: 1_000_000,
  flushKeys: 50_000,
  maxBatchBytes: 4 * 1024 * 1024,
  dedupIdsPerKey: 32,
  progressIntervalMs: 1000,
} as const;

/** What a finished replay built. */
export interface ReplayResult {
  /** The group of the new table: a processor of it continues where the replay stopped. */
  readonly group: string;
  /** The new table topic, `<group>-table`. */
  readonly table: string;
  /** Where each partition started and ended (the next offset to read). */
  readonly ranges: readonly PartitionRange[];
  /** Events folded. */
  readonly events: number;
  /** Events dropped because their `toka-id` was seen before for the key. */
  readonly duplicates: number;
  /** Table records produced. */
  readonly tableRecords: number;
  /** Keys with a value at the end. */
  readonly keys: number;
  readonly durationMs: number;
  /** Events folded per second. */
  readonly eventsPerSecond: number;
}

/** Typed events of a replay. */
export interface ReplayEvents {
  "replay.started": [event: { group: string; table: string; ranges: readonly PartitionRange[] }];
  "replay.progress": [progress: ReplayProgress];
  "replay.done": [result: ReplayResult];
}

/** Lifecycle of a {@link Replay}. */
export const ReplayStatus = {
  Idle: "idle",
  Running: "running",
  Done: "done",
  Failed: "failed",
  Cancelled: "cancelled",
} as const;
export type ReplayStatus = (typeof ReplayStatus)[keyof typeof ReplayStatus];

interface PartitionState<V> {
  readonly range: PartitionRange;
  readonly end: bigint;
  position: bigint;
  readonly cache: Map<string, ReplayKeyEntry<V>>;
  /** The cached keys changed since the last flush, each once (see `ReplayKeyEntry.dirty`). */
  dirty: ReplayKeyEntry<V>[];
  storage: Storage | undefined;
}

const optionsSchema = z.object({
  group: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,240}$/, "a group name uses 1-240 of a-z A-Z 0-9 . _ -")
    .optional(),
  maxCachedKeys: z.number().int().positive().optional(),
  flushKeys: z.number().int().positive().optional(),
  maxBatchBytes: z.number().int().min(1024).optional(),
  dedupIdsPerKey: z.number().int().nonnegative().optional(),
  progressIntervalMs: z.number().int().positive().optional(),
  replicationFactor: z.number().int().positive().optional(),
});

/** IDs written to the dedup header of a table record: enough for a processor to take over. */
const HEADER_IDS = 8;

/**
 * Rebuilds a table from an event log into a **new** table topic, without touching the
 * live group: reads the log from `from` up to the high watermarks taken at start and
 * folds each key's events with the fold's `step` (an aggregate's `evolve` or a
 * projection's `project`).
 *
 * It does not run the events through a processor: events are folded in memory per key
 * and each changed key is produced once per flush, which is what makes it fast. Table
 * records carry the `toka-dedup` header of the exactly-once processor (the last applied
 * offset of the log and recent IDs), and at the end the group's offsets on the log are
 * committed at the end positions: a `Processor` of `result.group` then recovers the new
 * table and continues with the events written since, exactly once.
 *
 * A replay that fails or is cancelled leaves a partial table; start a new one (with a
 * new group). Lifecycle: `run({ signal })` once; observe with `on("replay.progress")`,
 * `progress()` and `status`.
 *
 * @example
 * const replay = new Replay(balances, { brokers, from: fromTime(new Date("2026-01-01")) });
 * replay.on("replay.progress", (p) => console.log(p.done, p.total));
 * const { group, table } = await replay.run();
 */
export class Replay<V, E> {
  private readonly connection: Connection;
  private readonly from: ReplayFrom;
  private readonly storageFactory: StorageFactory;
  private readonly settings: {
    maxCachedKeys: number;
    flushKeys: number;
    maxBatchBytes: number;
    dedupIdsPerKey: number;
    progressIntervalMs: number;
    replicationFactor: number | undefined;
  };
  private readonly events = new EventEmitter<ReplayEvents>();
  private currentStatus: ReplayStatus = ReplayStatus.Idle;
  private meter: ProgressMeter | undefined;
  private readonly partitions = new Map<number, PartitionState<V>>();
  private group: string | undefined;
  private table: string | undefined;
  private producer: ClientProducer | undefined;
  private counts = { events: 0, duplicates: 0, tableRecords: 0 };
  private cachedKeys = 0;

  /** @throws TokaError `TOKA_INVALID_CONFIG` for invalid options, naming the option. */
  constructor(
    readonly fold: Fold<V, E>,
    private readonly options: ReplayOptions = {},
  ) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `invalid replay option "${issue.path.join(".")}": ${issue.message}`,
        { group: fold.name, cause: parsed.error },
      );
    }
    this.connection = resolveConnection("replay", options, { group: fold.name });
    this.from = options.from ?? fromBeginning();
    this.storageFactory = options.storage ?? memoryStorage();
    this.settings = {
      maxCachedKeys: options.maxCachedKeys ?? REPLAY_DEFAULTS.maxCachedKeys,
      flushKeys: options.flushKeys ?? REPLAY_DEFAULTS.flushKeys,
      maxBatchBytes: options.maxBatchBytes ?? REPLAY_DEFAULTS.maxBatchBytes,
      dedupIdsPerKey: options.dedupIdsPerKey ?? REPLAY_DEFAULTS.dedupIdsPerKey,
      progressIntervalMs: options.progressIntervalMs ?? REPLAY_DEFAULTS.progressIntervalMs,
      replicationFactor: options.replicationFactor,
    };
  }

  get status(): ReplayStatus {
    return this.currentStatus;
  }

  /** Adds a listener of a typed event; see {@link ReplayEvents}. */
  on<K extends keyof ReplayEvents>(event: K, listener: (...args: ReplayEvents[K]) => void): this {
    this.events.on(event, listener as never);
    return this;
  }

  /** Removes a listener added with {@link Replay.on}. */
  off<K extends keyof ReplayEvents>(event: K, listener: (...args: ReplayEvents[K]) => void): this {
    this.events.off(event, listener as never);
    return this;
  }

  /** The progress so far; `undefined` before the ranges are known. */
  progress(): ReplayProgress | undefined {
    return this.meter?.at(this.done());
  }

  /**
   * Runs the replay to the high watermarks taken at start; resolves with what it built.
   * An aborted `signal` stops it (rejecting with `TOKA_INVALID_STATE`), leaving a partial table.
   * @throws TokaError `TOKA_TOPIC_MISSING` when the log does not exist,
   * `TOKA_INVALID_STATE` when run twice, when `group`'s table already holds records or
   * when cancelled, `TOKA_DECODE_FAILED` for an event that does not decode, and
   * Kafka or storage failures.
   */
  async run({ signal }: { signal?: AbortSignal } = {}): Promise<ReplayResult> {
    if (this.currentStatus !== ReplayStatus.Idle) {
      throw new TokaError(TokaErrorCode.InvalidState, "a replay runs once; create a new Replay", {
        group: this.group ?? this.fold.name,
      });
    }
    this.currentStatus = ReplayStatus.Running;
    const admin = this.connection.client.admin();
    let timer: NodeJS.Timeout | undefined;
    try {
      await admin.connect();
      const ranges = await this.prepare(admin);
      const startedAt = Date.now();
      this.meter = new ProgressMeter(
        ranges.reduce((sum, r) => sum + Number(BigInt(r.end) - BigInt(r.start)), 0),
      );
      this.events.emit("replay.started", { group: this.group!, table: this.table!, ranges });
      timer = setInterval(
        () => this.events.emit("replay.progress", this.progress()!),
        this.settings.progressIntervalMs,
      );
      await this.read(admin, ranges, signal);
      const keys = await this.countKeys();
      const durationMs = Date.now() - startedAt;
      const result: ReplayResult = {
        group: this.group!,
        table: this.table!,
        ranges,
        ...this.counts,
        keys,
        durationMs,
        eventsPerSecond: durationMs > 0 ? (this.counts.events * 1000) / durationMs : 0,
      };
      this.currentStatus = ReplayStatus.Done;
      this.events.emit("replay.progress", this.progress()!);
      this.events.emit("replay.done", result);
      return result;
    } catch (cause) {
      this.currentStatus = signal?.aborted ? ReplayStatus.Cancelled : ReplayStatus.Failed;
      throw isTokaError(cause)
        ? cause
        : new TokaError(TokaErrorCode.KafkaFailed, "the replay failed", {
            group: this.group ?? this.fold.name,
            topic: this.fold.log.topic,
            cause,
          });
    } finally {
      clearInterval(timer);
      await this.producer?.disconnect().catch(() => {});
      for (const p of this.partitions.values()) await p.storage?.close().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }

  /** Finds the ranges, names the group and creates its table topic. */
  private async prepare(admin: ClientAdmin): Promise<PartitionRange[]> {
    const topic = this.fold.log.topic;
    const counts = await admin.partitionCounts([topic]);
    const partitions = counts.get(topic);
    if (partitions === undefined) {
      throw new TokaError(
        TokaErrorCode.TopicMissing,
        `the event log "${topic}" does not exist; check the name (an aggregate's log is <aggregate>-events)`,
        { topic },
      );
    }
    this.group = this.options.group ?? (await this.freeGroupName(admin));
    this.table = tableTopic(this.group);
    const existing = await admin.partitionCounts([this.table]);
    if (existing.has(this.table)) {
      const marks = await admin.watermarks(this.table);
      if (marks.some((m) => m.high !== "0")) {
        throw new TokaError(
          TokaErrorCode.InvalidState,
          `the table "${this.table}" exists and holds records; a replay writes a new table: choose another group (or none, for <name>-replay-<n>)`,
          { group: this.group, topic: this.table },
        );
      }
    }
    await ensureTopics(
      this.connection,
      [{ topic: this.table, kind: "table" }],
      partitions,
      this.settings.replicationFactor,
    );
    const ranges = await partitionRanges(admin, topic, this.from);
    for (const range of ranges) {
      const end = BigInt(range.end);
      const position = BigInt(range.start);
      this.partitions.set(range.partition, {
        range,
        end,
        position,
        cache: new Map(),
        dirty: [],
        storage: undefined,
      });
    }
    return ranges;
  }

  private async freeGroupName(admin: ClientAdmin): Promise<string> {
    for (let first = 1; ; first += 100) {
      const names = Array.from({ length: 100 }, (_, i) => `${this.fold.name}-replay-${first + i}`);
      const taken = await admin.partitionCounts(names.map(tableTopic));
      const free = names.find((n) => !taken.has(tableTopic(n)));
      if (free) return free;
    }
  }

  private done(): number {
    let done = 0;
    for (const p of this.partitions.values()) done += Number(p.position - BigInt(p.range.start));
    return done;
  }

  /** Reads every partition to its end, then flushes and commits the end positions. */
  private async read(
    admin: ClientAdmin,
    ranges: readonly PartitionRange[],
    signal: AbortSignal | undefined,
  ) {
    const topic = this.fold.log.topic;
    // Table records are the keys' latest values: one written twice by a retry is harmless.
    this.producer = this.connection.client.producer({ idempotent: false });
    await this.producer.connect();
    try {
      await this.connection.client.readLog(
        {
          topic,
          ranges,
          readCommitted: true,
          maxBytesPerPartition: this.settings.maxBatchBytes,
          signal,
        },
        (batch) => this.apply(batch),
      );
    } catch (error) {
      if (!signal?.aborted) throw error;
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "the replay was cancelled; its table is partial",
        { group: this.group, topic: this.table, cause: error },
      );
    }
    // The ends may be transaction markers, which no batch reports.
    for (const p of this.partitions.values()) p.position = p.end;
    await this.flush(...this.partitions.values());
    await admin.commitOffsets(
      this.group!,
      ranges.map((r) => ({ topic, partition: r.partition, offset: r.end })),
    );
  }

  /** Folds one batch of one partition into the partition's cache. */
  private async apply(batch: LogBatch) {
    const p = this.partitions.get(batch.partition);
    if (!p) return;
    const { records } = batch;
    if (records.length > 0) {
      const keys = records.map((r) => r.keyText());
      if (p.storage) await this.load(p, keys);
      this.foldRecords(p, batch, keys);
    }
    p.position = BigInt(batch.nextOffset);
    if (p.dirty.length >= this.settings.flushKeys) await this.flush(p);
    if (this.cachedKeys > this.settings.maxCachedKeys) await this.spill(p);
  }

  /**
   * Steps each record's key with its event, dropping events whose ID the key has seen.
   * The hot loop of a replay: it keeps per event only what the table record needs (the
   * ID, its timestamp, the offset as a number) and decodes nothing else.
   */
  private foldRecords(p: PartitionState<V>, batch: LogBatch, keys: readonly string[]) {
    const { fold } = this;
    const { log } = fold;
    const window = this.settings.dedupIdsPerKey;
    const { records } = batch;
    const { cache } = p;
    let events = 0;
    let duplicates = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const key = keys[i]!;
      const id =
        record.header(ID_HEADER) ?? `${batch.topic}/${batch.partition}/${record.offsetNumber}`;
      let entry = cache.get(key);
      if (entry === undefined) {
        entry = new ReplayKeyEntry<V>(key);
        cache.set(key, entry);
        this.cachedKeys += 1;
      }
      if (!entry.dirty) {
        entry.dirty = true;
        p.dirty.push(entry);
      }
      if (window > 0 && entry.ids.includes(id)) {
        entry.duplicates += 1;
        duplicates += 1;
        continue;
      }
      const value = record.value;
      if (value !== null) {
        const eventRecord = new KeyedRecord(record, key);
        entry.value = fold.step(
          entry.value,
          log.decode(value, eventRecord),
          eventMeta(eventRecord),
        );
        events += 1;
      }
      if (window > 0) entry.remember(id, record.timestamp, window);
      entry.applied = record.offsetNumber;
      entry.lastId = id;
    }
    this.counts.events += events;
    this.counts.duplicates += duplicates;
  }

  /** Brings the batch's keys that spilled to storage back into the cache. */
  private async load(p: PartitionState<V>, keys: readonly string[]) {
    if (!p.storage) return;
    const missing = [...new Set(keys.filter((k) => !p.cache.has(k)))];
    if (missing.length === 0) return;
    const stored = await p.storage.getMany(missing);
    missing.forEach((key, i) => {
      const bytes = stored[i];
      if (!bytes) return;
      p.cache.set(key, decodeSpilledEntry(bytes, key, this.fold.table, this.group));
      this.cachedKeys += 1;
    });
  }

  /** Produces the table records of the partitions' changed keys, in one send. */
  private async flush(...partitions: PartitionState<V>[]) {
    const records = partitions.flatMap((p) => this.tableRecords(p));
    if (records.length === 0) return;
    await this.producer!.send(records);
    this.counts.tableRecords += records.length;
  }

  /** The table records of a partition's changed keys; they count as written. */
  private tableRecords(p: PartitionState<V>): OutgoingRecord[] {
    const codec = this.fold.table;
    const topic = this.fold.log.topic;
    const records: OutgoingRecord[] = [];
    for (const entry of p.dirty) {
      entry.dirty = false;
      if (entry.value === undefined && !entry.written) continue;
      const ids: KeyDedup["ids"] = [];
      for (let i = Math.max(0, entry.ids.length - HEADER_IDS); i < entry.ids.length; i++) {
        ids.push([entry.ids[i]!, entry.times[i]!]);
      }
      const dedup: KeyDedup = {
        applied: { [topic]: String(entry.applied) },
        ids,
        duplicates: entry.duplicates,
      };
      records.push({
        topic: this.table!,
        partition: p.range.partition,
        key: entry.key,
        value: entry.value === undefined ? null : codec.encode(entry.value),
        headers: { [ID_HEADER]: `${entry.lastId}:table`, [DEDUP_HEADER]: encodeDedup(dedup) },
      });
      entry.written = true;
    }
    p.dirty = [];
    return records;
  }

  /** Moves the partition's cached keys to storage, freeing memory. */
  private async spill(p: PartitionState<V>) {
    await this.flush(p);
    if (!p.storage) {
      p.storage = this.storageFactory(this.table!, p.range.partition);
      await p.storage.open();
      await p.storage.clear();
    }
    const puts: [string, Uint8Array][] = [];
    for (const [key, entry] of p.cache)
      puts.push([key, encodeSpilledEntry(entry, this.fold.table)]);
    await p.storage.write({ puts });
    this.cachedKeys -= p.cache.size;
    p.cache.clear();
  }

  private async countKeys(): Promise<number> {
    let keys = 0;
    for (const p of this.partitions.values()) {
      for (const entry of p.cache.values()) if (entry.value !== undefined) keys += 1;
      if (!p.storage) continue;
      for await (const [key, bytes] of p.storage.iterate()) {
        if (p.cache.has(key)) continue;
        if (decodeSpilledEntry(bytes, key, this.fold.table, this.group).value !== undefined) {
          keys += 1;
        }
      }
    }
    return keys;
  }
}

/** A log record as the event log's `decode` and `eventMeta` see it: headers decoded on use. */
class KeyedRecord implements EventRecord {
  constructor(
    private readonly record: LogRecord,
    readonly key: string,
  ) {}
  get topic() {
    return this.record.topic;
  }
  get partition() {
    return this.record.partition;
  }
  get offset() {
    return this.record.offset;
  }
  get timestamp() {
    return this.record.timestamp;
  }
  get headers() {
    return this.record.headers;
  }
}
