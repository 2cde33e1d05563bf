import { randomUUID } from "node:crypto";
import type { Codec } from "@toka/codec";
import type { ClientProducer, KafkaClient, OutgoingRecord } from "./client/kafka-client.js";
import { kafkajsClient } from "./client/kafkajs-client.js";
import { checkSecurityOptions, type SecurityOptions } from "./connection-security.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
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
  private closed = false;

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

  /**
   * Encodes and sends one message; resolves once the broker acknowledged it.
   * @throws CodecError if the value does not encode; TokaError `TOKA_PRODUCE_FAILED` if
   * the broker did not take it; `TOKA_INVALID_STATE` after `close()`.
   */
  emit(key: string, value: T | null, options: EmitOptions = {}): Promise<void> {
    if (this.closed) {
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

  /** Flushes, then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.stopObservingQueue?.();
    this.stopObservingQueue = undefined;
    await (await this.connecting?.catch(() => undefined))?.disconnect();
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
      const producer = this.client.producer();
      await producer.connect();
      this.producer = producer;
      return producer;
    })();
    // A failed connection is retried by the next emit.
    this.connecting.catch(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }
}
