import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { kafkaForTests } from "@toka/testing";
import type { TestProject } from "vitest/node";

const run = promisify(execFile);
const kafkaScript = fileURLToPath(new URL("../../scripts/kafka.sh", import.meta.url));

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string[];
  }
}

/**
 * One broker for all integration tests: KAFKA_BROKERS, else Testcontainers, else the
 * local JVM broker of scripts/kafka.sh (stopped afterwards only if this run started it).
 */
export default async function setup(project: TestProject) {
  const kafka = await kafkaForTests({ fallback: startLocalBroker });
  project.provide("kafkaBrokers", kafka.brokers);
  // Child processes spawned by tests (crash tests) read the same variable.
  process.env.KAFKA_BROKERS = kafka.brokers.join(",");
  console.log(`integration tests use Kafka at ${kafka.brokers.join(",")} (${kafka.source})`);
  return () => kafka.stop();
}

/** The local JVM broker of scripts/kafka.sh; `stop` stops it only if this call started it. */
export async function startLocalBroker() {
  const wasRunning = await run("bash", [kafkaScript, "status"]).then(
    () => true,
    () => false,
  );
  const { stdout } = await run("bash", [kafkaScript, "start"], { timeout: 600_000 });
  const brokers = stdout.trim().split("\n").at(-1)!.split(",");
  return {
    brokers,
    stop: async () => {
      if (!wasRunning) await run("bash", [kafkaScript, "stop"]);
    },
  };
}
