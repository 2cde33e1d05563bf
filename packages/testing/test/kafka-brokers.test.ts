import { describe, expect, test, vi } from "vitest";
import { findKafka, type KafkaForTestsOptions } from "../src/kafka-brokers.js";
import {
  brokerEnvironment,
  ContainerNetworking,
  DockerUnavailable,
  type KafkaContainerStarter,
} from "../src/kafka-container.js";

// A variable no test environment sets, so the Docker side is always consulted.
const envVar = "TOKA_TEST_UNSET_BROKERS";
const fallback = vi.fn(async () => ({ brokers: ["127.0.0.1:1"], stop: async () => {} }));

function starter(failures: Partial<Record<ContainerNetworking, string>>): KafkaContainerStarter {
  return {
    networkings: [ContainerNetworking.publishedPort, ContainerNetworking.hostNetwork],
    start: async (networking) => {
      const failure = failures[networking];
      if (failure) throw new Error(failure);
      return {
        brokers: [`127.0.0.1:${networking === ContainerNetworking.hostNetwork ? 59002 : 59001}`],
        stop: async () => {},
      };
    },
  };
}

function options(extra: Partial<KafkaForTestsOptions> = {}) {
  const logged: string[] = [];
  return { logged, options: { envVar, log: (m: string) => logged.push(m), ...extra } };
}

describe("kafkaForTests' choice of broker", () => {
  test("the environment variable wins without asking Docker", async () => {
    process.env[envVar] = " 127.0.0.1:9 , 127.0.0.1:10 ";
    try {
      const connect = vi.fn(async () => starter({}));
      const kafka = await findKafka({ envVar }, connect);
      expect(kafka).toMatchObject({
        source: "env",
        brokers: ["127.0.0.1:9", "127.0.0.1:10"],
        rejected: [],
      });
      expect(connect).not.toHaveBeenCalled();
    } finally {
      delete process.env[envVar];
    }
  });

  test("a published port that works is used, with nothing rejected", async () => {
    const { logged, options: o } = options({ fallback });
    const kafka = await findKafka(o, async () => starter({}));
    expect(kafka).toMatchObject({
      source: "testcontainers",
      brokers: ["127.0.0.1:59001"],
      rejected: [],
    });
    expect(logged).toEqual([]);
  });

  test("a published port that fails falls back to host networking, and says why", async () => {
    const { logged, options: o } = options({ fallback });
    const kafka = await findKafka(o, async () =>
      starter({
        [ContainerNetworking.publishedPort]:
          "no Kafka response from 127.0.0.1:59001 within 15000 ms",
      }),
    );
    expect(kafka.source).toBe("testcontainers");
    expect(kafka.brokers).toEqual(["127.0.0.1:59002"]);
    expect(kafka.rejected).toEqual([
      "the container failed to start (published port): no Kafka response from 127.0.0.1:59001 within 15000 ms",
    ]);
    expect(logged).toEqual([`kafkaForTests: not using Docker: ${kafka.rejected[0]}`]);
  });

  test("containers that fail both ways lead to the fallback, with both reasons", async () => {
    const { options: o } = options({ fallback });
    const kafka = await findKafka(o, async () =>
      starter({
        [ContainerNetworking.publishedPort]: "port taken",
        [ContainerNetworking.hostNetwork]: "exited",
      }),
    );
    expect(kafka.source).toBe("fallback");
    expect(kafka.brokers).toEqual(["127.0.0.1:1"]);
    expect(kafka.rejected).toEqual([
      "the container failed to start (published port): port taken",
      "the container failed to start (host network): exited",
    ]);
  });

  test("an unusable Docker is rejected with its reason and the fallback runs", async () => {
    const { logged, options: o } = options({ fallback });
    const kafka = await findKafka(o, async () => {
      throw new DockerUnavailable("no Docker engine answers (DOCKER_HOST is unset): no socket");
    });
    expect(kafka.source).toBe("fallback");
    expect(kafka.rejected).toEqual(["no Docker engine answers (DOCKER_HOST is unset): no socket"]);
    expect(logged).toHaveLength(1);
  });

  test("a missing image is rejected like a missing engine", async () => {
    const { options: o } = options({ fallback });
    const reason =
      "image toka/kafka:4.1.1 is not in the engine and pulling it failed (scripts/docker.sh image builds it): denied";
    const kafka = await findKafka(o, async () => {
      throw new DockerUnavailable(reason);
    });
    expect(kafka.rejected).toEqual([reason]);
  });

  test("without a fallback the error lists every reason", async () => {
    const { options: o } = options();
    await expect(
      findKafka(o, async () =>
        starter({
          [ContainerNetworking.publishedPort]: "a",
          [ContainerNetworking.hostNetwork]: "b",
        }),
      ),
    ).rejects.toThrow(
      `No Kafka broker for the tests: ${envVar} is unset and no container started ` +
        "(the container failed to start (published port): a; the container failed to start (host network): b).",
    );
  });

  test("an unexpected error while connecting is not mistaken for a rejection", async () => {
    const { options: o } = options({ fallback });
    await expect(
      findKafka(o, async () => {
        throw new TypeError("bug");
      }),
    ).rejects.toThrow("bug");
  });

  test("a Ryuk failure says how to run without Ryuk", async () => {
    const { options: o } = options({ fallback });
    const previous = process.env.TESTCONTAINERS_RYUK_DISABLED;
    delete process.env.TESTCONTAINERS_RYUK_DISABLED;
    try {
      const kafka = await findKafka(o, async () =>
        starter({
          [ContainerNetworking.publishedPort]: "pull testcontainers/ryuk:0.13.0 failed",
          [ContainerNetworking.hostNetwork]: "x",
        }),
      );
      expect(kafka.rejected[0]).toContain("set TESTCONTAINERS_RYUK_DISABLED=true");
    } finally {
      if (previous !== undefined) process.env.TESTCONTAINERS_RYUK_DISABLED = previous;
    }
  });
});

describe("the broker's container settings", () => {
  test("advertise 127.0.0.1 on the chosen port and a one-node quorum", () => {
    const env = brokerEnvironment(59010, 59011);
    expect(env.KAFKA_LISTENERS).toBe("PLAINTEXT://127.0.0.1:59010,CONTROLLER://127.0.0.1:59011");
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe("PLAINTEXT://127.0.0.1:59010");
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe("1@127.0.0.1:59011");
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
