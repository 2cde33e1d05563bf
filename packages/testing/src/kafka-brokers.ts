import {
  connectDocker,
  DockerUnavailable,
  type KafkaContainerStarter,
  messageOf,
} from "./kafka-container.js";

/** A Kafka cluster for integration tests, with the way to release it. */
export interface KafkaForTests {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: string[];
  /** Where the brokers came from. */
  readonly source: "env" | "testcontainers" | "fallback";
  /**
   * Why each Docker path was not taken, in the order they were tried: Testcontainers
   * missing, no engine answering, the image missing, a container that failed to start
   * (one entry per networking tried). Empty when the brokers came from the environment
   * variable or the first container started.
   */
  readonly rejected: readonly string[];
  /** Stops what this call started (a container or a fallback broker); no-op otherwise. */
  stop(): Promise<void>;
}

/** Options of {@link kafkaForTests}. */
export interface KafkaForTestsOptions {
  /** Environment variable with a comma-separated broker list. Default `"KAFKA_BROKERS"`. */
  readonly envVar?: string;
  /**
   * Kafka image for Testcontainers. Default: the `TOKA_KAFKA_IMAGE` environment variable,
   * else {@link DEFAULT_KAFKA_IMAGE}. `confluentinc/*` images run through
   * `@testcontainers/kafka`; any other image is configured like `apache/kafka` (KAFKA_*
   * variables), as toka's locally built {@link LOCAL_KAFKA_IMAGE} is.
   */
  readonly image?: string;
  /**
   * Host port of the container's broker (apache/kafka-style images). Default: the
   * `TOKA_KAFKA_CONTAINER_PORT` environment variable, else a free port. With host
   * networking the controller takes the next port (or another free one).
   */
  readonly port?: number;
  /**
   * Called when the variable is unset and no container could be started, e.g. to start a
   * local JVM broker. Without it that situation is an error listing why each Docker path
   * was rejected and saying how to get a broker.
   */
  readonly fallback?: () => Promise<Omit<KafkaForTests, "source" | "rejected">>;
  /** Where each rejected Docker path is reported as it happens. Default `console.warn`. */
  readonly log?: (message: string) => void;
}

/** The Kafka version of toka's own broker (scripts/kafka.sh), compose files and images. */
export const KAFKA_VERSION = "4.1.1";

/** The Apache Kafka project's image of {@link KAFKA_VERSION}, from Docker Hub. */
export const DEFAULT_KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;

/**
 * toka's image of {@link KAFKA_VERSION}, built without any registry by
 * `scripts/docker.sh image` (a Debian root filesystem and the Maven Central jars).
 */
export const LOCAL_KAFKA_IMAGE = `toka/kafka:${KAFKA_VERSION}`;

/**
 * Finds or starts a Kafka for integration tests: the broker list in `KAFKA_BROKERS`
 * when set; otherwise a Kafka container started with Testcontainers when a Docker
 * engine answers; otherwise `options.fallback`. Meant for a vitest `globalSetup`.
 * Testcontainers (`testcontainers`, and `@testcontainers/kafka` for Confluent images) is
 * an optional peer dependency, loaded only when `KAFKA_BROKERS` is unset. Set
 * `TESTCONTAINERS_RYUK_DISABLED=true` where Testcontainers' Ryuk image cannot be pulled;
 * `stop()` then is what removes the container.
 *
 * @throws Error when none of the three is available, listing why each Docker path was
 *   rejected and saying how to provide a broker.
 */
export async function kafkaForTests(options: KafkaForTestsOptions = {}): Promise<KafkaForTests> {
  const image = options.image ?? (process.env.TOKA_KAFKA_IMAGE?.trim() || DEFAULT_KAFKA_IMAGE);
  const port = options.port ?? (Number(process.env.TOKA_KAFKA_CONTAINER_PORT) || undefined);
  return findKafka(options, () => connectDocker(image, port));
}

/**
 * The decision of {@link kafkaForTests}, with the Docker side passed in: the environment
 * variable; else each way the starter offers, in order; else the fallback. Every Docker
 * path not taken is recorded and reported with its reason.
 */
export async function findKafka(
  options: KafkaForTestsOptions,
  connect: () => Promise<KafkaContainerStarter>,
): Promise<KafkaForTests> {
  const envVar = options.envVar ?? "KAFKA_BROKERS";
  const fromEnv = process.env[envVar]?.trim();
  if (fromEnv) {
    const brokers = fromEnv
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b.length > 0);
    return { brokers, source: "env", rejected: [], stop: async () => {} };
  }
  const log = options.log ?? ((message: string) => console.warn(message));
  const rejected: string[] = [];
  const reject = (reason: string) => {
    rejected.push(reason);
    log(`kafkaForTests: not using Docker: ${reason}`);
  };

  const starter = await connect().catch((error: unknown) => {
    if (!(error instanceof Error && error.name === DockerUnavailable.name)) throw error;
    reject(error.message);
    return undefined;
  });
  for (const networking of starter?.networkings ?? []) {
    const started = await starter?.start(networking).catch((error: unknown) => {
      reject(
        `the container failed to start (${networking}): ${messageOf(error)}${ryukHint(error)}`,
      );
      return undefined;
    });
    if (started) return { ...started, source: "testcontainers", rejected };
  }

  if (options.fallback) return { ...(await options.fallback()), source: "fallback", rejected };
  throw new Error(
    `No Kafka broker for the tests: ${envVar} is unset and no container started (${rejected.join("; ")}). ` +
      `Set ${envVar}=host:port[,host:port] to use a running broker, or install Testcontainers ` +
      "and start Docker so it can run one.",
  );
}

/** Testcontainers starts its Ryuk container first; without a registry that pull fails. */
function ryukHint(error: unknown): string {
  return /ryuk/i.test(messageOf(error)) && process.env.TESTCONTAINERS_RYUK_DISABLED !== "true"
    ? " (set TESTCONTAINERS_RYUK_DISABLED=true where the Ryuk image cannot be pulled)"
    : "";
}
