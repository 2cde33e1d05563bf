export {
  DEFAULT_KAFKA_IMAGE,
  type KafkaForTests,
  type KafkaForTestsOptions,
  kafkaForTests,
} from "./kafka-brokers.js";
