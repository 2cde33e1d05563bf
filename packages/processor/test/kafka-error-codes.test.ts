import { createRequire } from "node:module";
import { describe, expect, test } from "vitest";
import { ClusterMetadata } from "../src/client/cluster-metadata.js";
import { commitGroupOffsets } from "../src/client/group-offsets.js";
import {
  describeKafkaError,
  isRetriableKafkaError,
  KafkaErrorKind,
  kafkaError,
  kafkaErrorNamed,
  kafkaErrorNames,
} from "../src/client/kafka-error-codes.js";
import { encodeMetadataResponse, fakeBroker } from "./fake-broker.js";

const settings = { clientId: "kafka-error-codes-test", connectTimeoutMs: 2_000 };

describe("Kafka error codes", () => {
  test("messages name a code and its Kafka name", () => {
    expect(describeKafkaError(6)).toBe("NOT_LEADER_OR_FOLLOWER (6)");
    expect(describeKafkaError(9999)).toBe("Kafka error code 9999");
  });

  test("CORRUPT_MESSAGE is not retried, although Kafka and kafkajs call it retriable", () => {
    expect(kafkaError(2)).toMatchObject({ retriable: false, kind: KafkaErrorKind.Refused });
    expect(isRetriableKafkaError(19)).toBe(true); // NOT_ENOUGH_REPLICAS: passes
    expect(isRetriableKafkaError(9999)).toBe(false);
  });

  test("kafkajs reports the codes toka matches by name under the same name", () => {
    // kafkajs's own table: its `type` is what toka looks up for producer and consumer errors.
    const { createErrorFromCode } = createRequire(import.meta.url)(
      "kafkajs/src/protocol/error.js",
    ) as { createErrorFromCode(code: number): { type: string } };
    const byName = kafkaErrorNames(
      KafkaErrorKind.Authorization,
      KafkaErrorKind.MembershipLost,
      KafkaErrorKind.ProducerState,
      KafkaErrorKind.ProducerFenced,
      KafkaErrorKind.Refused,
    );
    for (const name of byName) {
      const { code } = kafkaErrorNamed(name)!;
      // kafkajs 2.2.4 predates PRODUCER_FENCED (90): the row only names the code.
      const expected = name === "PRODUCER_FENCED" ? "KAFKAJS_UNKNOWN_ERROR_CODE" : name;
      expect(createErrorFromCode(code).type, `code ${code}`).toBe(expected);
    }
  });

  test("a topic unknown to the metadata is retriable, an invalid topic name is not", async () => {
    let errorCode = 3;
    const broker = await fakeBroker(() =>
      encodeMetadataResponse({
        brokers: [{ nodeId: 1, host: "127.0.0.1", port: broker.port }],
        topics: [{ topic: "orders", errorCode, partitions: [] }],
      }),
    );
    const metadata = new ClusterMetadata([broker], settings);
    await expect(metadata.leaders("orders")).rejects.toMatchObject({
      message: expect.stringContaining(
        "UNKNOWN_TOPIC_OR_PARTITION (3): the topic does not exist, or was created a moment ago",
      ),
      retriable: true,
    });
    errorCode = 17;
    await expect(metadata.leaders("orders")).rejects.toMatchObject({
      message: expect.stringContaining("INVALID_TOPIC_EXCEPTION (17)"),
      retriable: false,
    });
    metadata.close();
  });

  test("a commit retries a moved coordinator but not an unknown topic, retriable elsewhere", async () => {
    const answers = [16, 0, 3];
    const broker = await fakeBroker((apiKey) =>
      apiKey === 10 ? findCoordinatorAnswer(broker.port) : offsetCommitAnswer(answers.shift()!),
    );
    const metadata = new ClusterMetadata([broker], settings);
    const offsets = [{ topic: "orders", partition: 0, offset: "5" }];
    // NOT_COORDINATOR (16), then committed.
    await commitGroupOffsets(metadata, "bank", offsets);
    // UNKNOWN_TOPIC_OR_PARTITION (3): at once, as the Java consumer's commit.
    const started = Date.now();
    await expect(commitGroupOffsets(metadata, "bank", offsets)).rejects.toMatchObject({
      message:
        "committing the group's offsets failed with UNKNOWN_TOPIC_OR_PARTITION (3) [group=bank]",
      retriable: false,
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(answers).toEqual([]);
    metadata.close();
  });
});

/** FindCoordinator v1 answer: throttle, no error, no message, node 1 at 127.0.0.1:`port`. */
function findCoordinatorAnswer(port: number): Buffer {
  const host = Buffer.from("127.0.0.1");
  const out = Buffer.alloc(4 + 2 + 2 + 4 + 2 + host.byteLength + 4);
  let at = 4 + 2; // throttle time, error code 0
  at = out.writeInt16BE(-1, at); // error message: null
  at = out.writeInt32BE(1, at);
  at = out.writeInt16BE(host.byteLength, at);
  at += host.copy(out, at);
  out.writeInt32BE(port, at);
  return out;
}

/** OffsetCommit v2 answer: topic `orders`, partition 0 with `errorCode`. */
function offsetCommitAnswer(errorCode: number): Buffer {
  const topic = Buffer.from("orders");
  const out = Buffer.alloc(4 + 2 + topic.byteLength + 4 + 4 + 2);
  let at = out.writeInt32BE(1, 0);
  at = out.writeInt16BE(topic.byteLength, at);
  at += topic.copy(out, at);
  at = out.writeInt32BE(1, at);
  at = out.writeInt32BE(0, at);
  out.writeInt16BE(errorCode, at);
  return out;
}
