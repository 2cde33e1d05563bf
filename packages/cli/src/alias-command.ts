import { ALIASES_TOPIC, TableAliases } from "@toka/event-sourcing";
import { Command } from "commander";
import { type CliContext, CliExit } from "./cli-context.js";

/** `toka alias`: lists and switches table aliases. */
export function aliasCommand(context: CliContext): Command {
  const withAliases = async <T>(topic: string, work: (aliases: TableAliases) => Promise<T>) => {
    const aliases = new TableAliases({ ...context.connection(), topic });
    try {
      await aliases.start();
      return await work(aliases);
    } finally {
      await aliases.close();
    }
  };
  const command = new Command("alias")
    .description("table aliases: which table readers (AliasedView) serve under a name")
    .option("--aliases-topic <topic>", "the aliases topic", ALIASES_TOPIC);
  const topicOf = (cmd: Command) =>
    (cmd.optsWithGlobals() as { aliasesTopic: string }).aliasesTopic;
  command
    .command("list")
    .description("list every alias and its table")
    .action(async (_options, cmd: Command) => {
      const all = await withAliases(topicOf(cmd), (a) => a.list());
      for (const [alias, record] of all) {
        context.io.out(
          `${alias}\t${record.table}\t${new Date(record.switchedAt).toISOString()}${record.previous ? `\t(was ${record.previous})` : ""}\n`,
        );
      }
    });
  command
    .command("get <alias>")
    .description("print the table an alias names")
    .action(async (alias: string, _options, cmd: Command) => {
      const table = await withAliases(topicOf(cmd), (a) => a.get(alias));
      if (table === undefined) {
        throw new CliExit(`alias "${alias}" is not set`, 2);
      }
      context.io.out(`${table}\n`);
    });
  command
    .command("set <alias> <table>")
    .description(
      "point an alias at a table: readers following it switch once they recovered the table",
    )
    .action(async (alias: string, table: string, _options, cmd: Command) => {
      const record = await withAliases(topicOf(cmd), (a) => a.set(alias, table));
      context.io.err(`${alias} -> ${table}${record.previous ? ` (was ${record.previous})` : ""}\n`);
    });
  return command;
}
