import { type DeadLetter, readDeadLetters, valuePreview } from "@toka/monitor";
import { DeadLetterHeader, silentLogger } from "@toka/processor";
import { type KafkaClient, kafkajsClient, type OutgoingRecord } from "@toka/processor/kafka";
import { Command, InvalidArgumentError } from "commander";
import { type CliContext, CliExit } from "./cli-context.js";

/** Header naming where a re-published letter came from: `<dlq topic>/<partition>/<offset>`. */
export const REDRIVEN_FROM_HEADER = "toka-redriven-from";

/** Characters of a value shown by `dlq list`. */
const PREVIEW_CHARS = 80;

/** A letter's position in the dead-letter topic: `partition:offset`. */
interface LetterPosition {
  readonly partition: number;
  readonly offset: string;
}

/** `0:12,3:40` → positions. @throws InvalidArgumentError otherwise. */
function parsePositions(value: string): LetterPosition[] {
  return value.split(",").map((part) => {
    const match = /^\s*(\d+):(\d+)\s*$/.exec(part);
    if (!match) {
      throw new InvalidArgumentError(
        `expected partition:offset[,partition:offset...], got "${part}"`,
      );
    }
    return { partition: Number(match[1]), offset: match[2]! };
  });
}

/** Reads the whole dead-letter topic. @throws CliExit when it does not exist. */
async function readLetters(client: KafkaClient, topic: string): Promise<DeadLetter[]> {
  const letters = await readDeadLetters(client, topic);
  if (!letters) {
    throw new CliExit(
      `dead-letter topic "${topic}" does not exist; it is created by the group's first processor start (check --group)`,
      2,
    );
  }
  return letters;
}

function preview(value: Uint8Array | null): string {
  return valuePreview(value, PREVIEW_CHARS);
}

function summary(letter: DeadLetter) {
  return {
    partition: letter.partition,
    offset: letter.offset,
    time: new Date(letter.timestamp).toISOString(),
    key: letter.key,
    error: letter.error,
    source: letter.source,
    truncated: letter.truncated,
    redrivenFrom: letter.record.header(REDRIVEN_FROM_HEADER),
  };
}

/** The letter as it was before it failed: its key, value and headers without toka's error headers. */
function redriven(letter: DeadLetter, dlq: string): OutgoingRecord {
  const own = new Set<string>(Object.values(DeadLetterHeader));
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(letter.record.headers)) {
    if (!own.has(name)) headers[name] = value;
  }
  headers[REDRIVEN_FROM_HEADER] = `${dlq}/${letter.partition}/${letter.offset}`;
  return {
    topic: letter.source.topic!,
    key: letter.record.key,
    value: letter.record.value,
    headers,
  };
}

/** `toka dlq list|show|redrive`: a group's dead letters. */
export function dlqCommand(context: CliContext): Command {
  const client = () => {
    const { brokers, logger, ssl, sasl } = context.connection();
    return kafkajsClient({
      brokers,
      logger: logger ?? silentLogger,
      clientId: "toka-cli",
      ssl,
      sasl,
    });
  };
  const topicOf = (group: string) => `${group}-dlq`;
  const dlq = new Command("dlq").description("list, show and re-publish a group's dead letters");

  dlq
    .command("list")
    .description("every letter of <group>-dlq: position, key, error, source, value preview")
    .requiredOption("-g, --group <group>", "the toka group")
    .option("--json", "one JSON object per letter, one per line")
    .action(async (options: { group: string; json?: boolean }) => {
      const { io } = context;
      const letters = await readLetters(client(), topicOf(options.group));
      for (const letter of letters) {
        if (options.json) {
          io.out(
            `${JSON.stringify({ ...summary(letter), preview: preview(letter.record.value) })}\n`,
          );
          continue;
        }
        const { source } = letter;
        io.out(
          `${letter.partition}:${letter.offset}  key=${JSON.stringify(letter.key)}  ${letter.error.code ?? "?"}  from ${source.topic}/${source.partition}/${source.offset}${letter.truncated ? "  (truncated)" : ""}\n    ${letter.error.message ?? ""}\n    ${preview(letter.record.value)}\n`,
        );
      }
      io.err(`${letters.length} letter(s) in ${topicOf(options.group)}\n`);
    });

  dlq
    .command("show")
    .description("one letter in full: error, source, headers and value")
    .requiredOption("-g, --group <group>", "the toka group")
    .requiredOption("-a, --at <partition:offset>", "the letter's position", (v) => {
      const [position] = parsePositions(v);
      return position!;
    })
    .action(async (options: { group: string; at: LetterPosition }) => {
      const letters = await readLetters(client(), topicOf(options.group));
      const letter = letters.find(
        (l) => l.partition === options.at.partition && l.offset === options.at.offset,
      );
      if (!letter) {
        throw new CliExit(
          `no letter at ${options.at.partition}:${options.at.offset} in ${topicOf(options.group)}; list them with toka dlq list`,
          2,
        );
      }
      const value = letter.record.value;
      context.io.out(
        `${JSON.stringify(
          {
            ...summary(letter),
            headers: { ...letter.record.headers },
            value: value === null ? null : Buffer.from(value).toString("utf8"),
          },
          null,
          2,
        )}\n`,
      );
    });

  dlq
    .command("redrive")
    .description(
      "re-publish letters to their source topic with their original key, value and headers (plus toka-redriven-from)",
    )
    .requiredOption("-g, --group <group>", "the toka group")
    .option("-a, --at <positions>", "only these letters: partition:offset[,...]", parsePositions)
    .option("--all", "every letter")
    .option("--dry-run", "show what would be re-published, send nothing")
    .action(
      async (options: {
        group: string;
        at?: LetterPosition[];
        all?: boolean;
        dryRun?: boolean;
      }) => {
        const { io } = context;
        if ((options.at === undefined) === (options.all !== true)) {
          throw new CliExit("give exactly one of --at <partition:offset,...> or --all", 2);
        }
        const topic = topicOf(options.group);
        const kafka = client();
        const letters = await readLetters(kafka, topic);
        const chosen = options.at
          ? options.at.map((at) => {
              const letter = letters.find(
                (l) => l.partition === at.partition && l.offset === at.offset,
              );
              if (!letter) {
                throw new CliExit(`no letter at ${at.partition}:${at.offset} in ${topic}`, 2);
              }
              return letter;
            })
          : letters;
        const unsendable = chosen.filter((l) => l.truncated || l.source.topic === undefined);
        if (unsendable.length > 0) {
          throw new CliExit(
            `${unsendable.map((l) => `${l.partition}:${l.offset}`).join(", ")}: cut to fit the dead-letter topic or without a source topic, so not the original message; re-publish the rest with --at`,
            1,
          );
        }
        for (const letter of chosen) {
          io.out(
            `${options.dryRun ? "would re-publish" : "re-publishing"} ${letter.partition}:${letter.offset} to ${letter.source.topic} (key ${JSON.stringify(letter.key)})\n`,
          );
        }
        if (options.dryRun || chosen.length === 0) return;
        const producer = kafka.producer();
        await producer.connect();
        try {
          const produced = await producer.send(chosen.map((l) => redriven(l, topic)));
          io.err(
            `re-published ${chosen.length} letter(s); each carries ${REDRIVEN_FROM_HEADER}: ${produced
              .map((p) => `${p.topic}/${p.partition}@${p.baseOffset}`)
              .join(", ")}\n`,
          );
        } finally {
          await producer.disconnect();
        }
      },
    );
  return dlq;
}
