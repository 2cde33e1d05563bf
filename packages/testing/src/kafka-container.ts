import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { probeKafka } from "./kafka-probe.js";

/** How a Kafka container is reached from the host. */
export const ContainerNetworking = {
  /**
   * The container's own network, its port published on the host (docker-proxy). Not
   * used by toka's starters (see `apacheStyleStarter`); a starter may offer it.
   */
  publishedPort: "published port",
  /** The host's network: the broker listens on a host port itself. */
  hostNetwork: "host network",
  /** Whatever `@testcontainers/kafka`'s `KafkaContainer` does (Confluent images). */
  kafkaModule: "@testcontainers/kafka",
} as const;
export type ContainerNetworking = (typeof ContainerNetworking)[keyof typeof ContainerNetworking];

/** A broker running in a container. */
export interface StartedKafkaContainer {
  readonly brokers: string[];
  stop(): Promise<void>;
}

/** A Docker engine that answered, able to start the Kafka image. */
export interface KafkaContainerStarter {
  /** The ways to try, in order. */
  readonly networkings: readonly ContainerNetworking[];
  /** Starts the broker and waits until it answers; rejects with why it did not. */
  start(networking: ContainerNetworking): Promise<StartedKafkaContainer>;
}

/** Thrown when Docker cannot be used at all; the message is the reason. */
export class DockerUnavailable extends Error {
  override readonly name = "DockerUnavailable";
}

/** Images `@testcontainers/kafka` configures itself; every other image is configured like apache/kafka. */
export function isConfluentImage(image: string): boolean {
  return image.startsWith("confluentinc/");
}

/** What installs the optional peers `kafkaForTests` runs containers with. */
export const INSTALL_TESTCONTAINERS = "npm install -D testcontainers @testcontainers/kafka";

/** How long the broker in a container may take to log that it started. */
const STARTUP_TIMEOUT_MS = 120_000;
/** How long the broker, once started, may take to answer the host. */
const PROBE_TIMEOUT_MS = 15_000;
/** The listener `@testcontainers/kafka` exposes to the host. */
const CONFLUENT_KAFKA_PORT = 9093;

/**
 * Connects to the Docker engine Testcontainers finds (DOCKER_HOST, else the usual socket).
 * Testcontainers is an optional peer dependency: it is imported only now, so users of the
 * in-memory tester never load it.
 *
 * @throws DockerUnavailable saying why: Testcontainers missing, no engine answering, or the
 *   image neither present nor pullable.
 */
export async function connectDocker(
  image: string,
  port: number | undefined,
): Promise<KafkaContainerStarter> {
  let testcontainers: typeof import("testcontainers");
  try {
    testcontainers = await import("testcontainers");
  } catch (error) {
    if (isModuleNotFound(error))
      throw new DockerUnavailable(`Testcontainers is not installed (${INSTALL_TESTCONTAINERS})`);
    throw error;
  }
  let client: Awaited<ReturnType<typeof testcontainers.getContainerRuntimeClient>>;
  try {
    client = await testcontainers.getContainerRuntimeClient();
  } catch (error) {
    const where = process.env.DOCKER_HOST
      ? `at DOCKER_HOST=${process.env.DOCKER_HOST}`
      : "(DOCKER_HOST is unset)";
    throw new DockerUnavailable(`no Docker engine answers ${where}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const imageName = testcontainers.ImageName.fromString(image);
  if (!(await client.image.exists(imageName))) {
    try {
      await client.image.pull(imageName);
    } catch (error) {
      const hint = image.startsWith("toka/") ? " (scripts/docker.sh image builds it)" : "";
      throw new DockerUnavailable(
        `image ${image} is not in the engine and pulling it failed${hint}: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  if (isConfluentImage(image)) return confluentStarter(image);
  return apacheStyleStarter(testcontainers, image, port);
}

/** The image configured like apache/kafka (KAFKA_* settings), started as a GenericContainer. */
function apacheStyleStarter(
  testcontainers: typeof import("testcontainers"),
  image: string,
  port: number | undefined,
): KafkaContainerStarter {
  const { GenericContainer, Wait } = testcontainers;
  return {
    // Host networking keeps every connection on loopback: a published port would reach
    // the container over the bridge network's private-range addresses (through
    // docker-proxy), traffic that test machines must not send, and with --iptables=false
    // some hosts cannot route it anyway. Its cost is that the broker takes host ports,
    // which is why the caller may choose them.
    networkings: [ContainerNetworking.hostNetwork],
    async start() {
      const brokerPort = port ?? (await freePort());
      // The controller takes the next port after a chosen broker port (as
      // scripts/kafka.sh does), else another free one.
      const controllerPort = port !== undefined ? port + 1 : await freePort();
      // Kafka advertises the address clients must use afterwards: the host reaches the
      // broker at 127.0.0.1 on the port it listens on.
      const container = new GenericContainer(image)
        .withEnvironment(brokerEnvironment(brokerPort, controllerPort))
        .withNetworkMode("host")
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(STARTUP_TIMEOUT_MS);
      const started = await container.start();
      try {
        await probeKafka("127.0.0.1", brokerPort, PROBE_TIMEOUT_MS);
      } catch (error) {
        await started.stop().catch(() => {});
        throw error;
      }
      return {
        brokers: [`127.0.0.1:${brokerPort}`],
        stop: async () => {
          await started.stop();
        },
      };
    },
  };
}

/**
 * The settings of one combined broker+controller, as environment variables in the
 * apache/kafka convention (which toka's image follows). That image ignores its defaults
 * once any KAFKA_* variable is set, so every required setting is here.
 */
export function brokerEnvironment(brokerPort: number, controllerPort: number) {
  return {
    // A fresh random id per container: the storage is formatted with it on start.
    CLUSTER_ID: randomBytes(16).toString("base64url").slice(0, 22),
    KAFKA_NODE_ID: "1",
    KAFKA_PROCESS_ROLES: "broker,controller",
    KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${brokerPort}`,
    KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
    KAFKA_INTER_BROKER_LISTENER_NAME: "PLAINTEXT",
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${controllerPort}`,
    KAFKA_LOG_DIRS: "/tmp/kafka-logs",
    KAFKA_NUM_PARTITIONS: "1",
    // One node: internal topics must have replication factor 1 and min ISR 1, or group
    // commits and transactions hang.
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1",
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1",
    // Tests start and stop consumers constantly: do not wait for more members to join.
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
  };
}

/** Confluent's images through `@testcontainers/kafka`, as before toka had its own image. */
function confluentStarter(image: string): KafkaContainerStarter {
  return {
    networkings: [ContainerNetworking.kafkaModule],
    async start() {
      const { KafkaContainer } = await import("@testcontainers/kafka").catch((error: unknown) => {
        if (!isModuleNotFound(error)) throw error;
        throw new Error(`${image} needs @testcontainers/kafka: ${INSTALL_TESTCONTAINERS}`, {
          cause: error,
        });
      });
      const container = await new KafkaContainer(image).withKraft().start();
      return {
        brokers: [`${container.getHost()}:${container.getMappedPort(CONFLUENT_KAFKA_PORT)}`],
        stop: async () => {
          await container.stop();
        },
      };
    },
  };
}

/** A TCP port free on 127.0.0.1 now (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
