// toka example 3: a chat service as in Goka's messaging example. One process runs the
// five groups (blocker, translator, filter, collector, spam detector), the query service
// with inboxes, and the chat API. Start a broker first (`npm run kafka start` from the
// repository root) unless KAFKA_BROKERS points to one; `npm run example 3-messaging
// loadgen` sends traffic.
import { consoleLogger } from "@toka/processor";
import { readEnv } from "./env.js";
import { startMessagingService } from "./messaging-service.js";
import { messagingNames } from "./names.js";

/** Translations the service starts with; add more with POST /translate/<word>. */
const PIRATE = { hello: "ahoy", you: "ye", friend: "matey", yes: "aye", my: "me" };
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

const service = await startMessagingService({
  brokers: env.KAFKA_BROKERS,
  names: messagingNames(env.NAME_SUFFIX),
  inboxSize: env.INBOX_SIZE,
  spamRule: { minMessages: env.SPAM_MIN_MESSAGES, sentRatio: env.SPAM_SENT_RATIO },
  translations: PIRATE,
  host: env.HOST,
  port: env.PORT,
  queryPort: env.QUERY_PORT,
  logger,
}).catch((error: unknown) => {
  logger.error("the messaging service could not start", { error });
  console.error(`is a broker running at ${env.KAFKA_BROKERS.join(",")}? (npm run kafka start)`);
  process.exit(1);
});

const { apiUrl, queryUrl } = service;
console.log(`send:    POST ${apiUrl}/send/<from>  {"to":"<user>","content":"hello my friend"}`);
console.log(`block:   POST ${apiUrl}/block/<user> and ${apiUrl}/unblock/<user>`);
console.log(`words:   POST ${apiUrl}/translate/<word>  {"translation":"..."}`);
console.log(`inbox:   GET ${queryUrl}/inbox/<user>`);
console.log(`blocked: GET ${queryUrl}/blocked/<user>`);
console.log(`health:  GET ${queryUrl}/health and ${queryUrl}/ready`);

const stop = await Promise.race([
  signalled.then((signal) => ({ signal, error: undefined })),
  service.failure.then((error) => ({ signal: undefined, error })),
]);
if (stop.error) logger.error("the messaging service failed; shutting down", { error: stop.error });
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
