/**
 * `@toka/processor/kafka`: toka's Kafka layer, for whoever implements or shares a
 * client rather than writing processors — the client boundary (`KafkaClient` and its
 * parts), its kafkajs implementation, the readiness and access checks, the
 * Java-compatible partitioner and the table of Kafka error codes. The root export,
 * `@toka/processor`, is the user API.
 */
export { checkClusterAccess } from "./cluster-access.js";
export { readLogWithConsumer } from "./consumer-log-reader.js";
export { defaultPartition } from "./default-partitioner.js";
export type {
  ClientAdmin,
  ClientConsumer,
  ClientProducer,
  ConsumerHandlers,
  ConsumerOptions,
  GroupDescription,
  GroupMemberDescription,
  IncomingBatch,
  IncomingRecord,
  KafkaClient,
  LogBatch,
  LogReadRequest,
  LogRecord,
  OutgoingRecord,
  PartitionOwners,
  PartitionWatermarks,
  ProducedBatch,
  ProducerOptions,
  SendOptions,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
  TransactionOffsets,
} from "./kafka-client.js";
export {
  describeKafkaError,
  isRetriableKafkaError,
  type KafkaErrorInfo,
  KafkaErrorKind,
  type KafkaErrorName,
  kafkaError,
} from "./kafka-error-codes.js";
export {
  type KafkajsClient,
  type KafkajsClientOptions,
  kafkajsClient,
} from "./kafkajs-client.js";
export { kafkajsSecurity } from "./kafkajs-security.js";
export {
  decodeAssignmentData,
  decodeSubscriptionData,
  encodeAssignmentData,
  encodeSubscriptionData,
  type MemberSubscriptionData,
} from "./member-user-data.js";
export { standbyAssignment } from "./standby-assignment.js";
export { type StoredState, stickyAssignment } from "./sticky-assignment.js";
export {
  type ExpectedTopic,
  TOPIC_LEADERS_TIMEOUT_MS,
  waitForTopicLeaders,
} from "./topic-readiness.js";
