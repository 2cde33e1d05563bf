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
  if (await dockerAnswers()) {
    const { KafkaContainer } = await import("@testcontainers/kafka");
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
  throw new Error(
    `No Kafka broker for the tests: ${envVar} is unset and no Docker engine answers. ` +
      `Set ${envVar}=host:port[,host:port] to use a running broker, or start Docker so ` +
      "Testcontainers can run one.",
  );
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
