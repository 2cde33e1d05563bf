import { Command, Option } from "commander";
import { type CliContext, parseOffsets, parseTime, withKafkaAdmin } from "./cli-context.js";

/** Group states in which Kafka lets offsets be changed: no member is in the group. */
const STOPPED = new Set(["Empty", "Dead"]);

/** `toka reset-group`: moves a stopped group's committed offsets on a topic. */
export function resetGroupCommand(context: CliContext): Command {
  return new Command("reset-group")
    .description(
      "move a stopped consumer group's committed offsets on a topic to a time, the start or the end",
    )
    .requiredOption("-g, --group <group>", "the consumer group (a toka group's name)")
    .requiredOption("-t, --topic <topic>", "the topic whose offsets to move")
    .addOption(
      new Option(
        "--to-time <time>",
        "the first offset at or after this time (ISO 8601 or ms)",
      ).argParser(parseTime),
    )
    .addOption(new Option("--to-earliest", "the start of each partition"))
    .addOption(new Option("--to-latest", "the end of each partition"))
    .addOption(
      new Option("--to-offsets <spec>", "these offsets: partition:offset[,...]").argParser(
        parseOffsets,
      ),
    )
    .option("--dry-run", "show the plan, change nothing")
    .action(
      async (options: {
        group: string;
        topic: string;
        toTime?: number;
        toEarliest?: boolean;
        toLatest?: boolean;
        toOffsets?: Record<number, string>;
        dryRun?: boolean;
      }) => {
        const { io } = context;
        const targets = [
          options.toTime !== undefined,
          options.toEarliest,
          options.toLatest,
          options.toOffsets !== undefined,
        ].filter(Boolean);
        if (targets.length !== 1) {
          throw new Error(
            "give exactly one of --to-time, --to-earliest, --to-latest, --to-offsets",
          );
        }
        await withKafkaAdmin(context, async (admin) => {
          const group = await admin.describeGroup(options.group);
          if (!STOPPED.has(group.state)) {
            throw new Error(
              `group "${options.group}" is ${group.state} with ${group.members.length} member(s); Kafka changes offsets only of a group without members: stop its processors first, then run this again`,
            );
          }
          const marks = await admin.watermarks(options.topic);
          let next: Map<number, string>;
          if (options.toTime !== undefined) {
            next = await admin.offsetsForTime(options.topic, options.toTime);
          } else if (options.toEarliest) {
            next = new Map(marks.map((m) => [m.partition, m.low]));
          } else if (options.toLatest) {
            next = new Map(marks.map((m) => [m.partition, m.high]));
          } else {
            next = new Map(Object.entries(options.toOffsets!).map(([p, o]) => [Number(p), o]));
            for (const p of next.keys()) {
              if (!marks.some((m) => m.partition === p)) {
                throw new Error(
                  `partition ${p} does not exist; ${options.topic} has partitions 0..${marks.length - 1}`,
                );
              }
            }
          }
          const current = await admin.committedOffsets(options.group, options.topic);
          io.out(
            `group ${options.group}, topic ${options.topic}${options.dryRun ? " (dry run)" : ""}\n`,
          );
          io.out("partition  committed  new\n");
          for (const [partition, offset] of [...next].sort((a, b) => a[0] - b[0])) {
            const was = current.get(partition);
            io.out(`${String(partition).padStart(9)}  ${(was ?? "-").padStart(9)}  ${offset}\n`);
          }
          const tables = await admin.listTopics();
          if (tables.includes(`${options.group}-table`)) {
            io.err(
              `note: "${options.group}" keeps a table. A toka processor resumes at the later of the committed offset and its local checkpoint, and in exactly-once mode skips inputs its table already applied: moving offsets back does not apply inputs to the table again (rebuild it with toka replay instead), moving them forward skips inputs.\n`,
            );
          }
          if (options.dryRun) return;
          await admin.commitOffsets(
            options.group,
            [...next].map(([partition, offset]) => ({ topic: options.topic, partition, offset })),
          );
          io.err(`reset ${next.size} partition(s)\n`);
        });
      },
    );
}
