import { Command, CommanderError } from "commander";
import { aliasCommand } from "./alias-command.js";
import {
  type CliContext,
  CliExit,
  cliLogger,
  defaultBrokers,
  parseBrokers,
} from "./cli-context.js";
import { type CliIo, processIo } from "./cli-io.js";
import { type SecurityFlags, securityFromFlags } from "./cli-security.js";
import { dlqCommand } from "./dlq-command.js";
import { historyCommand } from "./history-command.js";
import { lagCommand } from "./lag-command.js";
import { monitorCommand } from "./monitor-command.js";
import { replayCommand } from "./replay-command.js";
import { resetGroupCommand } from "./reset-group-command.js";
import { showCommand } from "./show-command.js";
import { stateAtCommand } from "./state-at-command.js";
import { windowsCommand } from "./windows-command.js";

/** The `toka` command line, writing to `io`. */
export function createProgram(io: CliIo = processIo): Command {
  const program = new Command("toka")
    .description(
      "toka operator tools: replays, group resets, lag, dead letters, table values, event histories, the web monitor",
    )
    .option(
      "-b, --brokers <list>",
      "Kafka bootstrap brokers, host:port[,...] (env KAFKA_BROKERS)",
      defaultBrokers(),
    )
    .option("--ssl", "connect to the brokers with TLS")
    .option(
      "--ssl-ca <file>",
      "trust the brokers' certificates signed by this CA (PEM); implies --ssl",
    )
    .option(
      "--sasl-mechanism <mechanism>",
      "authenticate with SASL: plain, scram-sha-256, scram-sha-512, oauthbearer (token in env TOKA_SASL_TOKEN)",
    )
    .option("--sasl-username <name>", "the SASL user")
    .option("--sasl-password <password>", "the SASL password (env TOKA_SASL_PASSWORD)")
    .option("-v, --verbose", "also show the Kafka client's own log lines");
  const context: CliContext = {
    io,
    connection: () => {
      const { brokers, verbose, ...security } = program.opts<
        { brokers: string; verbose?: boolean } & SecurityFlags
      >();
      return {
        ...securityFromFlags(security),
        brokers: parseBrokers(brokers),
        logger: cliLogger(io, verbose === true),
        clientId: "toka-cli",
      };
    },
  };
  for (const command of [
    replayCommand(context),
    resetGroupCommand(context),
    showCommand(context),
    windowsCommand(context),
    historyCommand(context),
    stateAtCommand(context),
    aliasCommand(context),
    lagCommand(context),
    dlqCommand(context),
    monitorCommand(context),
  ]) {
    program.addCommand(command);
  }
  // Added commands do not inherit output settings: apply them to the whole tree.
  const configure = (command: Command) => {
    command
      .showHelpAfterError()
      .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`); resolves with the exit code: 0, 1 for a
 * failure (reported as `error: ...` on stderr), 2 for usage errors and missing values.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = createProgram(io);
  const exitOverride = (command: Command) => {
    command.exitOverride();
    for (const sub of command.commands) exitOverride(sub);
  };
  exitOverride(program);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ? 0 : 2;
    }
    if (error instanceof CliExit) {
      io.err(`${error.message}\n`);
      return error.exitCode;
    }
    io.err(`error: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
