// Runs a command with a Kafka broker, found or started as for the integration tests
// (KAFKA_BROKERS, else Testcontainers, else the local JVM broker) and stopped after it,
// so that several test steps share one broker. The command gets KAFKA_BROKERS.
//
//   tsx test/setup/with-kafka.ts <command> [args...]
//
// With TOKA_EXPECT_TESTCONTAINERS=1 a broker from anywhere but Testcontainers is an error
// (exit 1, with the reasons the containers were rejected): the step that is there to run
// the tests on a container must not pass on a fallback broker.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { kafkaForTests } from "@toka/testing";
import { startLocalBroker } from "./kafka.js";

const [command, ...args] = process.argv.slice(2);
if (!command) throw new Error("usage: tsx test/setup/with-kafka.ts <command> [args...]");

const expectContainer = process.env.TOKA_EXPECT_TESTCONTAINERS === "1";
const kafka = await kafkaForTests(expectContainer ? {} : { fallback: startLocalBroker }).catch(
  (error: unknown) => {
    if (!expectContainer) throw error;
    console.error(
      `with-kafka: TOKA_EXPECT_TESTCONTAINERS=1 but no container started: ${(error as Error).message}`,
    );
    process.exit(1);
  },
);
if (expectContainer && kafka.source !== "testcontainers") {
  console.error(
    `with-kafka: TOKA_EXPECT_TESTCONTAINERS=1 but the broker came from ${kafka.source}`,
  );
  await kafka.stop();
  process.exit(1);
}
const brokers = kafka.brokers.join(",");
console.error(`with-kafka: Kafka at ${brokers} (${kafka.source})`);
const child = spawn(command, args, {
  stdio: "inherit",
  env: { ...process.env, KAFKA_BROKERS: brokers },
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => {
  child.on("error", () => resolve(127));
  child.on("exit", (exitCode, signal) => resolve(exitCode ?? 128 + constants.signals[signal!]));
});
await kafka.stop();
process.exit(code);
