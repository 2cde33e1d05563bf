import { groupLag } from "@toka/monitor";
import { Command } from "commander";
import { type CliContext, CliExit, withKafkaAdmin } from "./cli-context.js";

/**
 * `toka lag`: how far a consumer group (a toka group) is behind on each partition of
 * its topics: the committed offset against the partition's end, and the stream time
 * committed with it. The end counts transaction markers too, so a group reading a
 * transactional topic shows a lag of one marker per partition when it is done.
 */
export function lagCommand(context: CliContext): Command {
  return new Command("lag")
    .description("show how far a consumer group is behind, per topic partition")
    .requiredOption("-g, --group <group>", "the consumer group (a toka group's name)")
    .option(
      "-t, --topic <topic...>",
      "only these topics (default: every topic the group committed offsets for)",
    )
    .option("--json", "one JSON object per partition, one per line")
    .action(async (options: { group: string; topic?: string[]; json?: boolean }) => {
      const { io } = context;
      await withKafkaAdmin(context, async (admin) => {
        const rows = await groupLag(admin, options.group, options.topic);
        if (rows.length === 0) {
          throw new CliExit(
            `group "${options.group}" has no committed offsets; check the name (a toka group's name is its consumer group) or give its topics with --topic`,
            2,
          );
        }
        if (options.json) {
          for (const row of rows) io.out(`${JSON.stringify({ group: options.group, ...row })}\n`);
          return;
        }
        io.out(`group ${options.group}\n`);
        io.out(`${"topic".padEnd(40)} partition  committed        end        lag  stream time\n`);
        for (const r of rows) {
          const streamTime =
            r.streamTime === undefined ? "-" : new Date(r.streamTime).toISOString();
          io.out(
            `${r.topic.padEnd(40)} ${String(r.partition).padStart(9)}  ${(r.committed ?? "-").padStart(9)}  ${r.end.padStart(9)}  ${String(r.lag).padStart(9)}  ${streamTime}\n`,
          );
        }
        io.out(`total lag ${rows.reduce((sum, r) => sum + r.lag, 0)}\n`);
      });
    });
}
