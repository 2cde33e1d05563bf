import { describe, expect, test } from "vitest";
import { ClusterMetadata, parseBrokers } from "../src/client/cluster-metadata.js";
import type { MetadataBroker, MetadataTopic } from "../src/client/metadata-request.js";
import { isTokaError } from "../src/index.js";
import {
  closedPort,
  encodeMetadataResponse,
  fakeBroker,
  metadataRequestTopics,
} from "./fake-broker.js";

const settings = { clientId: "cluster-metadata-test", connectTimeoutMs: 2_000 };

/** A fake broker answering Metadata with `brokers` and what `topic` says of each asked topic. */
function metadataBroker(brokers: () => MetadataBroker[], topic: (name: string) => MetadataTopic) {
  return fakeBroker((_apiKey, body) =>
    encodeMetadataResponse({
      brokers: brokers(),
      topics: metadataRequestTopics(body).map(topic),
    }),
  );
}

const ledBy = (name: string, leaders: number[]): MetadataTopic => ({
  topic: name,
  errorCode: 0,
  partitions: leaders.map((leader, partition) => ({ partition, errorCode: 0, leader })),
});

describe("ClusterMetadata", () => {
  test("a refused first bootstrap broker is skipped for the next one", async () => {
    const dead = await closedPort();
    const live = await metadataBroker(
      () => [{ nodeId: 2, host: "127.0.0.1", port: live.port }],
      (name) => ledBy(name, [2, 2]),
    );
    const metadata = new ClusterMetadata(
      [
        { host: "127.0.0.1", port: dead },
        { host: "127.0.0.1", port: live.port },
      ],
      settings,
    );
    const { partitions, leaders } = await metadata.leaders("orders");
    expect(partitions).toBe(2);
    expect([...leaders].map(([p, a]) => [p, a.port])).toEqual([
      [0, live.port],
      [1, live.port],
    ]);
  });

  test("when the broker that answered last dies, the others are asked, the brokers it named included", async () => {
    const first = await metadataBroker(
      () => [
        { nodeId: 1, host: "127.0.0.1", port: first.port },
        { nodeId: 2, host: "127.0.0.1", port: second.port },
      ],
      (name) => ledBy(name, [1]),
    );
    const second = await metadataBroker(
      () => [{ nodeId: 2, host: "127.0.0.1", port: second.port }],
      (name) => ledBy(name, [2]),
    );
    // Only the first broker is a bootstrap broker: the second is known from its answer.
    const metadata = new ClusterMetadata([{ host: "127.0.0.1", port: first.port }], settings);
    expect((await metadata.leaders("t")).leaders.get(0)?.port).toBe(first.port);
    await first.close();
    expect((await metadata.leaders("t")).leaders.get(0)?.port).toBe(second.port);
  });

  test("no broker answering is a retriable TokaError naming each broker, ECONNREFUSED in its cause chain", async () => {
    const ports = [await closedPort(), await closedPort()];
    const metadata = new ClusterMetadata(
      ports.map((port) => ({ host: "127.0.0.1", port })),
      settings,
    );
    const error = await metadata.leaders("t").catch((e: unknown) => e);
    expect(isTokaError(error)).toBe(true);
    expect(error).toMatchObject({ code: "TOKA_KAFKA_FAILED", retriable: true });
    for (const port of ports) expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).cause).toMatchObject({
      name: "BrokerConnectionError",
      broker: `127.0.0.1:${ports[1]}`,
      code: "ECONNREFUSED",
    });
  });

  test("an unknown topic is a retriable error naming the topic", async () => {
    const broker = await metadataBroker(
      () => [{ nodeId: 1, host: "127.0.0.1", port: broker.port }],
      (name) => ({ topic: name, errorCode: 3, partitions: [] }),
    );
    const metadata = new ClusterMetadata([broker], settings);
    await expect(metadata.leaders("missing")).rejects.toMatchObject({
      code: "TOKA_KAFKA_FAILED",
      topic: "missing",
      retriable: true,
    });
  });

  test("parseBrokers reads host:port and refuses an entry without a port", () => {
    expect(parseBrokers(["127.0.0.1:9092", "[::1]:9093"])).toEqual([
      { host: "127.0.0.1", port: 9092 },
      { host: "::1", port: 9093 },
    ]);
    expect(() => parseBrokers(["localhost"])).toThrow(/is not "host:port"/);
  });
});
