import type {
  ClientAdmin,
  ClientConsumer,
  ClientProducer,
  ConsumerHandlers,
  ConsumerOptions,
  IncomingRecord,
  KafkaClient,
  LogBatch,
  LogReadRequest,
  TopicPartitionOffset,
} from "../src/client/index.js";
import { defaultPartition, readLogWithConsumer } from "../src/client/index.js";

interface LogEntry {
  readonly key: string | null;
  readonly value: Uint8Array | null;
  /** A transaction marker: takes an offset, never reaches `onBatch`. */
  readonly control: boolean;
}

const utf8 = new TextEncoder();

/**
 * A small in-process Kafka for one table topic: an append-only log per partition, an
 * admin that reports watermarks, and consumers that deliver batches from their position
 * through the client boundary's handlers. Tests drive reconnects and crashes by hand.
 */
export class FakeKafka implements KafkaClient {
  readonly logs: LogEntry[][];
  readonly consumers: FakeConsumer[] = [];
  /** Records per delivered batch. */
  batchSize = 50;
  /** New consumers deliver nothing until `rejoin()`. */
  startDown = false;

  constructor(
    readonly table: string,
    readonly partitions: number,
  ) {
    this.logs = Array.from({ length: partitions }, () => []);
  }

  /** Appends a record to the key's partition (murmur2); returns its partition and offset. */
  append(key: string, value: string | Uint8Array | null): { partition: number; offset: number } {
    const partition = defaultPartition(key, this.partitions);
    const log = this.logs[partition]!;
    log.push({
      key,
      value: typeof value === "string" ? utf8.encode(value) : value,
      control: false,
    });
    this.wake();
    return { partition, offset: log.length - 1 };
  }

  /** Appends a transaction marker to a partition. */
  appendMarker(partition: number): number {
    const log = this.logs[partition]!;
    log.push({ key: null, value: null, control: true });
    this.wake();
    return log.length - 1;
  }

  admin(): ClientAdmin {
    return {
      connect: async () => {},
      disconnect: async () => {},
      partitionCounts: async (topics) =>
        new Map(topics.filter((t) => t === this.table).map((t) => [t, this.partitions])),
      createTopics: async () => {},
      topicConfigs: async () => new Map(),
      watermarks: async () =>
        this.logs.map((log, partition) => ({ partition, low: "0", high: String(log.length) })),
      committedOffsets: async () => new Map(),
      committedMetadata: async () => new Map(),
      offsetsForTime: async () => new Map(),
      commitOffsets: async () => {},
      listTopics: async () => [this.table],
      listGroups: async () => [],
      describeGroup: async (group) => ({ group, state: "Dead", members: [] }),
      groupOffsets: async () => new Map(),
    };
  }

  readLog(request: LogReadRequest, onBatch: (batch: LogBatch) => Promise<void>): Promise<void> {
    return readLogWithConsumer((options) => this.consumer(options), request, onBatch);
  }

  producer(): ClientProducer {
    throw new Error("the fake has no producer");
  }

  consumer(options: ConsumerOptions): ClientConsumer {
    const consumer = new FakeConsumer(this, options);
    consumer.down = this.startDown;
    this.consumers.push(consumer);
    return consumer;
  }

  /** The only consumer created so far. */
  get consumerOf(): FakeConsumer {
    const consumer = this.consumers.at(-1);
    if (!consumer) throw new Error("no consumer yet");
    return consumer;
  }

  private wake() {
    for (const c of this.consumers) c.schedule();
  }
}

/** A consumer of the fake, assigned every partition of the table. */
export class FakeConsumer implements ClientConsumer {
  readonly positions = new Map<number, number>();
  readonly seeks: TopicPartitionOffset[] = [];
  handlers: ConsumerHandlers | undefined;
  /** While true, nothing is delivered (a lost connection). */
  down = false;
  /** Deliver the next batch of every partition from offset 0, as if a seek came too late. */
  ignoreNextSeek = false;
  private stopped = false;
  private pumping: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly kafka: FakeKafka,
    readonly options: ConsumerOptions,
  ) {}

  async connect() {}
  async disconnect() {
    this.stopped = true;
    await this.pumping;
  }
  async subscribe() {}

  async run(handlers: ConsumerHandlers) {
    this.handlers = handlers;
    this.assign();
    this.schedule();
  }

  pause() {}
  resume() {}

  seek(position: TopicPartitionOffset) {
    this.seeks.push(position);
    if (this.ignoreNextSeek) return;
    this.positions.set(position.partition, Number(position.offset));
  }

  async commit() {
    throw new Error("a view must never commit offsets");
  }

  /** kafkajs's restartable crash: reconnecting until {@link rejoin}. */
  crashAndRestart(error = new Error("connection lost")) {
    this.down = true;
    this.handlers?.onReconnecting?.(error);
  }

  /** The restarted consumer joined again: a new assignment, then `onReconnected`. */
  rejoin() {
    this.down = false;
    this.assign();
    this.handlers?.onReconnected?.();
    this.schedule();
  }

  /** A crash kafkajs does not restart from. */
  crash(error: unknown) {
    this.stopped = true;
    this.handlers?.onCrash(error);
  }

  schedule() {
    if (!this.handlers || this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.pump())
      .catch(() => {})
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  private assign() {
    const { table, partitions } = this.kafka;
    // No committed offsets: every partition starts at the beginning until a seek.
    for (let p = 0; p < partitions; p++) this.positions.set(p, 0);
    this.handlers!.onAssignment(
      Array.from({ length: partitions }, (_, partition) => ({ topic: table, partition })),
    );
  }

  private async pump() {
    let delivered = true;
    while (delivered && !this.stopped && !this.down) {
      delivered = false;
      for (let partition = 0; partition < this.kafka.partitions; partition++) {
        if (this.stopped || this.down) return;
        const log = this.kafka.logs[partition]!;
        let from = this.positions.get(partition) ?? 0;
        if (this.ignoreNextSeek) from = 0;
        if (from >= log.length) continue;
        const to = Math.min(log.length, from + this.kafka.batchSize);
        const records: IncomingRecord[] = [];
        for (let offset = from; offset < to; offset++) {
          const entry = log[offset]!;
          if (entry.control) continue;
          records.push({
            topic: this.kafka.table,
            partition,
            offset: String(offset),
            key: entry.key === null ? null : utf8.encode(entry.key),
            value: entry.value,
            headers: { "toka-dedup": '{"applied":{},"ids":[],"duplicates":0}' },
            timestamp: Date.now(),
          });
        }
        const tp = { topic: this.kafka.table, partition };
        const highWatermark = String(log.length);
        if (records.length > 0) {
          const handled = await this.handlers!.onBatch({ ...tp, records, highWatermark });
          if (!handled) continue;
        }
        this.handlers!.onBatchDone?.(tp, String(to - 1), highWatermark);
        this.positions.set(partition, to);
        delivered = true;
      }
      this.ignoreNextSeek = false;
    }
  }
}
