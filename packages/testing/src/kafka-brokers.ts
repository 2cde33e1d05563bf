/** A Kafka cluster for integration tests, with the way to release it. */
export interface KafkaForTests {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: string[];
  /** Where the brokers came from. */
  readonly source: "env" | "testcontainers" | "fallback";
  /** Stops what this call started (a container or a fallback broker); no-op otherwise. */
  stop(): Promise<void>;
}

/** Options of {@link kafkaForTests}. */
export interface KafkaForTestsOptions {
  /** Environment variable with a comma-separated broker list. Default `"KAFKA_BROKERS"`. */
  readonly envVar?: string;
  /** Kafka image for Testcontainers. Default {@link DEFAULT_KAFKA_IMAGE}. */
  readonly image?: string;
  /**
   * Called when the variable is unset and no Docker engine answers, e.g. to start a
   * local JVM broker. Without it that situation is an error saying how to get a broker.
   */
  readonly fallback?: () => Promise<Omit<KafkaForTests, "source">>;
}

/** Confluent's image: the one `@testcontainers/kafka` knows how to configure (KRaft). */
export const DEFAULT_KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.1";

/** The listener `@testcontainers/kafka` exposes to the host. */
const CONTAINER_KAFKA_PORT = 9093;

/**
 * Finds or starts a Kafka for integration tests: the broker list in `KAFKA_BROKERS`
 * when set; otherwise a Kafka container started with Testcontainers when a Docker
 * engine answers; otherwise `options.fallback`. Meant for a vitest `globalSetup`.
 * Testcontainers (`testcontainers`, `@testcontainers/kafka`) is an optional peer
 * dependency, loaded only when `KAFKA_BROKERS` is unset; without it the fallback runs.
 *
 * @throws Error when none of the three is available, saying how to provide a broker.
 */
export async function kafkaForTests(options: KafkaForTestsOptions = {}): Promise<KafkaForTests> {
  const envVar = options.envVar ?? "KAFKA_BROKERS";
  const fromEnv = process.env[envVar]?.trim();
  if (fromEnv) {
    const brokers = fromEnv
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b.length > 0);
    return { brokers, source: "env", stop: async () => {} };
  }
  const runtime = await containerRuntime();
  if (runtime === "reachable") {
    const { KafkaContainer } = await import("@testcontainers/kafka").catch((error: unknown) => {
      if (!isModuleNotFound(error)) throw error;
      const message = `kafkaForTests needs @testcontainers/kafka to start a Kafka container: ${INSTALL_TESTCONTAINERS}`;
      throw new Error(message, { cause: error });
    });
    const container = await new KafkaContainer(options.image ?? DEFAULT_KAFKA_IMAGE)
      .withKraft()
      .start();
    return {
      brokers: [`${container.getHost()}:${container.getMappedPort(CONTAINER_KAFKA_PORT)}`],
      source: "testcontainers",
      stop: async () => {
        await container.stop();
      },
    };
  }
  if (options.fallback) return { ...(await options.fallback()), source: "fallback" };
  const why =
    runtime === "not-installed"
      ? `Testcontainers is not installed (${INSTALL_TESTCONTAINERS})`
      : "no Docker engine answers";
  throw new Error(
    `No Kafka broker for the tests: ${envVar} is unset and ${why}. ` +
      `Set ${envVar}=host:port[,host:port] to use a running broker, or install Testcontainers ` +
      "and start Docker so it can run one.",
  );
}

/** What installs the optional peers `kafkaForTests` runs containers with. */
const INSTALL_TESTCONTAINERS = "npm install -D testcontainers @testcontainers/kafka";

/**
 * Whether Testcontainers can run a container here. Testcontainers is an optional peer
 * dependency: it is imported only now, so users of the in-memory tester never load it.
 */
async function containerRuntime(): Promise<"not-installed" | "unreachable" | "reachable"> {
  let testcontainers: typeof import("testcontainers");
  try {
    testcontainers = await import("testcontainers");
  } catch (error) {
    if (isModuleNotFound(error)) return "not-installed";
    throw error;
  }
  try {
    await testcontainers.getContainerRuntimeClient();
    return "reachable";
  } catch {
    return "unreachable";
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
