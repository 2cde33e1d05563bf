// toka example 2: a click-counting microservice. One process embeds the counting
// processor, a view of its table served over HTTP, and a click API; SIGTERM shuts it
// down gracefully. Start a broker first (`npm run kafka start` from the repository root)
// unless KAFKA_BROKERS points to one.
import { consoleLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { startClickService } from "./click-service.js";
import { readEnv } from "./env.js";

/** How long a graceful shutdown may take before the process gives up on it. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

const env = readEnv(process.env);
const logger = consoleLogger(env.LOG_LEVEL);

// Listen for signals before starting, so a SIGTERM during start-up also shuts down
// gracefully. `once`: a second signal gets Node's default handling and ends the process.
const signalled = new Promise<NodeJS.Signals>((resolve) => {
  process.once("SIGTERM", () => resolve("SIGTERM"));
  process.once("SIGINT", () => resolve("SIGINT"));
});

const service = await startClickService({
  brokers: env.KAFKA_BROKERS,
  topic: env.CLICKS_TOPIC,
  group: env.CLICKS_GROUP,
  host: env.HOST,
  port: env.PORT,
  queryPort: env.QUERY_PORT,
  logger,
  ...(env.STATE_DIR ? { storage: levelStorage({ path: env.STATE_DIR }) } : {}),
}).catch((error: unknown) => {
  logger.error("the click service could not start", { error });
  console.error(`is a broker running at ${env.KAFKA_BROKERS.join(",")}? (npm run kafka start)`);
  process.exit(1);
});

console.log(`clicks: POST ${service.clicksUrl}/click/<user>`);
console.log(`counts: GET ${service.queryUrl}/${service.table}/<user>`);
console.log(`health: GET ${service.queryUrl}/health and ${service.queryUrl}/ready`);

const stop = await Promise.race([
  signalled.then((signal) => ({ signal, error: undefined })),
  service.failure.then((error) => ({ signal: undefined, error })),
]);
if (stop.error) logger.error("the click service failed; shutting down", { error: stop.error });
else console.log(`${stop.signal}: shutting down`);

// A shutdown that hangs must not keep an orchestrator waiting forever.
setTimeout(() => {
  console.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms; exiting`);
  process.exit(1);
}, SHUTDOWN_TIMEOUT_MS).unref();
await service.close();
console.log("stopped");
// Exit explicitly: client libraries may keep timers alive after they disconnected.
process.exit(stop.error ? 1 : 0);
