import { setTimeout as delay } from "node:timers/promises";
import { type Processor, type ProcessorOptions, TokaError, TokaErrorCode } from "@toka/processor";
import { resolveConnection } from "./connection.js";
import { holdsRecords } from "./partition-reader.js";
import type { Projection } from "./projection.js";
import { Replay, type ReplayOptions, type ReplayResult } from "./replay.js";
import type { ReplayProgress } from "./replay-progress.js";
import { startProjection } from "./start-group.js";
import { TableAliases } from "./table-aliases.js";

/** Options of {@link rebuildProjection}. */
export interface RebuildOptions extends ReplayOptions {
  /** Options of the processor that continues the new group (connection excluded). */
  readonly processor?: Omit<ProcessorOptions, "brokers" | "client" | "logger" | "ssl" | "sasl">;
  /** Switch the alias (the projection's name) to the new table once caught up. Default `true`. */
  readonly switchAlias?: boolean;
  /** The aliases to switch; default: its own `TableAliases` on the same connection. */
  readonly aliases?: TableAliases;
  /** Called with the replay's progress. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** How long the new processor may take to catch up with the log. Default 120 000 ms. */
  readonly catchUpTimeoutMs?: number;
}

/** What {@link rebuildProjection} built. */
export interface Rebuilt<E, R> {
  readonly replay: ReplayResult;
  /** The processor of the new group, running and caught up; the caller closes it. */
  readonly processor: Processor<Projection<E, R>["graph"]>;
  /** The new table, now named by the alias when `switchAlias`. */
  readonly table: string;
}

/**
 * Rebuilds a projection into a new table while the live one keeps serving, then
 * switches readers to it:
 *
 * 1. a {@link Replay} folds the event log (from `from`) into `<name>-replay-<n>-table`;
 * 2. a processor of the replay's group takes over from where the replay stopped and
 *    follows the log (exactly once: the replay left the dedup records and committed
 *    offsets a processor expects);
 * 3. once it has caught up with the log's end, the alias `<name>` is switched to the new
 *    table, and every `AliasedView` of the alias re-points to it.
 *
 * The old group keeps running until you close it; close it after the switch, and delete
 * its table when no reader needs it.
 *
 * @throws TokaError from the replay, the processor's start, or `TOKA_TIMEOUT` when the
 * processor does not catch up in time (it is closed then).
 */
export async function rebuildProjection<E, R>(
  projection: Projection<E, R>,
  options: RebuildOptions,
): Promise<Rebuilt<E, R>> {
  const connection = resolveConnection("rebuild", options, { group: projection.name });
  const replay = new Replay(projection, options);
  if (options.onProgress) replay.on("replay.progress", options.onProgress);
  const result = await replay.run();
  const processor = await startProjection(projection, {
    guarantee: "exactly-once",
    ...options.processor,
    client: connection.client,
    logger: connection.logger,
    group: result.group,
  });
  try {
    await caughtUp(
      processor,
      connection,
      projection.log.topic,
      options.catchUpTimeoutMs ?? 120_000,
    );
    if (options.switchAlias ?? true) {
      const aliases =
        options.aliases ?? new TableAliases({ ...options, client: connection.client });
      try {
        await aliases.start();
        await aliases.set(projection.name, result.table);
      } finally {
        if (!options.aliases) await aliases.close();
      }
    }
  } catch (error) {
    await processor.close();
    throw error;
  }
  return { replay: result, processor, table: result.table };
}

/** Waits until the processor's input offsets reach the log's high watermarks taken now. */
async function caughtUp(
  processor: Processor,
  connection: ReturnType<typeof resolveConnection>,
  topic: string,
  timeoutMs: number,
) {
  const admin = connection.client.admin();
  await admin.connect();
  try {
    const ends = await admin.watermarks(topic);
    const deadline = Date.now() + timeoutMs;
    let previous = "";
    for (;;) {
      const offsets = new Map(
        processor
          .stats()
          .partitions.map((p) => [p.partition, p.inputs.find((i) => i.topic === topic)?.offset]),
      );
      const committed = await admin.committedOffsets(processor.group, topic);
      const positions = ends.map((e) => ({
        partition: e.partition,
        at: BigInt(offsets.get(e.partition) ?? committed.get(e.partition) ?? e.low),
        end: BigInt(e.high),
      }));
      const open = positions.filter((p) => p.at < p.end);
      const now = JSON.stringify(open.map((p) => [p.partition, String(p.at)]));
      let behind = open.map((p) => p.partition);
      // Unchanged since the last look: either idle at the end — commit markers of a
      // transactional writer take offsets but are no records — or stuck. Look.
      if (open.length > 0 && now === previous) {
        const holds = await Promise.all(
          open.map((p) => holdsRecords(connection.client, topic, p.partition, p.at, p.end)),
        );
        behind = open.filter((_, i) => holds[i]).map((p) => p.partition);
      }
      previous = now;
      if (behind.length === 0 && processor.status === "running") return;
      if (Date.now() > deadline) {
        throw new TokaError(
          TokaErrorCode.Timeout,
          `the processor of "${processor.group}" did not catch up with ${topic} within ${timeoutMs} ms (behind on partitions ${behind.join(", ")})`,
          { group: processor.group, topic },
        );
      }
      await delay(500);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
