// toka example 5: windowed aggregates of sensor readings. One process runs the statistics
// group (one-minute min/avg/max, a five-minute hopping average, sessions of activity),
// the silence group (an alert when a sensor stays silent), a results group that prints
// every final result and alert, and a load generator sending readings of ten sensors on a
// sensor clock 50 times faster than the real one; SIGTERM shuts it down gracefully. Start
// a broker first (`npm run kafka start` from the repository root) unless KAFKA_BROKERS
// points to one.
import { consoleLogger, deadLetterTopic, type TokaError } from "@toka/processor";
import { readEnv } from "./env.js";
import { generateReadings } from "./load-generator.js";
import { sensorNames } from "./names.js";
import { describeResult } from "./sensor-results.js";
import { startSensorService } from "./sensor-service.js";

/** How long a graceful shutdown may take before the process gives up on it. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

const env = readEnv(process.env);
const logger = consoleLogger(env.LOG_LEVEL);
const names = sensorNames(env.NAME_SUFFIX);

// Listen for signals before starting, so a SIGTERM during start-up also shuts down
// gracefully. `once`: a second signal gets Node's default handling and ends the process.
const signalled = new Promise<NodeJS.Signals>((resolve) => {
  process.once("SIGTERM", () => resolve("SIGTERM"));
  process.once("SIGINT", () => resolve("SIGINT"));
});

const service = await startSensorService({
  brokers: env.KAFKA_BROKERS,
  names,
  logger,
  onResult: (result) => console.log(describeResult(result)),
  onLate: (error) => console.log(describeLate(error)),
}).catch((error: unknown) => {
  logger.error("the sensor service could not start", { error });
  console.error(`is a broker running at ${env.KAFKA_BROKERS.join(",")}? (npm run kafka start)`);
  process.exit(1);
});

// The group's stream time survives restarts, and readings from before it would all be
// late: a second run's sensor clock goes on from where the first one's stopped.
const startAt = Math.max(Date.now(), (service.resumesAt ?? 0) + env.STEP_MS);
const sensors = Array.from({ length: env.SENSORS }, (_, i) => `sensor-${i + 1}`);
const pace = env.INTERVAL_MS > 0 ? `${env.STEP_MS / env.INTERVAL_MS}x the clock` : "no pauses";
const from = new Date(startAt).toISOString();
console.log(`sending: ${sensors.length} sensors to ${names.readings}, ${pace}, from ${from}`);
console.log(`results: ${names.minutes}, ${names.averages}, ${names.sessions}, ${names.alerts}`);
console.log(`late readings: ${deadLetterTopic(names.stats)}`);

const load = new AbortController();
const sending = generateReadings({
  emitter: service.readings,
  sensors,
  startAt,
  stepMs: env.STEP_MS,
  intervalMs: env.INTERVAL_MS,
  signal: load.signal,
});

const stop = await Promise.race([
  signalled.then((signal) => ({ signal, error: undefined })),
  service.failure.then((error) => ({ signal: undefined, error })),
  // The load generator ends only when aborted, below; before that, only by failing.
  sending.then(
    () => ({ signal: undefined, error: undefined }),
    (error: unknown) => ({ signal: undefined, error }),
  ),
]);
if (stop.error) logger.error("the sensor service failed; shutting down", { error: stop.error });
else console.log(`${stop.signal}: shutting down`);

// A shutdown that hangs must not keep an orchestrator waiting forever.
setTimeout(() => {
  console.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms; exiting`);
  process.exit(1);
}, SHUTDOWN_TIMEOUT_MS).unref();
load.abort();
const sent = await sending.catch(() => undefined);
if (sent) console.log(`sent ${sent.sent} readings, ${sent.late} of them late`);
await service.close();
console.log("stopped");
// Exit explicitly: client libraries may keep timers alive after they disconnected.
process.exit(stop.error ? 1 : 0);

/** One line for a reading dead-lettered because windows it belongs in had closed. */
function describeLate(error: TokaError): string {
  const who = `${"late".padEnd(12)} ${(error.key ?? "").padEnd(9)}`;
  const where = `offset ${error.offset} of ${error.topic}[${error.partition}]`;
  return [who, where, `dead-lettered to ${deadLetterTopic(names.stats)}`].join("  ");
}
