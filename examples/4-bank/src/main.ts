// toka example 4: an event-sourced bank. Accounts take protobuf commands over HTTP,
// append events to account-events (the source of truth) and keep their state; a balance
// projection is served over HTTP and can be rebuilt from the log without downtime.
// Start a broker first (`npm run kafka start` from the repository root) unless
// KAFKA_BROKERS points to one.
import { consoleLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { startBankService } from "./bank-service.js";

const env = process.env;
const brokers = (env.KAFKA_BROKERS ?? "127.0.0.1:19092").split(",");
const logger = consoleLogger((env.LOG_LEVEL as "warn" | undefined) ?? "warn");

const signalled = new Promise<NodeJS.Signals>((resolve) => {
  process.once("SIGTERM", () => resolve("SIGTERM"));
  process.once("SIGINT", () => resolve("SIGINT"));
});

const service = await startBankService({
  brokers,
  name: env.BANK_NAME ?? "account",
  partitions: Number(env.PARTITIONS ?? 4),
  host: env.HOST ?? "127.0.0.1",
  port: Number(env.PORT ?? 8080),
  queryPort: Number(env.QUERY_PORT ?? 8081),
  logger,
  ...(env.SESSION_TIMEOUT_MS ? { sessionTimeoutMs: Number(env.SESSION_TIMEOUT_MS) } : {}),
  ...(env.STATE_DIR ? { storage: levelStorage({ path: env.STATE_DIR }) } : {}),
}).catch((error: unknown) => {
  logger.error("the bank could not start", { error });
  console.error(`is a broker running at ${brokers.join(",")}? (npm run kafka start)`);
  process.exit(1);
});

// One JSON line the tests (and you) can read: where to send commands and read balances.
console.log(
  JSON.stringify({ event: "ready", commands: service.commandsUrl, query: service.queryUrl }),
);
const stop = await Promise.race([
  signalled.then((signal) => ({ signal, error: undefined })),
  service.failure.then((error) => ({ signal: undefined, error })),
]);
if (stop.error) logger.error("the bank failed; shutting down", { error: stop.error });
setTimeout(() => process.exit(1), 30_000).unref();
await service.close();
process.exit(stop.error ? 1 : 0);
