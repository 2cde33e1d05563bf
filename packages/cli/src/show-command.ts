import { keyRecords } from "@toka/event-sourcing";
import { formatBytes, toJson, ValueFormat } from "@toka/monitor";
import { DEDUP_HEADER, decodeDedup } from "@toka/processor/dedup";
import { Command, Option } from "commander";
import { type CliContext, CliExit } from "./cli-context.js";
import { loadFold } from "./load-definition.js";

/** `toka show`: the current value of a key in a table topic. */
export function showCommand(context: CliContext): Command {
  return new Command("show")
    .description("show the value of a key in a table topic (the last record of the key)")
    .requiredOption("-t, --table <topic>", "the table topic, e.g. balances-table")
    .requiredOption("-k, --key <key>", "the key")
    .addOption(
      new Option("-f, --format <format>", "how to show raw values")
        .choices(Object.values(ValueFormat))
        .default("auto"),
    )
    .option(
      "-m, --module <path>",
      "decode with the table codec of this module's aggregate or projection",
    )
    .option("-e, --export <name>", "the export to use, when the module has several")
    .action(
      async (options: {
        table: string;
        key: string;
        format: ValueFormat;
        module?: string;
        export?: string;
      }) => {
        const fold = options.module ? await loadFold(options.module, options.export) : undefined;
        const records = await keyRecords(options.table, options.key, context.connection());
        const last = records.at(-1);
        if (!last || last.value === null) {
          throw new CliExit(
            `no value for key "${options.key}" in ${options.table}${last ? " (deleted)" : ""}`,
            2,
          );
        }
        const { [DEDUP_HEADER]: dedup, ...headers } = last.headers;
        const value = fold
          ? fold.table.decode(last.value)
          : formatBytes(last.value, options.format);
        context.io.out(
          `${toJson(
            {
              table: options.table,
              key: options.key,
              partition: last.partition,
              offset: last.offset,
              timestamp: new Date(last.timestamp).toISOString(),
              value,
              headers,
              ...(dedup ? { dedup: decodeDedup(dedup) ?? dedup } : {}),
            },
            2,
          )}\n`,
        );
      },
    );
}
