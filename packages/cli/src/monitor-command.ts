import { serveMonitor } from "@toka/monitor";
import { Command, InvalidArgumentError } from "commander";
import type { CliContext } from "./cli-context.js";

function parsePort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new InvalidArgumentError(`expected a port from 0 to 65535, got "${value}"`);
  }
  return port;
}

/**
 * `toka monitor`: serves the web monitor of the cluster's toka groups until interrupted
 * (SIGINT, SIGTERM). Without instances in its process it shows what the cluster knows:
 * members, assignment, lag and throughput from committed offsets, dead letters, tables.
 */
export function monitorCommand(context: CliContext, signal?: AbortSignal): Command {
  return new Command("monitor")
    .description("serve the web monitor: groups, partitions, lag, throughput, dead letters, tables")
    .option("-p, --port <port>", "TCP port (0 picks a free one)", parsePort, 8420)
    .option("-H, --host <host>", "interface to listen on", "127.0.0.1")
    .option(
      "--allowed-host <name...>",
      "Host header names answered besides the loopback names and --host",
    )
    .option("--token-env <variable>", "require the bearer token held in this environment variable")
    .action(
      async (options: {
        port: number;
        host: string;
        allowedHost?: string[];
        tokenEnv?: string;
      }) => {
        const { brokers, logger, ssl, sasl } = context.connection();
        const token = options.tokenEnv === undefined ? undefined : process.env[options.tokenEnv];
        if (options.tokenEnv !== undefined && !token) {
          throw new InvalidArgumentError(`environment variable ${options.tokenEnv} is not set`);
        }
        const service = await serveMonitor({
          brokers,
          ssl,
          sasl,
          ...(logger ? { logger } : {}),
          port: options.port,
          host: options.host,
          ...(options.allowedHost
            ? {
                allowedHosts: [
                  "localhost",
                  "127.0.0.1",
                  "::1",
                  options.host,
                  ...options.allowedHost,
                ],
              }
            : {}),
          ...(token ? { token } : {}),
        });
        context.io.err(`toka monitor at ${service.url}/monitor/ (Ctrl-C stops it)\n`);
        await stopped(signal);
        await service.close();
      },
    );
}

/** Resolves on SIGINT or SIGTERM, or when `signal` aborts (tests). */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
