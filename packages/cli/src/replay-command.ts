import {
  fromBeginning,
  fromOffsets,
  fromTime,
  Replay,
  type ReplayFrom,
} from "@toka/event-sourcing";
import { levelStorage } from "@toka/state-store";
import { Command, Option } from "commander";
import { type CliContext, parseOffsets, parseTime } from "./cli-context.js";
import { loadFold } from "./load-definition.js";
import { ProgressLine } from "./progress-line.js";

/** `toka replay`: rebuilds an aggregate's or projection's table from its event log into a new table. */
export function replayCommand(context: CliContext): Command {
  return new Command("replay")
    .description(
      "rebuild the table of an aggregate or projection from its event log into a new table (<name>-replay-<n>-table); the live table keeps serving",
    )
    .requiredOption(
      "-m, --module <path>",
      "module that exports the aggregate or projection (built JavaScript)",
    )
    .option("-e, --export <name>", "its export name or group name, when the module has several")
    .addOption(
      new Option(
        "--from-time <time>",
        "start at the first event at or after this time (ISO 8601 or ms)",
      )
        .argParser(parseTime)
        .conflicts("fromOffsets"),
    )
    .addOption(
      new Option(
        "--from-offsets <spec>",
        "start at these offsets: partition:offset[,...]; others from the beginning",
      ).argParser(parseOffsets),
    )
    .option(
      "-g, --group <group>",
      "the new group (its table is <group>-table); default <name>-replay-<n>",
    )
    .option("--state-dir <dir>", "spill values to LevelDB here when they do not fit in memory")
    .option("--max-cached-keys <n>", "keys held in memory before spilling", (v) => Number(v))
    .action(
      async (options: {
        module: string;
        export?: string;
        fromTime?: number;
        fromOffsets?: Record<number, string>;
        group?: string;
        stateDir?: string;
        maxCachedKeys?: number;
      }) => {
        const { io } = context;
        const fold = await loadFold(options.module, options.export);
        const from: ReplayFrom =
          options.fromTime !== undefined
            ? fromTime(options.fromTime)
            : options.fromOffsets
              ? fromOffsets(options.fromOffsets)
              : fromBeginning();
        const replay = new Replay(fold, {
          ...context.connection(),
          from,
          ...(options.group ? { group: options.group } : {}),
          ...(options.stateDir ? { storage: levelStorage({ path: options.stateDir }) } : {}),
          ...(options.maxCachedKeys ? { maxCachedKeys: options.maxCachedKeys } : {}),
        });
        const line = new ProgressLine(io, `replay ${fold.name}`);
        replay.on("replay.started", ({ group, table }) =>
          io.err(`replaying ${fold.log.topic} into ${table} (group ${group})\n`),
        );
        replay.on("replay.progress", (p) => line.update(p));
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGINT", stop);
        try {
          const result = await replay.run({ signal: controller.signal });
          line.done();
          io.out(
            `${JSON.stringify(
              {
                group: result.group,
                table: result.table,
                events: result.events,
                duplicates: result.duplicates,
                keys: result.keys,
                tableRecords: result.tableRecords,
                durationMs: result.durationMs,
                eventsPerSecond: Math.round(result.eventsPerSecond),
                positions: Object.fromEntries(result.ranges.map((r) => [r.partition, r.end])),
              },
              null,
              2,
            )}\n`,
          );
          io.err(
            `done. To serve it: run the ${fold.kind ?? "group"}'s processor with group "${result.group}" (it continues where the replay stopped), then point readers at it: toka alias set ${fold.name} ${result.table}\n`,
          );
        } finally {
          line.done();
          process.off("SIGINT", stop);
        }
      },
    );
}
