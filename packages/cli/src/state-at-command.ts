import { stateAt } from "@toka/event-sourcing";
import { toJson } from "@toka/monitor";
import { Command, Option } from "commander";
import { type CliContext, parseTime } from "./cli-context.js";
import { loadFold } from "./load-definition.js";

/** `toka state-at`: a key's value at a past time, folded from its events. */
export function stateAtCommand(context: CliContext): Command {
  return new Command("state-at")
    .description(
      "compute the value a key had at a time from its events (aggregate state or projection value)",
    )
    .requiredOption("-m, --module <path>", "module that exports the aggregate or projection")
    .option("-e, --export <name>", "the export to use, when the module has several")
    .requiredOption("-k, --key <key>", "the key (aggregate ID)")
    .addOption(
      new Option("--time <time>", "the time (ISO 8601 or ms); default now").argParser(parseTime),
    )
    .action(async (options: { module: string; export?: string; key: string; time?: number }) => {
      const fold = await loadFold(options.module, options.export);
      const time = options.time ?? Date.now();
      const state = await stateAt(fold, options.key, time, context.connection());
      context.io.out(
        `${toJson(
          {
            [fold.kind ?? "fold"]: fold.name,
            key: options.key,
            time: new Date(time).toISOString(),
            events: state.events,
            lastOffset: state.offset,
            lastEventAt:
              state.timestamp === undefined ? undefined : new Date(state.timestamp).toISOString(),
            value: state.value,
          },
          2,
        )}\n`,
      );
    });
}
