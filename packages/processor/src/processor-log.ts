import type { EventEmitter } from "node:events";
import type { ProcessorEvents } from "./events.js";
import type { Logger } from "./logger.js";

/** Least time between two recovery progress lines of one partition. */
const RECOVERY_LOG_INTERVAL_MS = 5_000;
/** Least time between two lines about dropped messages; the ones between are counted. */
const DROPPED_LOG_INTERVAL_MS = 1_000;

/**
 * Writes a processor's lifecycle to its logger: status, assignment, recovery progress
 * (every few seconds on long recoveries), revocation and standby replicas at info; every skipped or
 * dead-lettered message at warn, at most one line a second, saying how many were
 * suppressed since the last one.
 */
export function logProcessorEvents(
  events: EventEmitter<ProcessorEvents>,
  logger: Logger,
  group: string,
  now: () => number = Date.now,
): void {
  events.on("status", (status) => logger.info(`processor ${status}`, { group, status }));
  events.on("partition.assigned", ({ partition }) =>
    logger.info("partition assigned", { group, partition }),
  );
  events.on("partition.revoked", ({ partition }) =>
    logger.info("partition revoked", { group, partition }),
  );
  events.on("standby.assigned", ({ partition, tableOffset }) =>
    logger.info("standby replica assigned", { group, partition, tableOffset }),
  );
  events.on("standby.released", ({ partition, tableOffset }) =>
    logger.info("standby replica released", { group, partition, tableOffset }),
  );
  const lastProgress = new Map<number, number>();
  events.on("partition.recovering", ({ partition, recovered, total }) => {
    const at = now();
    if (at - (lastProgress.get(partition) ?? 0) < RECOVERY_LOG_INTERVAL_MS) return;
    lastProgress.set(partition, at);
    logger.info("partition recovering", { group, partition, recovered, total });
  });
  events.on("partition.recovered", ({ partition, records, durationMs }) => {
    lastProgress.delete(partition);
    logger.info("partition recovered", { group, partition, records, durationMs });
  });

  let lastDropped = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  const dropped = (fate: string) => (error: ProcessorEvents["message.skipped"][0]) => {
    const at = now();
    if (at - lastDropped < DROPPED_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    lastDropped = at;
    logger.warn(`message ${fate}`, { group, error, suppressed });
    suppressed = 0;
  };
  events.on("message.skipped", dropped("skipped"));
  events.on("message.dead-lettered", dropped("dead-lettered"));
  events.on("message.late", dropped("too late for its windows, dead-lettered"));
}
