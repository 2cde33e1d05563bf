import { type Admin, type Kafka, Partitioners, type Producer } from "kafkajs";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { ClientProducer, ProducedBatch, TransactionOffsets } from "./kafka-client.js";
import { hasKafkaErrorKind, KafkaErrorKind } from "./kafka-error-codes.js";
import {
  byPartition,
  isPermanent,
  PartitionCounts,
  type PartitionRecords,
  type SendBatch,
  sendPartition,
} from "./kafkajs-partition-sends.js";

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
 *   which of the two happened, and only an aborted transaction is sent again;
 * - before that new producer is started, the group's committed offsets must still be
 *   where the batch started (or where it ends, after a commit that went through): when
 *   another instance moved them on, the partition is its own, and a new producer here
 *   would fence it and commit an older position over its work.
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
  /** The batch whose commit was sent and failed: whether it went through is not known yet. */
  let doubtful: TransactionOffsets | undefined;
  /** A transaction was tried: a producer missing since then was discarded after a failure. */
  let attempted = false;
  const counts = new PartitionCounts(kafka);

  const current = async (): Promise<Producer> => {
    if (!producer) {
      const fresh = newProducer();
      try {
        await fresh.connect();
        // kafkajs's connect asks for no transactional producer id; its first transaction
        // does. That InitProducerId is what fences the previous producer of this id: it
        // aborts the transaction that one left open, or waits until a commit it prepared
        // is complete. Done here, before the partition's tables are restored, so that they
        // are restored to the end of that transaction, and never after a zombie's last
        // commit (an empty transaction sends nothing else).
        await (await fresh.transaction()).abort();
      } catch (error) {
        // Its sockets would keep the process alive; the caller may try again.
        await fresh.disconnect().catch(() => {});
        throw error;
      }
      producer = fresh;
    }
    return producer;
  };
  const discard = async () => {
    const old = producer;
    producer = undefined;
    await old?.disconnect().catch(() => {});
  };
  /** The group's committed offset of each input partition of the transaction. */
  const groupPositions = async ({ groupId, offsets }: TransactionOffsets) => {
    if (!admin) {
      const fresh = kafka.admin();
      await fresh.connect();
      admin = fresh;
    }
    const positions = new Map<string, bigint | undefined>();
    for (const topic of new Set(offsets.map((o) => o.topic))) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const p of result?.partitions ?? []) {
        positions.set(`${topic}/${p.partition}`, p.offset === "-1" ? undefined : BigInt(p.offset));
      }
    }
    return positions;
  };
  /**
   * Where the group's offsets stand for a batch after a failed attempt: `done` when they
   * end exactly where the batch whose commit was in doubt ends (that commit went
   * through, and this is the same batch again), `moved` when anything committed past
   * where this batch starts (another instance, or an in-doubt commit of another batch:
   * either way this instance's local state is behind the table).
   */
  const settle = async (offsets: TransactionOffsets): Promise<"done" | "moved" | "open"> => {
    if (offsets.offsets.length === 0) return "open";
    const positions = await groupPositions(offsets);
    const at = (o: { topic: string; partition: number }) =>
      positions.get(`${o.topic}/${o.partition}`);
    const sameBatch =
      doubtful !== undefined &&
      sameOffsets(doubtful.offsets, offsets.offsets) &&
      sameOffsets(doubtful.from ?? [], offsets.from ?? []);
    if (sameBatch && offsets.offsets.every((o) => at(o) === BigInt(o.offset))) return "done";
    const moved = (offsets.from ?? []).some((o) => {
      const committed = at(o);
      return committed !== undefined && committed > BigInt(o.offset);
    });
    return moved ? "moved" : "open";
  };
  const behind = (offsets: TransactionOffsets) =>
    fencedError(
      new Error(
        `group ${offsets.groupId} committed offsets of ${offsets.offsets.map((o) => `${o.topic}/${o.partition}`).join(", ")} past where this batch starts: another instance, or an earlier commit of this one whose outcome was unknown, wrote the partition; its local state must be restored again`,
      ),
    );
  const fencedError = (cause: unknown) =>
    new TokaError(
      TokaErrorCode.ProducerFenced,
      `the transactional producer "${transactionalId}" was fenced by a newer one: another instance owns the partition now`,
      { cause },
    );

  const attempt = async (
    partitions: readonly PartitionRecords[],
    offsets: TransactionOffsets,
    phase: { committing: boolean },
  ): Promise<ProducedBatch[]> => {
    const tx = await (await current()).transaction();
    const send: SendBatch = (batch) => tx.sendBatch(batch);
    // Every send is over before a failure is thrown: the producer is then disconnected,
    // and a send still retrying would connect it again, for nobody to close.
    const sent = await Promise.allSettled(partitions.map((p) => sendPartition(send, p)));
    const failed = sent.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    const produced = sent.map((result) => (result as PromiseFulfilledResult<ProducedBatch>).value);
    if (offsets.offsets.length > 0) {
      await tx.sendOffsets({
        consumerGroupId: offsets.groupId,
        topics: offsets.offsets.map(({ topic, partition, offset, metadata }) => {
          // kafkajs's type leaves it out, but its TxnOffsetCommit sends each partition's
          // metadata.
          const entry = { partition, offset, metadata: metadata ?? null };
          return { topic, partitions: [entry] };
        }),
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
      if (!producer && attempted) {
        // The previous attempt failed and its producer was thrown away. Before a new
        // one (InitProducerId) fences whoever uses this transactional id now: a partition
        // that moved meanwhile is its new owner's, and a commit whose outcome was unknown
        // may have gone through, so that this batch is done.
        const before = await settle(offsets);
        if (before === "moved") throw behind(offsets);
        if (before === "open") {
          await current();
          // InitProducerId completes a commit the coordinator had accepted.
          if (doubtful) {
            const after = await settle(offsets);
            if (after === "moved") {
              doubtful = undefined;
              throw behind(offsets);
            }
            if (after === "open") doubtful = undefined;
          }
        }
        if (doubtful) {
          doubtful = undefined;
          return [];
        }
      }
      attempted = true;
      const partitions = await byPartition(records, counts);
      const phase = { committing: false };
      let failure: unknown;
      try {
        return await attempt(partitions, offsets, phase);
      } catch (error) {
        failure = error;
      }
      await discard();
      if (fenced(failure)) throw fencedError(failure);
      // Only a commit that was sent can have gone through: settled at the next call.
      doubtful = phase.committing ? offsets : undefined;
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

function sameOffsets(
  a: readonly { topic: string; partition: number; offset: string }[],
  b: readonly { topic: string; partition: number; offset: string }[],
): boolean {
  return (
    a.length === b.length &&
    a.every(
      (o, i) =>
        o.topic === b[i]!.topic && o.partition === b[i]!.partition && o.offset === b[i]!.offset,
    )
  );
}

/** Kafka's answer when a newer producer with the same transactional id exists. */
function fenced(error: unknown): boolean {
  return hasKafkaErrorKind(error, KafkaErrorKind.ProducerFenced);
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
