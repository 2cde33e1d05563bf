import { keyRecords } from "@toka/event-sourcing";
import { formatBytes, toJson, ValueFormat } from "@toka/monitor";
import { decodeWindowEntry, windowsTopic } from "@toka/processor";
import { decodeWindowKey, readWindowRecordValue } from "@toka/state-store";
import { Command, Option } from "commander";
import { type CliContext, CliExit } from "./cli-context.js";

/** `toka windows`: a key's windows of a windowed aggregate, read from its topic. */
export function windowsCommand(context: CliContext): Command {
  return new Command("windows")
    .description(
      "show a key's windows of a windowed aggregate (the last record of each window in <group>-<aggregate>-windows)",
    )
    .requiredOption("-g, --group <group>", "the group")
    .requiredOption(
      "-a, --aggregate <name>",
      "the windowed aggregate, as windowed(name, ...) names it",
    )
    .requiredOption("-k, --key <key>", "the key")
    .option("--from <ms>", "only windows starting at or after this time (ms since the epoch)", time)
    .option("--to <ms>", "only windows starting at or before this time (ms since the epoch)", time)
    .addOption(
      new Option("-f, --format <format>", "how to show the aggregates' values")
        .choices(Object.values(ValueFormat))
        .default("auto"),
    )
    .action(
      async (options: {
        group: string;
        aggregate: string;
        key: string;
        from?: number;
        to?: number;
        format: ValueFormat;
      }) => {
        const topic = windowsTopic(options.group, options.aggregate);
        const records = await keyRecords(topic, options.key, {
          ...context.connection(),
          matches: (recordKey) => windowKeyOf(recordKey) === options.key,
        });
        // The topic is compacted by window: each window's last record is its state.
        const latest = new Map<number, (typeof records)[number]>();
        for (const record of records) latest.set(decodeWindowKey(record.key).start, record);
        const from = options.from ?? 0;
        const to = options.to ?? Number.MAX_SAFE_INTEGER;
        const windows = [...latest]
          .filter(([start, record]) => start >= from && start <= to && record.value !== null)
          .sort(([a], [b]) => a - b)
          .map(([start, record]) => {
            const stored = readWindowRecordValue(record.value!)!;
            const entry = decodeWindowEntry(stored.value);
            return {
              start,
              end: stored.end,
              startTime: new Date(start).toISOString(),
              final: entry.finalEmitted,
              value: formatBytes(entry.aggregate, options.format),
            };
          });
        if (windows.length === 0) {
          throw new CliExit(
            `no windows of key "${options.key}" in ${topic}${options.from !== undefined || options.to !== undefined ? " in that time range" : ""}`,
            2,
          );
        }
        context.io.out(`${toJson({ topic, key: options.key, windows }, 2)}\n`);
      },
    );
}

/** The record key a window key holds, or undefined for a record that is not a window's. */
function windowKeyOf(recordKey: string): string | undefined {
  try {
    return decodeWindowKey(recordKey).key;
  } catch {
    return undefined;
  }
}

function time(text: string): number {
  if (!/^\d{1,16}$/.test(text)) {
    throw new CliExit(`a time must be milliseconds since the epoch, got "${text}"`, 2);
  }
  return Number(text);
}
