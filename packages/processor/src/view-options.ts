import type { Codec } from "@toka/codec";
import { memoryStorage, type StorageFactory } from "@toka/state-store";
import { z } from "zod";
import type { KafkaClient } from "./client/kafka-client.js";
import { kafkajsClient } from "./client/kafkajs-client.js";
import { type SecurityOptions, securityOptionsSchema } from "./connection-security.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import { consoleLogger, type Logger } from "./logger.js";

/** Options of a {@link View}; see `docs/views.md` for the table. */
export interface ViewOptions<T> extends SecurityOptions {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own (e.g. the in-memory tester's). Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** The table topic to replicate, e.g. `<group>-table`. Required. */
  readonly table: string;
  /** Decodes the table's values. Required. */
  readonly codec: Codec<T>;
  /**
   * Local storage, one per (table, partition). Default: `memoryStorage()`. Give a view
   * its own factory (or LevelDB directory): a processor's storage of the same table
   * holds a different layout and is locked while the processor runs.
   */
  readonly storage?: StorageFactory;
  /** Partitions consumed at the same time. Default {@link VIEW_DEFAULTS.concurrency}. */
  readonly concurrency?: number;
  /** Bytes fetched per partition and request: bounds a batch. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** Consumer-group session timeout in ms. Default 10 000. */
  readonly sessionTimeoutMs?: number;
  /** Default: JSON lines on stderr at `warn` (see `consoleLogger`). */
  readonly logger?: Logger;
  /** Kafka client id. Default `toka-view-<table>`. */
  readonly clientId?: string;
}

/** Named defaults of {@link ViewOptions} and of the view's waits. */
export const VIEW_DEFAULTS = {
  concurrency: 8,
  maxBatchBytes: 1024 * 1024,
  sessionTimeoutMs: 10_000,
  /** Timeout of `waitForKey`, `waitForOffset` and `catchUp` when none is given. */
  waitTimeoutMs: 30_000,
} as const;

/** Options after defaults, as the view uses them. */
export interface ResolvedViewOptions<T> {
  readonly client: KafkaClient;
  readonly table: string;
  readonly codec: Codec<T>;
  readonly storage: StorageFactory;
  readonly concurrency: number;
  readonly maxBatchBytes: number;
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
}

const positiveInt = z.number().int().positive();
const isFunction = (value: unknown) => typeof value === "function";
const schema = z.object({
  brokers: z
    .array(z.string().regex(/^[^:\s]+:\d+$/, 'expected "host:port"'))
    .min(1, 'give at least one broker, e.g. ["127.0.0.1:9092"]')
    .optional(),
  client: z
    .custom<KafkaClient>(
      (c) =>
        typeof c === "object" &&
        c !== null &&
        isFunction((c as KafkaClient).admin) &&
        isFunction((c as KafkaClient).consumer),
      "expected a KafkaClient (admin() and consumer())",
    )
    .optional(),
  table: z
    .string({ error: "expected the name of the table topic, e.g. 'bank-table'" })
    .min(1, "expected the name of the table topic, e.g. 'bank-table'")
    .max(249, "a Kafka topic name has at most 249 characters")
    .regex(/^[a-zA-Z0-9._-]+$/, "a Kafka topic name uses only letters, digits, '.', '_' and '-'"),
  codec: z.custom<Codec<unknown>>(
    (c) =>
      typeof c === "object" &&
      c !== null &&
      isFunction((c as Codec<unknown>).decode) &&
      isFunction((c as Codec<unknown>).encode),
    "expected a Codec of the table's values, e.g. jsonCodec(schema)",
  ),
  storage: z
    .custom<StorageFactory>(isFunction, "expected a storage factory, e.g. levelStorage({ path })")
    .optional(),
  concurrency: positiveInt.max(1024).optional(),
  maxBatchBytes: positiveInt.min(1024).optional(),
  sessionTimeoutMs: positiveInt.min(1000).optional(),
  logger: z
    .custom<Logger>(
      (l) => typeof l === "object" && l !== null && isFunction((l as Logger).warn),
      "expected a Logger (debug, info, warn, error)",
    )
    .optional(),
  clientId: z.string().min(1).optional(),
  ...securityOptionsSchema.shape,
});

/**
 * Applies defaults and validates once, at construction.
 * @throws TokaError `TOKA_INVALID_CONFIG` naming the option and how to fix it.
 */
export function resolveViewOptions<T>(options: ViewOptions<T>): ResolvedViewOptions<T> {
  const parsed = schema.safeParse(options ?? {});
  const table = typeof options?.table === "string" ? options.table : undefined;
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `invalid view option "${issue.path.join(".")}": ${issue.message}`,
      { topic: table, cause: parsed.error },
    );
  }
  if (!options.client && !options.brokers) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      'view needs "brokers" (e.g. ["127.0.0.1:9092"]) or a "client"',
      { topic: table },
    );
  }
  const logger = options.logger ?? consoleLogger();
  return {
    client:
      options.client ??
      kafkajsClient({
        brokers: options.brokers!,
        clientId: options.clientId ?? `toka-view-${options.table}`,
        logger,
        ssl: options.ssl,
        sasl: options.sasl,
      }),
    table: options.table,
    codec: options.codec,
    storage: options.storage ?? memoryStorage(),
    concurrency: options.concurrency ?? VIEW_DEFAULTS.concurrency,
    maxBatchBytes: options.maxBatchBytes ?? VIEW_DEFAULTS.maxBatchBytes,
    sessionTimeoutMs: options.sessionTimeoutMs ?? VIEW_DEFAULTS.sessionTimeoutMs,
    logger,
  };
}
