// Runs a command with a Kafka broker, found or started as for the integration tests
// (KAFKA_BROKERS, else Testcontainers, else the local JVM broker) and stopped after it,
// so that several test steps share one broker. The command gets KAFKA_BROKERS.
//
//   tsx test/setup/with-kafka.ts <command> [args...]
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { kafkaForTests } from "@toka/testing";
import { startLocalBroker } from "./kafka.js";

const [command, ...args] = process.argv.slice(2);
if (!command) throw new Error("usage: tsx test/setup/with-kafka.ts <command> [args...]");

const kafka = await kafkaForTests({ fallback: startLocalBroker });
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
