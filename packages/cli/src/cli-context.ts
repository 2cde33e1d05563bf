import type { ConnectionOptions } from "@toka/event-sourcing";
import { type Logger, silentLogger } from "@toka/processor";
import { type ClientAdmin, kafkajsClient } from "@toka/processor/kafka";
import { InvalidArgumentError } from "commander";
import type { CliIo } from "./cli-io.js";

/** What every command gets: the streams and the connection from the global options. */
export interface CliContext {
  readonly io: CliIo;
  /** `--brokers` and the TLS/SASL flags, with a logger that writes warnings to stderr. */
  connection(): ConnectionOptions & { readonly brokers: readonly string[] };
}

/** Default of `--brokers`: `KAFKA_BROKERS`, else a local broker. */
export function defaultBrokers(env: NodeJS.ProcessEnv = process.env): string {
  return env.KAFKA_BROKERS ?? "127.0.0.1:9092";
}

/** `a:1,b:2` → `["a:1", "b:2"]`. @throws InvalidArgumentError for an entry that is not host:port. */
export function parseBrokers(value: string): string[] {
  const brokers = value
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = brokers.find((b) => !/^[^:\s]+:\d+$/.test(b));
  if (brokers.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(`expected host:port[,host:port...], got "${bad ?? value}"`);
  }
  return brokers;
}

/** An ISO 8601 time or ms since the epoch. @throws InvalidArgumentError otherwise. */
export function parseTime(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new InvalidArgumentError(
      `expected an ISO 8601 time (2026-01-31T12:00:00Z) or ms since the epoch, got "${value}"`,
    );
  }
  return ms;
}

/** `0:120,3:4711` → `{ 0: "120", 3: "4711" }`. @throws InvalidArgumentError otherwise. */
export function parseOffsets(value: string): Record<number, string> {
  const offsets: Record<number, string> = {};
  for (const part of value.split(",")) {
    const match = /^\s*(\d+):(\d+)\s*$/.exec(part);
    if (!match)
      throw new InvalidArgumentError(
        `expected partition:offset[,partition:offset...], got "${part}"`,
      );
    offsets[Number(match[1])] = match[2]!;
  }
  return offsets;
}

/** Warnings and errors of toka on stderr as plain lines; the Kafka client's own chatter only with `verbose`. */
export function cliLogger(io: CliIo, verbose: boolean): Logger {
  const write =
    (level: string) => (message: string, fields?: Readonly<Record<string, unknown>>) => {
      const component = fields?.component;
      if (!verbose && typeof component === "string" && component.startsWith("kafkajs.")) return;
      io.err(`${level}: ${message}\n`);
    };
  return {
    debug: verbose ? write("debug") : () => {},
    info: verbose ? write("info") : () => {},
    warn: write("warning"),
    error: write("error"),
  };
}

/** Ends a command with an exit code other than 1 and a message, e.g. 2 for "not found". */
export class CliExit extends Error {
  override readonly name = "CliExit";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * Runs `use` with a connected admin of the `--brokers` (toka's Kafka layer), disconnected
 * afterwards. Connecting checks TLS and SASL first, so a rejected password or an
 * untrusted certificate is reported as such.
 */
export async function withKafkaAdmin<T>(
  context: CliContext,
  use: (admin: ClientAdmin) => Promise<T>,
): Promise<T> {
  const { brokers, logger, ssl, sasl } = context.connection();
  const admin = kafkajsClient({
    brokers,
    logger: logger ?? silentLogger,
    clientId: "toka-cli",
    ssl,
    sasl,
  }).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}
