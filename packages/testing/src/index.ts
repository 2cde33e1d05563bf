export {
  DEFAULT_KAFKA_IMAGE,
  KAFKA_VERSION,
  type KafkaForTests,
  type KafkaForTestsOptions,
  kafkaForTests,
  LOCAL_KAFKA_IMAGE,
} from "./kafka-brokers.js";
export { OutputQueue } from "./output-queue.js";
export { DEFAULT_START_TIME, TestClock } from "./test-clock.js";
export {
  TESTER_DEFAULTS,
  Tester,
  type TesterCloseable,
  type TesterComponent,
  type TesterEmitOptions,
  type TesterInput,
  type TesterOptions,
  type TesterProcessorOptions,
  type TesterReadOptions,
  TesterStatus,
} from "./tester.js";
export type { TesterMessage, TesterPosition } from "./tester-message.js";
