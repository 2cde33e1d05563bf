import { eventMeta, keyRecords } from "@toka/event-sourcing";
import { formatBytes, toJson, ValueFormat } from "@toka/monitor";
import { Command, Option } from "commander";
import { type CliContext, parseTime } from "./cli-context.js";
import { loadFold } from "./load-definition.js";

/** `toka history`: the events of one key in an event log. */
export function historyCommand(context: CliContext): Command {
  return new Command("history")
    .description("list the events of a key in an event log, oldest first")
    .option("--events <topic>", "the event log, e.g. account-events (default: the module's)")
    .requiredOption("-k, --key <key>", "the key (aggregate ID)")
    .addOption(
      new Option("--until <time>", "only events up to this time (ISO 8601 or ms)").argParser(
        parseTime,
      ),
    )
    .addOption(
      new Option("-f, --format <format>", "how to show raw values")
        .choices(Object.values(ValueFormat))
        .default("auto"),
    )
    .option("-m, --module <path>", "decode (and upcast) with this module's aggregate or projection")
    .option("-e, --export <name>", "the export to use, when the module has several")
    .option("--json", "one JSON object per line")
    .action(
      async (options: {
        events?: string;
        key: string;
        until?: number;
        format: ValueFormat;
        module?: string;
        export?: string;
        json?: boolean;
      }) => {
        const fold = options.module ? await loadFold(options.module, options.export) : undefined;
        const topic = options.events ?? fold?.log.topic;
        if (!topic) throw new Error("give --events <topic> or --module <path>");
        const records = await keyRecords(topic, options.key, {
          ...context.connection(),
          ...(options.until !== undefined ? { until: options.until } : {}),
        });
        const { io } = context;
        for (const record of records) {
          const meta = eventMeta(record);
          const value =
            record.value === null
              ? null
              : fold && fold.log.topic === topic
                ? fold.log.decode(record.value, record)
                : formatBytes(record.value, options.format);
          const time = new Date(meta.timestamp).toISOString();
          if (options.json) {
            io.out(
              `${toJson({
                offset: meta.offset,
                partition: meta.partition,
                timestamp: time,
                id: meta.id,
                type: meta.type,
                aggregateVersion: meta.aggregateVersion,
                schemaVersion: meta.schemaVersion,
                commandId: meta.commandId,
                value,
              })}\n`,
            );
          } else {
            const version = meta.aggregateVersion === undefined ? "" : ` v${meta.aggregateVersion}`;
            io.out(`${meta.offset}\t${time}\t${meta.type ?? "-"}${version}\t${toJson(value)}\n`);
          }
        }
        if (records.length === 0) io.err(`no events of key "${options.key}" in ${topic}\n`);
      },
    );
}
