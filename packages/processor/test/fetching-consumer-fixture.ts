import { FetchingConsumer } from "../src/client/fetching-consumer.js";
import type {
  ClientAdmin,
  ClientConsumer,
  ConsumerHandlers,
  TopicPartition,
} from "../src/client/kafka-client.js";
import { type Logger, silentLogger } from "../src/logger.js";

export const CONFIRMED_AT = 1_000;

/**
 * A fetching consumer over a membership that keeps its handlers for the test to call,
 * with an admin that knows no offsets unless `admin` says, and no partition leaders.
 */
export async function fetchingConsumer({
  beforeRejoin,
  admin = { connect: async () => {}, disconnect: async () => {} } as unknown as ClientAdmin,
  logger = silentLogger,
}: {
  beforeRejoin?: () => Promise<void>;
  admin?: ClientAdmin;
  logger?: Logger;
} = {}) {
  let membershipHandlers: ConsumerHandlers | undefined;
  const membership = {
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async () => {},
    run: async (handlers: ConsumerHandlers) => {
      membershipHandlers = handlers;
    },
    pause: () => {},
    resume: () => {},
    seek: () => {},
    commit: async () => {},
    memberConfirmedAt: () => CONFIRMED_AT,
  } satisfies ClientConsumer;
  const consumer = new FetchingConsumer(
    {
      groupId: "g",
      copartitioned: true,
      readCommitted: true,
      fromBeginning: true,
      maxBytesPerPartition: 1 << 20,
      concurrency: 1,
      sessionTimeoutMs: 60_000,
    },
    membership,
    admin,
    async () => ({ partitions: 1, leaders: new Map() }),
    logger,
  );
  await consumer.run({
    onAssignment: () => {},
    onBatch: async () => true,
    onCrash: (error) => {
      throw error;
    },
    ...(beforeRejoin ? { beforeRejoin } : {}),
  });
  const assign = (assignment: TopicPartition[]) => membershipHandlers?.onAssignment(assignment);
  return { consumer, assign };
}
