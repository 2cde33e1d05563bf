import { expect, test } from "vitest";
import { ClusterMetadata } from "../src/client/cluster-metadata.js";
import type { MetadataTopic } from "../src/client/metadata-request.js";
import { awaitTopicLeaders } from "../src/client/topic-readiness.js";
import { encodeMetadataResponse, fakeBroker, metadataRequestTopics } from "./fake-broker.js";

const settings = { clientId: "topic-readiness-test", connectTimeoutMs: 2_000 };

/** Two fake brokers of one cluster; each answers for a topic what its `view` says. */
async function twoBrokers(
  views: [(name: string) => MetadataTopic, (name: string) => MetadataTopic],
) {
  const brokers: { host: string; port: number }[] = [];
  for (const view of views) {
    brokers.push(
      await fakeBroker((_apiKey, body) =>
        encodeMetadataResponse({
          brokers: brokers.map((b, i) => ({ nodeId: i + 1, host: b.host, port: b.port })),
          topics: metadataRequestTopics(body).map(view),
        }),
      ),
    );
  }
  return new ClusterMetadata([brokers[0]!], settings);
}

const led = (name: string, partitions: number): MetadataTopic => ({
  topic: name,
  errorCode: 0,
  partitions: Array.from({ length: partitions }, (_, partition) => ({
    partition,
    errorCode: 0,
    leader: 1,
  })),
});

test("waits until the broker that learns of the topic last knows every partition's leader", async () => {
  let asked = 0;
  const metadata = await twoBrokers([
    (name) => led(name, 3),
    (name) => (++asked < 3 ? { topic: name, errorCode: 3, partitions: [] } : led(name, 3)),
  ]);
  await awaitTopicLeaders(metadata, [{ topic: "t", partitions: 3 }], { timeoutMs: 5_000 });
  expect(asked).toBe(3);
});

test("a partition still without a leader on one broker ends in TOKA_TIMEOUT naming the broker, topic and partition", async () => {
  const metadata = await twoBrokers([
    (name) => led(name, 2),
    (name) => ({
      topic: name,
      errorCode: 0,
      partitions: [
        { partition: 0, errorCode: 0, leader: 1 },
        { partition: 1, errorCode: 5, leader: -1 },
      ],
    }),
  ]);
  const error = await awaitTopicLeaders(metadata, [{ topic: "t" }], { timeoutMs: 300 }).catch(
    (e: unknown) => e,
  );
  expect(error).toMatchObject({
    code: "TOKA_TIMEOUT",
    retriable: false,
    topic: "t",
    partition: 1,
  });
  expect((error as Error).message).toMatch(
    /^topic\(s\) t did not have a leader for every partition on every broker within 0.3 s: broker 2 \(127\.0\.0\.1:\d+\) knows no leader of t partition\(s\) 1 \(LEADER_NOT_AVAILABLE \(5\)\)/,
  );
});

test("a topic one broker does not know at all is named with that broker", async () => {
  const metadata = await twoBrokers([
    (name) => led(name, 1),
    (name) => ({ topic: name, errorCode: 3, partitions: [] }),
  ]);
  await expect(
    awaitTopicLeaders(metadata, [{ topic: "t", partitions: 1 }], { timeoutMs: 200 }),
  ).rejects.toThrow(
    /broker 2 \(127\.0\.0\.1:\d+\) does not know topic t \(UNKNOWN_TOPIC_OR_PARTITION \(3\)\)/,
  );
});
