import { execFile, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Why the secure broker cannot run here (no Java to run it, no openssl or keytool to
 * make its certificates), or `undefined` when it can.
 */
export function secureBrokerMissing(): string | undefined {
  for (const [tool, args] of [
    ["java", ["-version"]],
    ["keytool", ["-help"]],
    ["openssl", ["version"]],
  ] as const) {
    if (spawnSync(tool, args, { stdio: "ignore" }).error) {
      return `${tool} is not installed: the secure broker of scripts/kafka.sh cannot run`;
    }
  }
  return undefined;
}

/** The secure node of scripts/kafka.sh: its SASL_SSL listener and the CA that signed it. */
export interface SecureBroker {
  readonly brokers: string[];
  /** PEM of the CA that signed the broker's certificate. */
  readonly ca: Buffer;
  stop(): Promise<void>;
}

/**
 * Starts the secure node (`kafka.sh start secure`, port TOKA_KAFKA_SECURE_PORT); `stop`
 * stops it only if this call started it, or TOKA_KEEP_CLUSTER=1 keeps it.
 */
export async function startSecureBroker(): Promise<SecureBroker> {
  const wasRunning = await run("bash", [script, "status", "secure"]).then(
    () => true,
    () => false,
  );
  const { stdout } = await run("bash", [script, "start", "secure"], { timeout: 600_000 });
  const cache = process.env.TOKA_KAFKA_CACHE ?? `${root}/.cache/kafka`;
  return {
    brokers: stdout.trim().split("\n").at(-1)!.split(","),
    ca: await readFile(`${cache}/run/secure/tls/ca.pem`),
    stop: async () => {
      if (wasRunning || process.env.TOKA_KEEP_CLUSTER === "1") return;
      await run("bash", [script, "stop", "secure"], { timeout: 120_000 });
    },
  };
}
