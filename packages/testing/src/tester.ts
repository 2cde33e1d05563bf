import { setTimeout as delay } from "node:timers/promises";
import type { Codec } from "@toka/codec";
import {
  Emitter,
  type EmitterOptions,
  type GroupGraph,
  ID_HEADER,
  Processor,
  type ProcessorOptions,
  silentLogger,
  type TableValue,
  TokaError,
  TokaErrorCode,
  tableTopic,
} from "@toka/processor";
import { defaultPartition, type KafkaClient } from "@toka/processor/kafka";
import { DeliveryLoop } from "./delivery-loop.js";
import { type AppendRecord, InMemoryBroker, tpKey } from "./in-memory-broker.js";
import { inMemoryClient } from "./in-memory-client.js";
import { OutputQueue } from "./output-queue.js";
import { TestClock } from "./test-clock.js";
import { type TesterMessage, type TesterPosition, toTesterMessage } from "./tester-message.js";

/** Options of a {@link Tester}. Every one is optional. */
export interface TesterOptions {
  /** Partitions of topics created implicitly (by a produce). Default 1. */
  readonly defaultPartitions?: number;
  /**
   * Create a missing topic on the first produce to it, as a broker with
   * `auto.create.topics.enable`. Default `true`. (A processor still refuses to start
   * while its inputs or outputs are missing, as against a real broker.)
   */
  readonly autoCreateTopics?: boolean;
  /** How long one batch may take in a consumer before it counts as hanging. Default 5000 ms. */
  readonly deliveryTimeoutMs?: number;
  /**
   * How long `idle()` waits for work that is not a delivery (a processor still starting
   * or recovering, a partition handed back), and `close()` for each component. Default 5000 ms.
   */
  readonly idleTimeoutMs?: number;
  /** Most records per delivered batch. Default 500. */
  readonly maxBatchRecords?: number;
  /** Most deliveries in one `idle()`, a guard against callbacks that feed each other forever. Default 100 000. */
  readonly maxDeliveries?: number;
  /** Start of the tester's clock, ms since the epoch. Default 2025-01-01T00:00:00Z. */
  readonly startTime?: number;
}

/** Named defaults of {@link TesterOptions}. */
export const TESTER_DEFAULTS = {
  defaultPartitions: 1,
  autoCreateTopics: true,
  deliveryTimeoutMs: 5000,
  idleTimeoutMs: 5000,
  maxBatchRecords: 500,
  maxDeliveries: 100_000,
} as const;

/** Lifecycle states of a {@link Tester}. */
export const TesterStatus = { Open: "open", Closing: "closing", Closed: "closed" } as const;
export type TesterStatus = (typeof TesterStatus)[keyof typeof TesterStatus];

/** Something the tester closes when it closes (a processor, a view, an emitter). */
export interface TesterCloseable {
  close(): Promise<void>;
}

/**
 * Something the tester can start and wait for: a `Processor`, a `View`, or anything with
 * the same lifecycle. While its `status` is `starting`, `recovering` or `closing`, the
 * tester is not idle.
 */
export interface TesterComponent extends TesterCloseable {
  start(): Promise<void>;
  readonly status?: string;
  waitFor?(status: "running", options?: { timeoutMs?: number }): Promise<void>;
}

/** Options of {@link Tester.emit}, beyond the codec. */
export interface TesterEmitOptions {
  /** Extra headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The message ID (`toka-id`). Default: `tester-<n>`, unique within the tester and the
   * same in every run. `null` sends no ID (the processor then uses `<topic>/<partition>/<offset>`).
   */
  readonly id?: string | null;
  /** Default: the key's partition under Kafka's default partitioner. */
  readonly partition?: number;
  /** Default: the tester's clock. */
  readonly timestamp?: number;
}

/** One message of {@link Tester.emitMany}. */
export interface TesterInput<T> extends TesterEmitOptions {
  /** Text is written as UTF-8; bytes as they are (e.g. a key that is not valid UTF-8). */
  readonly key: string | Uint8Array | null;
  readonly value: T | null;
}

/** Options of {@link Tester.messages}. */
export interface TesterReadOptions {
  /**
   * `committed` (default) shows what a read-committed consumer sees; `uncommitted` also
   * shows records of aborted transactions.
   */
  readonly isolation?: "committed" | "uncommitted";
}

/** Options of {@link Tester.startProcessor}: a processor's options without the connection. */
export type TesterProcessorOptions = Omit<ProcessorOptions, "client" | "brokers">;

// ignoreBOM: a leading U+FEFF is part of a key, as it is to the processor.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

const BUSY_STATUSES: ReadonlySet<string> = new Set(["starting", "recovering", "closing"]);

/**
 * An in-memory Kafka for unit tests of real toka processors, views and emitters: give
 * them `tester.client` (or use {@link Tester.startProcessor}), emit input messages, and
 * `await tester.idle()` (or the `emit` itself) until every consumer processed everything
 * it can and all async work settled, then read tables and outputs.
 *
 * The tester delivers batches itself, one at a time in a fixed order, so the same inputs
 * give the same results in the same order in every run, with no timers or sleeps in the
 * test. Keys land on the partitions Kafka's default partitioner picks. Consumer groups,
 * co-partitioned assignment, pause/resume/seek, commits, transactions (aborted records
 * are invisible to read-committed consumers) and the clock of record timestamps are
 * modelled; a callback that throws or hangs fails `idle()` with an error naming the
 * group, topic, partition, offset and key instead of deadlocking the test.
 *
 * @example
 * const tester = new Tester();
 * tester.createTopic("deposits");
 * await tester.startProcessor(bank);
 * await tester.emit("deposits", "alice", { amount: 5 }, { codec: jsonCodec(Deposit) });
 * expect(await tester.tableValue(bank, "alice")).toEqual({ total: 5 });
 * await tester.close();
 */
export class Tester implements AsyncDisposable {
  /** The client boundary to give a `Processor`, `View` or `Emitter` as `client`. */
  readonly client: KafkaClient;
  /** The clock of record timestamps; see {@link Tester.advanceTime}. */
  readonly clock: TestClock;
  private readonly broker: InMemoryBroker;
  private readonly loop: DeliveryLoop;
  private readonly components: TesterCloseable[] = [];
  private readonly settings: Required<Omit<TesterOptions, "startTime">>;
  private currentStatus: TesterStatus = TesterStatus.Open;
  private closing: Promise<void> | undefined;
  private ids = 0;
  private startTimeouts = 0;

  /** @throws TokaError `TOKA_INVALID_CONFIG` naming an option that is not a positive integer. */
  constructor(options: TesterOptions = {}) {
    this.settings = {
      defaultPartitions: positive(options, "defaultPartitions"),
      autoCreateTopics: options.autoCreateTopics ?? TESTER_DEFAULTS.autoCreateTopics,
      deliveryTimeoutMs: positive(options, "deliveryTimeoutMs"),
      idleTimeoutMs: positive(options, "idleTimeoutMs"),
      maxBatchRecords: positive(options, "maxBatchRecords"),
      maxDeliveries: positive(options, "maxDeliveries"),
    };
    this.clock = new TestClock(options.startTime);
    this.broker = new InMemoryBroker({ clock: this.clock, ...this.settings });
    this.loop = new DeliveryLoop(this.broker, this.settings);
    this.broker.onChange = () => this.loop.kick();
    this.client = inMemoryClient(this.broker);
  }

  /** `open` until `close()` is called. */
  get status(): TesterStatus {
    return this.currentStatus;
  }

  // Topics ------------------------------------------------------------------------------

  /**
   * Creates a topic (idempotent for the same partition count) and returns its name.
   * @throws TokaError `TOKA_INVALID_CONFIG` when it exists with another partition count,
   * or `partitions` is not a whole number >= 1.
   */
  createTopic(
    name: string,
    partitions = 1,
    options: {
      compacted?: boolean;
      /**
       * Topic configs by their Kafka names. `max.message.bytes` (default 1048588, Kafka's)
       * is enforced: a larger record fails its produce.
       */
      config?: Readonly<Record<string, string>>;
    } = {},
  ): string {
    this.assertOpen("createTopic");
    const existing = this.broker.topics.get(name);
    if (existing && existing.partitions.length !== partitions) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `the topic exists with ${existing.partitions.length} partition(s), not ${partitions}`,
        { topic: name },
      );
    }
    this.broker.createTopic(name, partitions, options.compacted ?? false, options.config);
    return name;
  }

  /** The partition count of a topic, or `undefined` when it does not exist. */
  partitionCount(topic: string): number | undefined {
    return this.broker.topics.get(topic)?.partitions.length;
  }

  /**
   * The partition `key` lands on in `topic` (Kafka's default murmur2 partitioner, as in
   * production).
   * @throws TokaError `TOKA_TOPIC_MISSING` when the topic does not exist.
   */
  partitionOf(topic: string, key: string): number {
    return defaultPartition(key, this.broker.topic(topic).partitions.length);
  }

  // Components --------------------------------------------------------------------------

  /**
   * Closes `component` when the tester closes (in reverse order of registration).
   * @returns the component.
   */
  register<C extends TesterCloseable>(component: C): C {
    this.assertOpen("register");
    this.components.push(component);
    return component;
  }

  /**
   * Registers and starts a processor or view (anything with `start`/`close`), and resolves
   * once it is running and the tester is idle (its table recovered).
   * @throws what `start()` throws, its failure, or TokaError `TOKA_TIMEOUT` when it does
   * not get going within `idleTimeoutMs`, or its `start()` still has not resolved
   * `idleTimeoutMs` after the tester became idle.
   */
  async start<C extends TesterComponent>(component: C): Promise<C> {
    this.register(component);
    // Drive deliveries while start() runs: a view's start() resolves only once recovered.
    const started = component.start();
    const idling = this.idle();
    // Whichever fails first is reported; the other one's failure must not go unhandled.
    started.catch(() => {});
    idling.catch(() => {});
    await Promise.race([started, idling]);
    await idling;
    // Idle: nothing left to deliver, so a start() still pending now waits for nothing.
    await this.bounded(started, () => {
      this.startTimeouts += 1;
      return new TokaError(
        TokaErrorCode.Timeout,
        `start() of ${describe(component)} did not resolve within ${this.settings.idleTimeoutMs} ms although the tester is idle: it waits for something that never comes`,
        { group: groupOf(component) },
      );
    });
    await this.idle();
    await component.waitFor?.("running", { timeoutMs: this.settings.idleTimeoutMs });
    return component;
  }

  /** `promise`, or `timeout()` thrown when it takes longer than `idleTimeoutMs`. */
  private async bounded<T>(promise: Promise<T>, timeout: () => Error): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeout()), this.settings.idleTimeoutMs);
    });
    try {
      return await Promise.race([promise, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Creates a `Processor` of `graph` on this tester (silent logger unless `options` has
   * one; memory storage by default), starts it and waits until it runs.
   * @throws what `Processor`'s constructor and `start()` throw.
   */
  startProcessor<G extends GroupGraph>(
    graph: G,
    options: TesterProcessorOptions = {},
  ): Promise<Processor<G>> {
    return this.start(
      new Processor(graph, {
        logger: silentLogger,
        clock: this.clock,
        ...options,
        client: this.client,
      }),
    );
  }

  /**
   * A real `Emitter` on this tester, closed with it. Its emits resolve once appended;
   * follow them with `await tester.idle()`. Its IDs are random UUIDs: use
   * {@link Tester.emit} where IDs must be the same in every run.
   */
  emitter<T>(
    topic: string,
    codec: Codec<T>,
    options: Omit<EmitterOptions<T>, "client" | "brokers" | "topic" | "codec"> = {},
  ): Emitter<T> {
    return this.register(
      new Emitter({ logger: silentLogger, ...options, topic, codec, client: this.client }),
    );
  }

  // Input -------------------------------------------------------------------------------

  /**
   * Appends one message to `topic` and waits until the tester is idle.
   * @returns where it landed.
   * @throws CodecError when the value does not encode; what {@link Tester.idle} throws.
   */
  emit(
    topic: string,
    key: string | Uint8Array | null,
    value: Uint8Array | null,
    options?: TesterEmitOptions,
  ): Promise<TesterPosition>;
  emit<T>(
    topic: string,
    key: string | Uint8Array | null,
    value: T | null,
    options: TesterEmitOptions & { readonly codec: Codec<T> },
  ): Promise<TesterPosition>;
  async emit<T>(
    topic: string,
    key: string | Uint8Array | null,
    value: T | null,
    options: TesterEmitOptions & { readonly codec?: Codec<T> } = {},
  ): Promise<TesterPosition> {
    const [position] = this.append(topic, [{ ...options, key, value }], options.codec);
    await this.idle();
    return position!;
  }

  /**
   * Appends messages to `topic` in one produce request (so they arrive in batches, as a
   * burst does), then waits until the tester is idle.
   * @returns where each landed, in order.
   * @throws CodecError when a value does not encode (nothing is appended then); what
   * {@link Tester.idle} throws.
   */
  emitMany(
    topic: string,
    messages: Iterable<TesterInput<Uint8Array>>,
    options?: { readonly codec?: undefined },
  ): Promise<TesterPosition[]>;
  emitMany<T>(
    topic: string,
    messages: Iterable<TesterInput<T>>,
    options: { readonly codec: Codec<T> },
  ): Promise<TesterPosition[]>;
  async emitMany<T>(
    topic: string,
    messages: Iterable<TesterInput<T>>,
    options: { readonly codec?: Codec<T> | undefined } = {},
  ): Promise<TesterPosition[]> {
    const positions = this.append(topic, messages, options.codec);
    await this.idle();
    return positions;
  }

  /**
   * Appends messages without waiting: for a test that wants to look at a state in
   * between (the tester still delivers them in the background; `idle()` waits for that).
   * @throws CodecError when a value does not encode (nothing is appended then).
   */
  append<T>(topic: string, messages: Iterable<TesterInput<T>>, codec?: Codec<T>): TesterPosition[] {
    this.assertOpen("append");
    const records: AppendRecord[] = [];
    for (const m of messages) {
      let value: Uint8Array | null = null;
      if (m.value !== null) {
        if (codec) value = codec.encode(m.value);
        else if (m.value instanceof Uint8Array) value = m.value;
        else
          throw new TokaError(
            TokaErrorCode.InvalidConfig,
            "a value that is not bytes needs a codec: pass { codec } to emit",
            { topic },
          );
      }
      const id = m.id === undefined ? `tester-${++this.ids}` : m.id;
      records.push({
        topic,
        partition: m.partition,
        key: m.key,
        value,
        headers: { ...m.headers, ...(id === null ? {} : { [ID_HEADER]: id }) },
        timestamp: m.timestamp,
      });
    }
    return this.broker.append(records, "plain").positions;
  }

  /**
   * Makes the next produce request to `topic` (any topic without it) fail with `error`
   * (default: a retriable `TOKA_KAFKA_FAILED`). A transaction is aborted: its records stay
   * in the log, invisible to read-committed consumers. A plain produce writes nothing,
   * or with `partial` (and a `topic`) everything except the records to `topic`: a
   * produce to several partitions is not atomic in Kafka, so a crash can leave an emit
   * written and the table update not.
   */
  failNextProduce(options: { topic?: string; error?: Error; partial?: boolean } = {}): void {
    this.broker.failNextProduce({
      topic: options.topic,
      partial: options.partial ?? false,
      error:
        options.error ??
        new TokaError(TokaErrorCode.KafkaFailed, "produce failed (injected by the tester)", {
          topic: options.topic,
          retriable: true,
        }),
    });
  }

  /**
   * Makes the next offset commit of `group` (of any group without it) fail with `error`
   * (default: a retriable `TOKA_KAFKA_FAILED`), as when the group coordinator moves.
   */
  failNextCommit(options: { group?: string; error?: Error } = {}): void {
    this.broker.failNextCommit({
      group: options.group,
      error:
        options.error ??
        new TokaError(TokaErrorCode.KafkaFailed, "offset commit failed (injected by the tester)", {
          group: options.group,
          retriable: true,
        }),
    });
  }

  /**
   * Makes `group` (every group without it) rebalance with the members it has, as when a
   * broker dies or an instance's session lapses: a batch being handled hears it from its
   * heartbeat and is handed back unwritten, and the members rejoin (each keeps its
   * partitions). Callable from a callback, to rebalance in the middle of a batch.
   */
  rebalance(group?: string): void {
    this.assertOpen("rebalance");
    this.broker.requestRebalance(group);
  }

  /**
   * Moves the clock forward: the timestamps of records appended from now on (e.g. past an
   * exactly-once dedup window), and the wall clock of the processors started with
   * {@link Tester.startProcessor}, whose wall-clock timers then due fire (follow with
   * `await tester.idle()`).
   */
  advanceTime(ms: number): void {
    this.clock.advance(ms);
  }

  // Quiescence --------------------------------------------------------------------------

  /**
   * Resolves when every consumer processed everything it can, every registered
   * processor and view is running (not starting or recovering), and all async work
   * settled.
   * @throws the error of a consumer that crashed since the last call (e.g. a processor
   * with error policy `fail` and a failing callback); TokaError `TOKA_TIMEOUT` naming the
   * group, topic, partition, offset and key of a batch whose handling outlived
   * `deliveryTimeoutMs` (a hanging callback), or naming what kept the tester from idling
   * within `idleTimeoutMs`; `TOKA_INVALID_STATE` after `close()`.
   */
  async idle(): Promise<void> {
    this.assertOpen("idle");
    this.loop.resetDeliveryCount();
    let waitingSince: number | undefined;
    let backoff = 1;
    for (;;) {
      this.loop.kick();
      await this.loop.drained();
      this.throwReported();
      const before = this.broker.changes;
      await this.loop.settle();
      if (this.broker.changes !== before) continue;
      const busy = this.busyReason();
      if (!busy) return;
      waitingSince ??= Date.now();
      if (Date.now() - waitingSince >= this.settings.idleTimeoutMs) {
        throw new TokaError(
          TokaErrorCode.Timeout,
          `the tester did not become idle within ${this.settings.idleTimeoutMs} ms: ${busy}`,
        );
      }
      // Something works outside the tester's deliveries (e.g. storage I/O): give it time.
      await delay(backoff);
      backoff = Math.min(backoff * 2, 25);
    }
  }

  // Output ------------------------------------------------------------------------------

  /**
   * Every message on `topic` so far, in the order they were written (across partitions).
   * @throws CodecError when a value does not decode with `codec`.
   */
  messages(
    topic: string,
    codec?: undefined,
    options?: TesterReadOptions,
  ): TesterMessage<Uint8Array>[];
  messages<T>(topic: string, codec: Codec<T>, options?: TesterReadOptions): TesterMessage<T>[];
  messages<T>(
    topic: string,
    codec?: Codec<T>,
    options: TesterReadOptions = {},
  ): TesterMessage<T>[] {
    const committed = (options.isolation ?? "committed") === "committed";
    return this.broker
      .read(topic, committed)
      .map(({ partition, record }) => toTesterMessage(topic, partition, record, codec));
  }

  /**
   * The messages of `topic` as a queue the test consumes (from the beginning of the
   * topic); see {@link OutputQueue}.
   */
  output(topic: string): OutputQueue<Uint8Array>;
  output<T>(topic: string, codec: Codec<T>): OutputQueue<T>;
  output<T>(topic: string, codec?: Codec<T>): OutputQueue<T> {
    return new OutputQueue(topic, () =>
      codec ? this.messages(topic, codec) : (this.messages(topic) as TesterMessage<T>[]),
    );
  }

  /** The committed offset of `group` for a topic partition (the next offset it reads). */
  committedOffset(group: string, topic: string, partition: number): string | undefined {
    const offset = this.broker.groups.get(group)?.committed.get(tpKey(topic, partition));
    return offset === undefined ? undefined : String(offset);
  }

  /**
   * Sets the committed offset of `group` for a topic partition, as an offset reset of
   * `kafka-consumer-groups` does: e.g. rewind it to make the next processor of the group
   * read inputs again (redelivery).
   * @throws TokaError `TOKA_INVALID_STATE` while a consumer of the group runs (Kafka
   * resets only the offsets of an empty group), `TOKA_TOPIC_MISSING` for a missing topic,
   * `TOKA_INVALID_CONFIG` for a partition the topic does not have or a negative offset.
   */
  setCommittedOffset(
    group: string,
    topic: string,
    partition: number,
    offset: string | number,
  ): void {
    this.assertOpen("setCommittedOffset");
    if (this.broker.groups.get(group)?.members.some((m) => m.state === "running")) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "setCommittedOffset while a consumer of the group runs; close the group's processors first",
        { group, topic, partition },
      );
    }
    const count = this.broker.topic(topic).partitions.length;
    const next = Number(offset);
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `partition ${partition} does not exist; the topic has partitions 0..${count - 1}`,
        { group, topic, partition },
      );
    }
    if (!Number.isInteger(next) || next < 0) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        `an offset is a whole number >= 0, got ${String(offset)}`,
        { group, topic, partition },
      );
    }
    this.broker.commit(group, [{ topic, partition, offset: String(next) }]);
  }

  // Tables ------------------------------------------------------------------------------

  /**
   * The value of `key` in a group's table, read from the `<group>-table` topic (the last
   * committed record of the key; `undefined` when absent or deleted).
   * @throws TokaError `TOKA_INVALID_CONFIG` for a graph without a table; CodecError when
   * the value does not decode.
   */
  tableValue<G extends GroupGraph>(graph: G, key: string): Promise<TableValue<G> | undefined>;
  tableValue<T>(group: string, key: string, codec: Codec<T>): Promise<T | undefined>;
  async tableValue<T>(
    groupOrGraph: string | GroupGraph,
    key: string,
    codec?: Codec<T>,
  ): Promise<T | undefined> {
    const { topic, codec: tableCodec } = this.tableOf<T>(groupOrGraph, codec);
    let latest: Uint8Array | null | undefined;
    for (const { record } of this.broker.read(topic, true)) {
      if (record.key !== null && utf8.decode(record.key) === key) latest = record.value;
    }
    return latest === undefined || latest === null ? undefined : tableCodec.decode(latest);
  }

  /**
   * Every key and value of a group's table (see {@link Tester.tableValue}), keys sorted.
   * @throws as {@link Tester.tableValue}.
   */
  table<G extends GroupGraph>(graph: G): Promise<Map<string, TableValue<G>>>;
  table<T>(group: string, codec: Codec<T>): Promise<Map<string, T>>;
  async table<T>(groupOrGraph: string | GroupGraph, codec?: Codec<T>): Promise<Map<string, T>> {
    const { topic, codec: tableCodec } = this.tableOf<T>(groupOrGraph, codec);
    const latest = new Map<string, Uint8Array | null>();
    for (const { record } of this.broker.read(topic, true)) {
      latest.set(record.key === null ? "" : utf8.decode(record.key), record.value);
    }
    const out = new Map<string, T>();
    for (const key of [...latest.keys()].sort()) {
      const value = latest.get(key);
      if (value) out.set(key, tableCodec.decode(value));
    }
    return out;
  }

  /**
   * Writes a value into a group's table topic before its processor starts, so the
   * processor recovers it as it would recover an existing table. Creates the table topic
   * when missing: with the partition count of the graph's first input (create the inputs
   * first), or for a group name, `options.partitions` (default `defaultPartitions`).
   * @throws TokaError `TOKA_INVALID_STATE` while a consumer of the group runs (it would
   * never read the value), `TOKA_TOPIC_MISSING` when a graph's first input does not exist,
   * `TOKA_INVALID_CONFIG` for a graph without a table; CodecError when the value does
   * not encode.
   */
  setTableValue<G extends GroupGraph>(graph: G, key: string, value: TableValue<G>): Promise<void>;
  setTableValue<T>(
    group: string,
    key: string,
    value: T,
    codec: Codec<T>,
    options?: { partitions?: number },
  ): Promise<void>;
  async setTableValue<T>(
    groupOrGraph: string | GroupGraph,
    key: string,
    value: T,
    codec?: Codec<T>,
    options: { partitions?: number } = {},
  ): Promise<void> {
    this.assertOpen("setTableValue");
    const { group, topic, codec: tableCodec } = this.tableOf<T>(groupOrGraph, codec);
    if (this.broker.groups.get(group)?.members.some((m) => m.state === "running")) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        "setTableValue while the group's processor runs: it would never read the value; set table values before starting the processor",
        { group, topic, key },
      );
    }
    if (!this.broker.topics.has(topic)) {
      let partitions = options.partitions ?? this.settings.defaultPartitions;
      if (typeof groupOrGraph !== "string") {
        const input = groupOrGraph.inputs[0]!.topic;
        partitions = this.broker.topic(input).partitions.length;
      }
      this.broker.createTopic(topic, partitions, true);
    }
    this.broker.append([{ topic, key, value: tableCodec.encode(value), headers: {} }], "plain");
    await this.idle();
  }

  // Lifecycle ---------------------------------------------------------------------------

  /**
   * Closes every registered processor, view and emitter (last registered first), then
   * stops delivering. Idempotent.
   * @throws TokaError `TOKA_TIMEOUT` naming the components that did not close within
   * `idleTimeoutMs` (not when a hanging callback or start was already reported: those
   * cannot close).
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async doClose() {
    this.currentStatus = TesterStatus.Closing;
    const stuck: string[] = [];
    for (const component of [...this.components].reverse()) {
      await this.bounded(
        component.close().catch(() => {}),
        () => new Error("close timed out"),
      ).catch(() => stuck.push(describe(component)));
    }
    this.components.length = 0;
    this.loop.stop();
    await this.loop.drained();
    this.currentStatus = TesterStatus.Closed;
    // Components that hung before (a callback, a start) cannot close: already reported.
    if (stuck.length > 0 && this.loop.abandoned === 0 && this.startTimeouts === 0) {
      throw new TokaError(
        TokaErrorCode.Timeout,
        `closing ${stuck.join(", ")} did not finish within ${this.settings.idleTimeoutMs} ms`,
      );
    }
  }

  // Internals ---------------------------------------------------------------------------

  private tableOf<T>(
    groupOrGraph: string | GroupGraph,
    codec: Codec<T> | undefined,
  ): { group: string; topic: string; codec: Codec<T> } {
    if (typeof groupOrGraph === "string") {
      if (!codec) {
        throw new TokaError(
          TokaErrorCode.InvalidConfig,
          "reading or writing a table by group name needs its codec",
          { group: groupOrGraph },
        );
      }
      return { group: groupOrGraph, topic: tableTopic(groupOrGraph), codec };
    }
    const tableCodec = (codec ?? groupOrGraph.persist) as Codec<T> | undefined;
    if (!tableCodec) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        "the group has no table (no persist(codec) in its definition)",
        { group: groupOrGraph.name },
      );
    }
    return { group: groupOrGraph.name, topic: groupOrGraph.tableTopic, codec: tableCodec };
  }

  private throwReported() {
    const reported = this.loop.takeError();
    if (reported) throw reported.error;
  }

  /** Why the tester is not idle although nothing can be delivered, or `undefined`. */
  private busyReason(): string | undefined {
    if (this.broker.hasPendingRebalance()) return "a consumer-group rebalance is pending";
    const refused = this.broker.refusedPartitions()[0];
    if (refused) {
      return `group "${refused.member.groupId}" handed back a batch of ${refused.tp.topic}/${refused.tp.partition} (onBatch resolved false) and nothing changed since that would let it take the batch`;
    }
    for (const component of this.components) {
      const status = (component as { status?: unknown }).status;
      if (typeof status === "string" && BUSY_STATUSES.has(status)) {
        return `${describe(component)} is still ${status}`;
      }
      const partitions = statsPartitions(component);
      const recovering = partitions.filter((p) => p.state === "recovering");
      if (recovering.length > 0) {
        return `${describe(component)} is still recovering partition(s) ${recovering.map((p) => p.partition).join(", ")}`;
      }
    }
    return undefined;
  }

  private assertOpen(operation: string) {
    if (this.currentStatus !== TesterStatus.Open) {
      throw new TokaError(
        TokaErrorCode.InvalidState,
        `${operation} after the tester was closed; create a new Tester per test`,
      );
    }
  }
}

function positive(
  options: TesterOptions,
  name: keyof typeof TESTER_DEFAULTS & keyof TesterOptions,
): number {
  const value = options[name] ?? TESTER_DEFAULTS[name];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `invalid tester option "${name}": expected a whole number >= 1, got ${String(value)}`,
    );
  }
  return value;
}

function describe(component: object): string {
  const named = component as { group?: unknown; table?: unknown; topic?: unknown };
  const kind = component.constructor?.name ?? "component";
  if (typeof named.group === "string") return `${kind} of group "${named.group}"`;
  if (typeof named.table === "string") return `${kind} of table "${named.table}"`;
  if (typeof named.topic === "string") return `${kind} of topic "${named.topic}"`;
  return kind;
}

function groupOf(component: object): string | undefined {
  const group = (component as { group?: unknown }).group;
  return typeof group === "string" ? group : undefined;
}

function statsPartitions(component: object): { partition: unknown; state: unknown }[] {
  const stats = (component as { stats?: unknown }).stats;
  if (typeof stats !== "function") return [];
  const partitions = (stats.call(component) as { partitions?: unknown }).partitions;
  return Array.isArray(partitions) ? partitions : [];
}
