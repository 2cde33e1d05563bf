import { rootMessage, TokaError, TokaErrorCode } from "../errors.js";
import { retrying } from "../retry.js";
import { type BrokerAddress, REQUEST_TIMEOUT_MS } from "./broker-connection.js";
import type { ClusterMetadata } from "./cluster-metadata.js";
import { groupByTopic } from "./group-by-topic.js";
import type { TopicPartitionOffset } from "./kafka-client.js";
import {
  describeKafkaError,
  isKafkaErrorKind,
  KafkaErrorKind,
  kafkaErrorCode,
} from "./kafka-error-codes.js";
import { authorizationError } from "./security-errors.js";

/**
 * Commits offsets for a group without joining it (generation -1, no member), as the
 * Java consumer does for manually assigned partitions: FindCoordinator (v1) to any
 * broker that answers, then OffsetCommit (v2) to the coordinator. kafkajs's
 * `admin.setOffsets` joins the group with a consumer instead, which waits out the
 * broker's initial rebalance delay (3 s by default) every time.
 */
const FIND_COORDINATOR = { key: 10, version: 1 } as const;
const OFFSET_COMMIT = { key: 8, version: 2 } as const;
/**
 * How long a commit is retried without success: a coordinator's broker dying moves the
 * group to another one once the controller fences it (`broker.session.timeout.ms`, 9 s
 * by default) and the new coordinator loaded the group.
 */
const COMMIT_TIMEOUT_MS = 60_000;

/**
 * @throws TokaError `TOKA_KAFKA_FAILED` naming the group and the first offset's topic
 * and partition, when the group has running members or no coordinator took the commit
 * within COMMIT_TIMEOUT_MS (then with the last failure, e.g. a connection refused by a
 * named broker, as its `cause`).
 */
export function commitGroupOffsets(
  metadata: ClusterMetadata,
  groupId: string,
  offsets: readonly TopicPartitionOffset[],
): Promise<void> {
  const first = offsets[0];
  // A moved coordinator and a broken connection (a broker dying) are retried with a
  // fresh coordinator look-up.
  return retrying(() => commitOnce(metadata, groupId, offsets), {
    timeoutMs: COMMIT_TIMEOUT_MS,
    initialDelayMs: 250,
    maxDelayMs: 2_000,
    exhausted: (error) =>
      new TokaError(
        TokaErrorCode.KafkaFailed,
        `committing the group's offsets did not succeed within ${COMMIT_TIMEOUT_MS / 1000} s; last failure: ${rootMessage(error)}`,
        {
          group: groupId,
          topic: first?.topic,
          partition: first?.partition,
          offset: first?.offset,
          cause: error,
          retriable: true,
        },
      ),
  });
}

/** One attempt: FindCoordinator, then OffsetCommit to the coordinator. */
async function commitOnce(
  metadata: ClusterMetadata,
  groupId: string,
  offsets: readonly TopicPartitionOffset[],
): Promise<void> {
  const coordinator = await findCoordinator(metadata, groupId);
  const errorCode =
    typeof coordinator === "number"
      ? coordinator
      : await offsetCommit(metadata, coordinator, groupId, offsets);
  if (errorCode === 0) return;
  const denied = authorizationError(errorCode, {
    operation: "Read",
    group: groupId,
    topic: offsets[0]?.topic,
  });
  if (denied) throw denied;
  throw new TokaError(
    TokaErrorCode.KafkaFailed,
    isKafkaErrorKind(errorCode, KafkaErrorKind.MembershipLost)
      ? `the group has running members, which own its offsets (${describeKafkaError(errorCode)}); stop them before committing`
      : `committing the group's offsets failed with ${describeKafkaError(errorCode)}`,
    {
      group: groupId,
      // As the Java consumer's commit: a coordinator that is loading, moved or not there
      // yet, or a request that timed out while a broker failed over, is asked again. Not
      // every retriable code: an unknown topic fails the commit at once.
      retriable:
        isKafkaErrorKind(errorCode, KafkaErrorKind.CoordinatorMoved) ||
        errorCode === kafkaErrorCode("REQUEST_TIMED_OUT"),
    },
  );
}

/** OffsetCommit; resolves with the first error code of the answer (0 when all committed). */
async function offsetCommit(
  metadata: ClusterMetadata,
  coordinator: BrokerAddress,
  groupId: string,
  offsets: readonly TopicPartitionOffset[],
): Promise<number> {
  const answer = await metadata.request(
    coordinator,
    OFFSET_COMMIT.key,
    OFFSET_COMMIT.version,
    encodeOffsetCommit(groupId, offsets),
    REQUEST_TIMEOUT_MS,
  );
  return firstOffsetCommitError(answer);
}

/**
 * Asks any broker for the group's coordinator.
 * @throws TokaError `TOKA_AUTHORIZATION_FAILED` when the principal may not describe the
 * group (GROUP_AUTHORIZATION_FAILED), which kafkajs reports only as "Failed to find
 * group coordinator".
 */
export async function checkGroupDescribable(
  metadata: ClusterMetadata,
  groupId: string,
): Promise<void> {
  const coordinator = await findCoordinator(metadata, groupId);
  if (typeof coordinator !== "number") return;
  const denied = authorizationError(coordinator, { operation: "Describe", group: groupId });
  if (denied) throw denied;
}

/** The coordinator's address, or the error code of the answer. */
async function findCoordinator(
  metadata: ClusterMetadata,
  groupId: string,
): Promise<BrokerAddress | number> {
  const key = Buffer.from(groupId);
  const body = Buffer.alloc(2 + key.byteLength + 1);
  body.writeInt16BE(key.byteLength, 0);
  key.copy(body, 2);
  body.writeInt8(0, 2 + key.byteLength); // key type: a group
  const { answer } = await metadata.requestAny(
    FIND_COORDINATOR.key,
    FIND_COORDINATOR.version,
    body,
  );
  let at = 4; // throttle time
  const errorCode = answer.readInt16BE(at);
  at += 2;
  const messageLength = answer.readInt16BE(at);
  at += 2 + Math.max(0, messageLength);
  if (errorCode !== 0) return errorCode;
  at += 4; // node ID
  const hostLength = answer.readInt16BE(at);
  const host = answer.toString("utf8", at + 2, at + 2 + hostLength);
  const port = answer.readInt32BE(at + 2 + hostLength);
  return metadata.address(host, port);
}

function encodeOffsetCommit(groupId: string, offsets: readonly TopicPartitionOffset[]): Buffer {
  const byTopic = groupByTopic(offsets);
  const parts: Buffer[] = [string(groupId), int32(-1), string(""), int64(-1n), int32(byTopic.size)];
  for (const [topic, list] of byTopic) {
    parts.push(string(topic), int32(list.length));
    for (const o of list) {
      parts.push(int32(o.partition), int64(BigInt(o.offset)), int16(-1)); // metadata: null
    }
  }
  return Buffer.concat(parts);
}

function firstOffsetCommitError(answer: Buffer): number {
  let at = 0;
  const topics = answer.readInt32BE(at);
  at += 4;
  for (let t = 0; t < topics; t++) {
    at += 2 + answer.readInt16BE(at);
    const partitions = answer.readInt32BE(at);
    at += 4;
    for (let p = 0; p < partitions; p++, at += 6) {
      const errorCode = answer.readInt16BE(at + 4);
      if (errorCode !== 0) return errorCode;
    }
  }
  return 0;
}

function string(value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([int16(bytes.byteLength), bytes]);
}
function int16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeInt16BE(value);
  return out;
}
function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}
function int64(value: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigInt64BE(value);
  return out;
}
