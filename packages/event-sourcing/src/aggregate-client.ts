import { randomUUID } from "node:crypto";
import { Emitter, isTokaError, TokaError, TokaErrorCode } from "@toka/processor";
import type { ClientConsumer, IncomingRecord } from "@toka/processor/kafka";
import type { Aggregate } from "./aggregate.js";
import { type Connection, type ConnectionOptions, resolveConnection } from "./connection.js";
import { eventMeta } from "./event-log.js";
import { EventHeader } from "./headers.js";
import type { HistoryEntry } from "./key-history.js";
import { type RejectionRecord, rejectionCodec } from "./rejection.js";

/** Options of {@link AggregateClient}. */
export interface AggregateClientOptions extends ConnectionOptions {
  /** How long {@link AggregateClient.execute} waits for the outcome, in ms. Default 30 000. */
  readonly timeoutMs?: number;
}

/** Options of one command. */
export interface SendOptions {
  /** The command's ID (`toka-id`), an idempotency key. Default: a random UUID. */
  readonly id?: string;
  /** The aggregate version the command expects; a different one rejects it. */
  readonly expectedVersion?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What became of a command. */
export type CommandOutcome<E> =
  | {
      readonly status: "accepted";
      readonly commandId: string;
      /** The events it appended, in order. */
      readonly events: readonly HistoryEntry<E>[];
      /** The aggregate's version after them. */
      readonly version: number;
    }
  | {
      readonly status: "rejected";
      readonly commandId: string;
      readonly rejection: RejectionRecord;
    };

/** The parts of an aggregate a client needs (any state type). */
export type AggregateTopics<C, E> = Pick<
  Aggregate<C, E, unknown>,
  "name" | "commandsTopic" | "eventsTopic" | "rejectionsTopic" | "commands" | "log"
>;

interface Waiter<E> {
  readonly events: HistoryEntry<E>[];
  resolve(outcome: CommandOutcome<E>): void;
}

const utf8 = new TextDecoder();

/**
 * Sends commands to an aggregate and reads what became of them: `send` only sends;
 * `execute` sends and waits for the command's events (accepted) or its rejection
 * record (rejected, with the reason). A command that decides no events has no outcome
 * to wait for: `send` it.
 *
 * Lifecycle: `execute` starts following the events and rejections topics (from their
 * ends) on first use; `close()` stops.
 */
export class AggregateClient<C, E> {
  private readonly connection: Connection;
  private readonly emitter: Emitter<C>;
  private readonly timeoutMs: number;
  private readonly waiters = new Map<string, Waiter<E>>();
  private consumer: ClientConsumer | undefined;
  private following: Promise<void> | undefined;
  private closed = false;

  /** @throws TokaError `TOKA_INVALID_CONFIG` without brokers or client. */
  constructor(
    private readonly aggregate: AggregateTopics<C, E>,
    options: AggregateClientOptions,
  ) {
    this.connection = resolveConnection("aggregate client", options, { group: aggregate.name });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.emitter = new Emitter({
      client: this.connection.client,
      logger: this.connection.logger,
      topic: aggregate.commandsTopic,
      codec: aggregate.commands,
    });
  }

  /**
   * Sends a command to aggregate `id`; resolves with its command ID once the broker has it.
   * @throws CodecError for a command that does not encode; TokaError `TOKA_PRODUCE_FAILED`.
   */
  async send(id: string, command: C, options: SendOptions = {}): Promise<string> {
    const commandId = options.id ?? randomUUID();
    const headers: Record<string, string> = { ...options.headers };
    if (options.expectedVersion !== undefined) {
      headers[EventHeader.ExpectedVersion] = String(options.expectedVersion);
    }
    await this.emitter.emit(id, command, { id: commandId, headers });
    return commandId;
  }

  /**
   * Sends a command and waits for its outcome.
   * @throws as {@link AggregateClient.send}, and TokaError `TOKA_TIMEOUT` when neither
   * events nor a rejection appear within `timeoutMs` (is the aggregate running?).
   */
  async execute(id: string, command: C, options: SendOptions = {}): Promise<CommandOutcome<E>> {
    await this.follow();
    const commandId = options.id ?? randomUUID();
    const outcome = new Promise<CommandOutcome<E>>((resolve) => {
      this.waiters.set(commandId, { events: [], resolve });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TokaError(
              TokaErrorCode.Timeout,
              `no outcome of command ${commandId} within ${this.timeoutMs} ms; is the aggregate's processor running? (a command that decides no events has none)`,
              { group: this.aggregate.name, topic: this.aggregate.commandsTopic, key: id },
            ),
          ),
        this.timeoutMs,
      );
    });
    try {
      await this.send(id, command, { ...options, id: commandId });
      return await Promise.race([outcome, timeout]);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(commandId);
    }
  }

  /** Stops following and sending. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.following?.catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.emitter.close().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Follows the events and rejections topics from their current ends. */
  private follow(): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new TokaError(TokaErrorCode.InvalidState, "the aggregate client is closed", {
          group: this.aggregate.name,
        }),
      );
    }
    this.following ??= this.startFollowing().catch((cause) => {
      this.following = undefined;
      throw isTokaError(cause)
        ? cause
        : new TokaError(TokaErrorCode.KafkaFailed, "following the aggregate's outcomes failed", {
            group: this.aggregate.name,
            cause,
          });
    });
    return this.following;
  }

  private async startFollowing() {
    const { eventsTopic, rejectionsTopic } = this.aggregate;
    const admin = this.connection.client.admin();
    await admin.connect();
    const ends = new Map<string, string>();
    try {
      for (const topic of [eventsTopic, rejectionsTopic]) {
        for (const mark of await admin.watermarks(topic))
          ends.set(`${topic}/${mark.partition}`, mark.high);
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const consumer = this.connection.client.consumer({
      groupId: `toka-outcomes-${this.aggregate.name}-${randomUUID()}`,
      copartitioned: false,
      readCommitted: true,
      fromBeginning: false,
      maxBytesPerPartition: 1024 * 1024,
      concurrency: 8,
      sessionTimeoutMs: 30_000,
      fetchMaxWaitMs: 100,
    });
    this.consumer = consumer;
    let assigned!: () => void;
    const joined = new Promise<void>((resolve) => {
      assigned = resolve;
    });
    await consumer.connect();
    await consumer.subscribe([eventsTopic, rejectionsTopic]);
    await consumer.run({
      onAssignment: (assignment) => {
        for (const { topic, partition } of assignment) {
          const offset = ends.get(`${topic}/${partition}`);
          if (offset !== undefined) consumer.seek({ topic, partition, offset });
        }
        assigned();
      },
      onBatch: async (batch) => {
        for (const record of batch.records) {
          if (batch.topic === eventsTopic) this.onEvent(record);
          else this.onRejection(record);
        }
        return true;
      },
      onCrash: (error) => this.connection.logger.error("aggregate client stopped", { error }),
    });
    await joined;
  }

  private onEvent(record: IncomingRecord) {
    const commandId = record.headers[EventHeader.CommandId];
    const waiter = commandId === undefined ? undefined : this.waiters.get(commandId);
    if (!waiter || record.value === null) return;
    const eventRecord = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key ? utf8.decode(record.key) : "",
      timestamp: record.timestamp,
      headers: record.headers,
    };
    const meta = eventMeta(eventRecord);
    if (waiter.events.some((e) => e.meta.id === meta.id)) return;
    waiter.events.push({ event: this.aggregate.log.decode(record.value, eventRecord), meta });
    const expected = Number(record.headers[EventHeader.CommandEvents] ?? "1");
    if (waiter.events.length >= expected) {
      waiter.resolve({
        status: "accepted",
        commandId: commandId!,
        events: waiter.events,
        version: meta.aggregateVersion ?? 0,
      });
    }
  }

  private onRejection(record: IncomingRecord) {
    if (record.value === null) return;
    const rejection = rejectionCodec.decode(record.value);
    this.waiters
      .get(rejection.commandId)
      ?.resolve({ status: "rejected", commandId: rejection.commandId, rejection });
  }
}
