import type { Consumer, ConsumerConfig, Kafka } from "kafkajs";
import type { ConsumerOptions } from "../src/client/kafka-client.js";

/** Options of a plain (not co-partitioned) consumer of group "g", 10 s sessions. */
export const CONSUMER_OPTIONS: ConsumerOptions = {
  groupId: "g",
  copartitioned: false,
  readCommitted: true,
  fromBeginning: true,
  maxBytesPerPartition: 1 << 20,
  concurrency: 1,
  sessionTimeoutMs: 10_000,
};

/**
 * A kafkajs consumer whose events the test emits, counting its disconnects and keeping
 * the offset commits it was asked to send.
 */
export function fakeKafkajsConsumer() {
  const listeners = new Map<string, ((event: { payload: unknown }) => void)[]>();
  const state = {
    disconnects: 0,
    config: undefined as ConsumerConfig | undefined,
    commits: [] as { topic: string; partition: number; offset: string }[][],
  };
  const events = { STOP: "stop", REBALANCING: "rebalancing", HEARTBEAT: "heartbeat" };
  const consumer = {
    events: {
      ...events,
      COMMIT_OFFSETS: "commit",
      GROUP_JOIN: "group-join",
      END_BATCH_PROCESS: "end-batch",
      CRASH: "crash",
    },
    on: (name: string, listener: (event: { payload: unknown }) => void) => {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
      return () => {};
    },
    connect: async () => {},
    disconnect: async () => {
      state.disconnects += 1;
    },
    subscribe: async () => {},
    commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) => {
      state.commits.push(
        offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      );
      emit("commit", {
        topics: offsets.map(({ topic, partition }) => ({ topic, partitions: [{ partition }] })),
      });
    },
    run: async () => {},
  } as unknown as Consumer;
  const kafka = {
    consumer: (config: ConsumerConfig) => {
      state.config = config;
      return consumer;
    },
  } as unknown as Kafka;
  const emit = (name: string, payload: unknown) => {
    for (const listener of listeners.get(name) ?? []) listener({ payload });
  };
  return { kafka, state, emit };
}
