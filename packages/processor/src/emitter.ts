import { randomUUID } from "node:crypto";
import type { Codec } from "@toka/codec";
import type { ClientProducer, KafkaClient, OutgoingRecord } from "./client/kafka-client.js";
import { kafkajsClient } from "./client/kafkajs-client.js";
import { checkSecurityOptions, type SecurityOptions } from "./connection-security.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import { Lifecycle, type Transitions } from "./lifecycle.js";
import { consoleLogger, type Logger } from "./logger.js";
import { observeEmitterQueue } from "./telemetry.js";
import { ID_HEADER } from "./topic-names.js";
import { withTraceContext } from "./trace-context.js";

/** Options of an {@link Emitter}. */
export interface EmitterOptions<T> extends SecurityOptions {
  /** Bootstrap brokers. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  readonly client?: KafkaClient;
  readonly topic: string;
  readonly codec: Codec<T>;
  /** Most records in one produce request. Default 10 000. */
  readonly maxBatchSize?: number;
  readonly logger?: Logger;
  readonly clientId?: string;
}

/** Options of {@link Emitter.emit}. */
export interface EmitOptions {
  /**
   * The message ID (`toka-id`), an idempotency key: an exactly-once group applies two
   * messages with the same ID once. Default: a random UUID.
   */
  readonly id?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Pending {
  readonly record: OutgoingRecord;
  resolve(): void;
  reject(error: unknown): void;
}

const DEFAULT_MAX_BATCH = 10_000;

/**
 * Lifecycle states of an {@link Emitter}, moving as {@link EMITTER_TRANSITIONS} allows:
 *
 * ```
 * idle → starting → running → closing → closed
 * ```
 *
 * An emitter connects at its first emit (`starting`); a connection that fails takes it
 * back to `idle`, and the next emit connects again. `close()` goes to `closing` from any
 * of the first three. An emitter does not fail: each emit rejects on its own.
 */
export const EmitterStatus = {
  /** Not connected (yet, or since a connection failed). */
  Idle: "idle",
  /** Connecting its producer. */
  Starting: "starting",
  Running: "running",
  /** Sending what was emitted before `close()`; new emits reject. */
  Closing: "closing",
  Closed: "closed",
} as const;
export type EmitterStatus = (typeof EmitterStatus)[keyof typeof EmitterStatus];

/** The moves between {@link EmitterStatus}es an emitter makes. */
export const EMITTER_TRANSITIONS: Transitions<EmitterStatus> = {
  idle: ["starting", "closing"],
  starting: ["running", "idle", "closing"],
  running: ["closing"],
  closing: ["closed"],
  closed: [],
};

/**
 * Produces typed messages to one topic. `emit` resolves when the broker acknowledged
 * the message (acks=all, idempotent producer). Emits made while a request is in flight
 * are sent together in the next one, so concurrent emits become few requests.
 */
export class Emitter<T> {
  readonly topic: string;
  private readonly codec: Codec<T>;
  private readonly client: KafkaClient;
  private readonly maxBatchSize: number;
  private producer: ClientProducer | undefined;
  private connecting: Promise<ClientProducer> | undefined;
  private queue: Pending[] = [];
  /** Messages of the request in flight. */
  private inFlight = 0;
  private flushing: Promise<void> | undefined;
  /** Unregisters the queue gauge; set from the first connection until close. */
  private stopObservingQueue: (() => void) | undefined;
  private readonly lifecycle: Lifecycle<EmitterStatus>;

  /**
   * @throws TokaError `TOKA_INVALID_CONFIG` without brokers or client, or with invalid
   * `ssl`/`sasl` options.
   */
  constructor(options: EmitterOptions<T>) {
    checkSecurityOptions("emitter", options, { topic: options.topic });
    if (!options.client && !options.brokers?.length) {
      throw new TokaError(
        TokaErrorCode.InvalidConfig,
        'emitter needs "brokers" (e.g. ["127.0.0.1:9092"]) or a "client"',
        {
          topic: options.topic,
        },
      );
    }
    this.topic = options.topic;
    this.codec = options.codec;
    this.maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH;
    this.lifecycle = new Lifecycle({
      component: "emitter",
      coordinates: { topic: options.topic },
      transitions: EMITTER_TRANSITIONS,
    });
    this.client =
      options.client ??
      kafkajsClient({
        brokers: options.brokers!,
        clientId: options.clientId ?? `toka-emitter-${options.topic}`,
        logger: options.logger ?? consoleLogger(),
        ssl: options.ssl,
        sasl: options.sasl,
      });
  }

  /** The lifecycle state; see {@link EmitterStatus}. */
  get status(): EmitterStatus {
    return this.lifecycle.status;
  }

  /**
   * Encodes and sends one message; resolves once the broker acknowledged it.
   * @throws CodecError if the value does not encode; TokaError `TOKA_PRODUCE_FAILED` if
   * the broker did not take it; `TOKA_INVALID_STATE` once `close()` was called.
   */
  emit(key: string, value: T | null, options: EmitOptions = {}): Promise<void> {
    if (this.lifecycle.stopping) {
      return Promise.reject(
        new TokaError(TokaErrorCode.InvalidState, "emit after close", { topic: this.topic, key }),
      );
    }
    let record: OutgoingRecord;
    try {
      record = {
        topic: this.topic,
        key,
        value: value === null ? null : this.codec.encode(value),
        // The caller's trace continues in the processors that read the message.
        headers: withTraceContext({ ...options.headers, [ID_HEADER]: options.id ?? randomUUID() }),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Sends what is queued and waits for it. */
  async flush(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      this.scheduleFlush();
      await this.flushing;
    }
  }

  /**
   * Refuses new emits, sends what was emitted before, then disconnects. Idempotent:
   * every call waits for the same close.
   * @throws the error of disconnecting, if it fails.
   */
  close(): Promise<void> {
    // Nothing to wait for first: an emitter starts with its first emit, and the flush
    // waits for that connection.
    return this.lifecycle.close(async () => {
      await this.flush();
      this.stopObservingQueue?.();
      this.stopObservingQueue = undefined;
      await (await this.connecting?.catch(() => undefined))?.disconnect();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private scheduleFlush() {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = this.sendQueued().finally(() => {
      this.flushing = undefined;
      this.scheduleFlush();
    });
  }

  private async sendQueued() {
    const batch = this.queue.splice(0, this.maxBatchSize);
    this.inFlight = batch.length;
    try {
      const producer = await this.connect();
      await producer.send(batch.map((p) => p.record));
      for (const p of batch) p.resolve();
    } catch (cause) {
      const error = isTokaError(cause)
        ? cause
        : new TokaError(TokaErrorCode.ProduceFailed, `producing to "${this.topic}" failed`, {
            topic: this.topic,
            cause,
            retriable: true,
          });
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight = 0;
    }
  }

  private connect(): Promise<ClientProducer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.stopObservingQueue ??= observeEmitterQueue(
      this.topic,
      () => this.queue.length + this.inFlight,
    );
    this.connecting ??= (async () => {
      // While closing, the queued emits still connect, without a status of their own.
      if (this.lifecycle.is(EmitterStatus.Idle)) this.lifecycle.moveTo(EmitterStatus.Starting);
      const producer = this.client.producer();
      await producer.connect();
      this.producer = producer;
      if (this.lifecycle.is(EmitterStatus.Starting)) this.lifecycle.moveTo(EmitterStatus.Running);
      return producer;
    })();
    // A failed connection is retried by the next emit.
    this.connecting.catch(() => {
      this.connecting = undefined;
      if (this.lifecycle.is(EmitterStatus.Starting)) this.lifecycle.moveTo(EmitterStatus.Idle);
    });
    return this.connecting;
  }
}
