import { memoryStorage, type StorageFactory } from "@toka/state-store";
import { z } from "zod";
import type { KafkaClient } from "./client/kafka-client.js";
import { kafkajsClient } from "./client/kafkajs-client.js";
import { type Clock, systemClock } from "./clock.js";
import { type SecurityOptions, securityOptionsSchema } from "./connection-security.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import { consoleLogger, type Logger } from "./logger.js";
import { queryAddressProblem } from "./query-address.js";

/** Delivery guarantees of a processor (ARCHITECTURE §6). */
export const Guarantee = {
  AtLeastOnce: "at-least-once",
  ExactlyOnce: "exactly-once",
  ExactlyOnceTransactional: "exactly-once-transactional",
} as const;
export type Guarantee = (typeof Guarantee)[keyof typeof Guarantee];

/**
 * What happens to a message that fails to decode, whose key is null or not valid UTF-8,
 * or whose callback throws.
 */
export const ErrorPolicy = {
  /** Stop the processor with the error (nothing after it in the partition is processed). */
  Fail: "fail",
  /** Log it, count it, go on. */
  Skip: "skip",
  /**
   * Write it unchanged to `<group>-dlq` with `toka-error-*` headers, go on. A letter
   * larger than the topic allows is cut to fit, with `toka-error-truncated: true`.
   */
  DeadLetter: "dead-letter",
} as const;
export type ErrorPolicy = (typeof ErrorPolicy)[keyof typeof ErrorPolicy];

/** Where a group without committed offsets starts reading its inputs. */
export const StartFrom = { Earliest: "earliest", Latest: "latest" } as const;
export type StartFrom = (typeof StartFrom)[keyof typeof StartFrom];

/** The exactly-once dedup window: IDs remembered per key, by count and by age. */
export interface DedupWindow {
  /** IDs remembered per key. Default {@link DEFAULTS.dedupIdsPerKey}. */
  readonly idsPerKey?: number;
  /** How long an ID is remembered, in ms. Default {@link DEFAULTS.dedupMaxAgeMs}. */
  readonly maxAgeMs?: number;
}

/** Options of a {@link Processor}; see the package README for the table. */
export interface ProcessorOptions extends SecurityOptions {
  /** Bootstrap brokers, `host:port`. Required unless `client` is given. */
  readonly brokers?: readonly string[];
  /** A Kafka client of its own (e.g. the in-memory tester's). Default: kafkajs on `brokers`. */
  readonly client?: KafkaClient;
  /** Local storage of table partitions. Default: `memoryStorage()`. */
  readonly storage?: StorageFactory;
  /** Default `"at-least-once"`. */
  readonly guarantee?: Guarantee;
  /** Default `"dead-letter"`. */
  readonly errorPolicy?: ErrorPolicy;
  /** Create missing table, loop and dead-letter topics. Default `true`. */
  readonly createTopics?: boolean;
  /** Replication factor of created topics. Default: the broker's default. */
  readonly replicationFactor?: number;
  /** Default `"earliest"` (Kafka Streams' choice; Goka starts at the newest). */
  readonly startFrom?: StartFrom;
  /** Partitions processed at the same time by this instance. Default 8. */
  readonly concurrency?: number;
  /**
   * Bytes fetched per partition and request: bounds a batch, and the memory batches take
   * (every assigned partition of every subscribed topic is fetched at once; a fetch whose
   * first batch is larger grows until it fits). Default 24 KiB. Larger batches write fewer
   * table records per message when keys repeat, as a longer `commitIntervalMs` does, and
   * take more memory (on the processor benchmark, 256 KiB–1 MiB peaked at 500–860 MB).
   */
  readonly maxBatchBytes?: number;
  /** Consumer-group session timeout in ms. Default 10 000. */
  readonly sessionTimeoutMs?: number;
  /**
   * While a partition's inputs have a backlog, its changed keys wait in a write-back
   * cache and are written (one table record per key, one local write, then the offset
   * commit; one transaction with the transactional guarantee) at most this long after
   * the first change. A batch that reaches the end of its input is written at once.
   * Longer: fewer table records and transactions when keys repeat; more input processed
   * again after a crash, and more memory (changes wait longer, and V8 keeps more old
   * garbage). Default 1 000 ms: on the counting benchmark 1.5–2.9 times the messages per
   * second of 0 (a flush after every batch), at about twice the peak RSS unless the heap
   * is capped (`--max-old-space-size`; docs/guarantees.md); 0 for the least memory.
   */
  readonly commitIntervalMs?: number;
  /**
   * Input bytes a partition applies into its write-back cache before it is written,
   * whatever the interval: bounds the cache's memory (its keys are at most the messages
   * of these bytes). Default 1 MiB per partition.
   */
  readonly cacheMaxBytes?: number;
  readonly dedup?: DedupWindow;
  readonly logger?: Logger;
  /**
   * Time and timers of the processor's partitions: wall-clock timers, timed flushes,
   * commit retries. Default the system's; the Tester gives its own clock, which tests
   * move forward.
   */
  readonly clock?: Clock;
  /** Kafka client id. Default `toka-<group>`. */
  readonly clientId?: string;
  /**
   * The base URL of this instance's query service (`serveViews`), e.g.
   * `"http://10.0.0.7:8080"`: advertised to the group so that every instance knows which
   * instance owns which partition (`processor.ownerOf(key)`) and a query service can
   * forward a key read to its owner. A function is called once by `start()` (for a service
   * on a port the OS picks, started after the processor is constructed). Default: none
   * advertised.
   */
  readonly queryAddress?: string | (() => string);
  /**
   * Standby replicas of each partition's tables kept by other instances of the group:
   * each instance also follows, into its local storage with checkpoints, the tables (the
   * group table, joined tables, windows and timers) of the partitions the group gives it
   * to stand by for (owned by other instances), without processing inputs. When an owner
   * dies, its partitions go to the instances with the most current copies, which read
   * only what they miss (docs/scaling.md). Costs a copy of the table per replica (disk
   * with `levelStorage`, memory with `memoryStorage`) and the reads that follow it. The
   * most any instance asks for counts. Default 0.
   */
  readonly standbyReplicas?: number;
}

/** Named defaults of {@link ProcessorOptions}. */
export const DEFAULTS = {
  guarantee: Guarantee.AtLeastOnce,
  errorPolicy: ErrorPolicy.DeadLetter,
  createTopics: true,
  startFrom: StartFrom.Earliest,
  concurrency: 8,
  // The processor benchmark (8 partitions, tiny messages) ran as fast with 16–32 KiB
  // fetches as with 128 KiB and peaked at about 250 MB RSS with 24 KiB, against 500 MB
  // with 128 KiB and 1.2 GB with 1 MiB.
  maxBatchBytes: 24 * 1024,
  sessionTimeoutMs: 10_000,
  commitIntervalMs: 1000,
  cacheMaxBytes: 1024 * 1024,
  dedupIdsPerKey: 32,
  dedupMaxAgeMs: 24 * 60 * 60 * 1000,
  standbyReplicas: 0,
} as const;

/** Options after defaults, as the processor uses them. */
export interface ResolvedProcessorOptions {
  readonly client: KafkaClient;
  readonly storage: StorageFactory;
  readonly guarantee: Guarantee;
  readonly errorPolicy: ErrorPolicy;
  readonly createTopics: boolean;
  readonly replicationFactor: number | undefined;
  readonly startFrom: StartFrom;
  readonly concurrency: number;
  readonly maxBatchBytes: number;
  readonly sessionTimeoutMs: number;
  readonly commitIntervalMs: number;
  readonly cacheMaxBytes: number;
  readonly dedupIdsPerKey: number;
  readonly dedupMaxAgeMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly queryAddress: string | (() => string) | undefined;
  readonly standbyReplicas: number;
}

const positiveInt = z.number().int().positive();
const schema = z.object({
  brokers: z
    .array(z.string().regex(/^[^:\s]+:\d+$/, "expected host:port"))
    .min(1)
    .optional(),
  guarantee: z.enum(Object.values(Guarantee)).optional(),
  errorPolicy: z.enum(Object.values(ErrorPolicy)).optional(),
  createTopics: z.boolean().optional(),
  replicationFactor: positiveInt.optional(),
  startFrom: z.enum(Object.values(StartFrom)).optional(),
  concurrency: positiveInt.max(1024).optional(),
  maxBatchBytes: positiveInt.min(1024).optional(),
  sessionTimeoutMs: positiveInt.min(1000).optional(),
  commitIntervalMs: z.number().int().min(0).optional(),
  cacheMaxBytes: z.number().int().min(0).optional(),
  dedup: z
    .object({ idsPerKey: positiveInt.optional(), maxAgeMs: positiveInt.optional() })
    .optional(),
  clientId: z.string().min(1).optional(),
  standbyReplicas: z.number().int().min(0).max(16).optional(),
  queryAddress: z
    .union([
      z.string().superRefine((address, ctx) => {
        const problem = queryAddressProblem(address);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
      z.custom<() => string>((f) => typeof f === "function", "expected a URL or a function"),
    ])
    .optional(),
  ...securityOptionsSchema.shape,
});

/**
 * Applies defaults and validates once, at construction.
 * @throws TokaError `TOKA_INVALID_CONFIG` naming the option and how to fix it.
 */
export function resolveProcessorOptions(
  group: string,
  options: ProcessorOptions,
): ResolvedProcessorOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `invalid processor option "${issue.path.join(".")}": ${issue.message}`,
      { group, cause: parsed.error },
    );
  }
  if (!options.client && !options.brokers) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      'processor needs "brokers" (e.g. ["127.0.0.1:9092"]) or a "client"',
      { group },
    );
  }
  const logger = options.logger ?? consoleLogger();
  return {
    client:
      options.client ??
      kafkajsClient({
        brokers: options.brokers!,
        clientId: options.clientId ?? `toka-${group}`,
        logger,
        ssl: options.ssl,
        sasl: options.sasl,
      }),
    storage: options.storage ?? memoryStorage(),
    guarantee: options.guarantee ?? DEFAULTS.guarantee,
    errorPolicy: options.errorPolicy ?? DEFAULTS.errorPolicy,
    createTopics: options.createTopics ?? DEFAULTS.createTopics,
    replicationFactor: options.replicationFactor,
    startFrom: options.startFrom ?? DEFAULTS.startFrom,
    concurrency: options.concurrency ?? DEFAULTS.concurrency,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
    sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs,
    commitIntervalMs: options.commitIntervalMs ?? DEFAULTS.commitIntervalMs,
    cacheMaxBytes: options.cacheMaxBytes ?? DEFAULTS.cacheMaxBytes,
    dedupIdsPerKey: options.dedup?.idsPerKey ?? DEFAULTS.dedupIdsPerKey,
    dedupMaxAgeMs: options.dedup?.maxAgeMs ?? DEFAULTS.dedupMaxAgeMs,
    logger,
    clock: options.clock ?? systemClock,
    queryAddress: options.queryAddress,
    standbyReplicas: options.standbyReplicas ?? DEFAULTS.standbyReplicas,
  };
}
