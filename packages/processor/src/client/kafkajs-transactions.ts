import { type Admin, type Kafka, Partitioners, type Producer } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { ClientProducer, ProducedBatch, TopicPartitionOffset } from "./kafka-client.js";
import {
  byPartition,
  isPermanent,
  PartitionCounts,
  type PartitionRecords,
  type SendBatch,
  sendPartition,
} from "./kafkajs-partition-sends.js";

/** What a transaction commits besides its records. */
interface TransactionOffsets {
  readonly groupId: string;
  readonly offsets: readonly TopicPartitionOffset[];
}

/**
 * A transactional producer that trusts no blind retry (KIP-98 transactions over kafkajs).
 *
 * kafkajs's produce retry can skip partitions or write them twice, which would commit a
 * transaction that lacks records or holds them twice. So here:
 * - every partition is sent on its own and must be acknowledged before the transaction
 *   may commit (see `kafkajs-partition-sends.ts`);
 * - on any failure the producer is thrown away. A new one with the same transactional
 *   id (InitProducerId) aborts what the old one left open, or first completes a commit
 *   that the coordinator had already accepted; the group's committed offsets then tell
 *   which of the two happened, and only an aborted transaction is sent again.
 * A producer fenced by a newer one with the same id (another instance owns the
 * partition now) is reported with {@link TokaErrorCode.ProducerFenced}, never re-fenced.
 */
export function kafkajsTransactionalProducer(
  kafka: Kafka,
  transactionalId: string,
  newProducer: () => Producer,
): ClientProducer {
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  /** A commit was sent and failed, and whether it went through is not known yet. */
  let inDoubt = false;
  const counts = new PartitionCounts(kafka);

  const current = async (): Promise<Producer> => {
    if (!producer) {
      const fresh = newProducer();
      // InitProducerId: aborts or completes the transaction a previous producer left open.
      await fresh.connect();
      producer = fresh;
    }
    return producer;
  };
  const discard = async () => {
    const old = producer;
    producer = undefined;
    await old?.disconnect().catch(() => {});
  };
  /** Whether the group's committed offsets already include these (the commit went through). */
  const committed = async ({ groupId, offsets }: TransactionOffsets): Promise<boolean> => {
    if (offsets.length === 0) return false;
    if (!admin) {
      const fresh = kafka.admin();
      await fresh.connect();
      admin = fresh;
    }
    for (const { topic, partition, offset } of offsets) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const found = result?.partitions.find((p) => p.partition === partition)?.offset;
      if (found === undefined || found === "-1" || BigInt(found) < BigInt(offset)) return false;
    }
    return true;
  };

  const attempt = async (
    partitions: readonly PartitionRecords[],
    offsets: TransactionOffsets,
    phase: { committing: boolean },
  ): Promise<ProducedBatch[]> => {
    const tx = await (await current()).transaction();
    const send: SendBatch = (batch) => tx.sendBatch(batch);
    const produced = await Promise.all(partitions.map((p) => sendPartition(send, p)));
    if (offsets.offsets.length > 0) {
      await tx.sendOffsets({
        consumerGroupId: offsets.groupId,
        topics: offsets.offsets.map(({ topic, partition, offset }) => ({
          topic,
          partitions: [{ partition, offset }],
        })),
      });
    }
    phase.committing = true;
    await tx.commit();
    return produced;
  };

  return {
    connect: async () => {
      await current();
    },
    async disconnect() {
      await discard();
      await counts.close();
      await admin?.disconnect().catch(() => {});
      admin = undefined;
    },
    send: () =>
      Promise.reject(
        new TokaError(
          TokaErrorCode.InvalidState,
          "a transactional producer sends only in transactions (sendInTransaction)",
        ),
      ),
    async sendInTransaction(records, offsets) {
      // A commit of an earlier call whose outcome was not known: the caller redoes the
      // same batch, so a commit that went through means this one is done.
      if (inDoubt) {
        await current();
        const done = await committed(offsets);
        inDoubt = false;
        if (done) return [];
      }
      const partitions = await byPartition(records, counts);
      const phase = { committing: false };
      let failure: unknown;
      try {
        return await attempt(partitions, offsets, phase);
      } catch (error) {
        failure = error;
      }
      await discard();
      if (fenced(failure)) {
        throw new TokaError(
          TokaErrorCode.ProducerFenced,
          `the transactional producer "${transactionalId}" was fenced by a newer one: another instance owns the partition now`,
          { cause: failure },
        );
      }
      // Only a commit that was sent can have gone through; a new producer settles it.
      if (phase.committing) {
        inDoubt = true;
        try {
          await current();
          const done = await committed(offsets);
          inDoubt = false;
          if (done) return [];
        } catch {
          // Settled at the next call, before anything is sent again.
        }
      }
      // One attempt per call: the caller waits and keeps its group membership alive
      // between attempts, so a new producer is never started for a partition that moved.
      throw new TokaError(
        TokaErrorCode.ProduceFailed,
        `the transaction of "${transactionalId}" failed and was aborted`,
        { cause: failure, retriable: !isPermanent(failure) },
      );
    },
  };
}

/** Kafka's answer when a newer producer with the same transactional id exists. */
function fenced(error: unknown): boolean {
  for (
    let e = error as { type?: unknown; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.type === "INVALID_PRODUCER_EPOCH" || e.type === "PRODUCER_FENCED") return true;
  }
  return false;
}

/** kafkajs settings of the producer behind {@link kafkajsTransactionalProducer}. */
export function transactionalProducerConfig(transactionalId: string) {
  return {
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    // The transactional protocol allows one in-flight request per producer in kafkajs.
    maxInFlightRequests: 1,
    transactionalId,
  } as const;
}
