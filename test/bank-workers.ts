import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { onTestFinished } from "vitest";
import { adminClient, waitUntil } from "./helpers.js";

const depositFixture = fileURLToPath(new URL("./fixtures/deposit-processor.ts", import.meta.url));

/** Environment of the bank processor fixture: which group, topics and guarantee. */
export interface BankEnv {
  readonly KAFKA_BROKERS: string;
  readonly TOKA_GROUP: string;
  readonly TOKA_INPUT: string;
  readonly TOKA_OUTPUT: string;
  readonly TOKA_GUARANTEE: string;
}

/** How many log lines of its process a worker keeps as evidence. */
const KEPT_LOG_LINES = 200;

/**
 * A processor fixture (the bank's by default) running in a process of its own;
 * restartable with the same state.
 */
export class BankWorker {
  child: ChildProcess | undefined;
  /** Failure lines the processor printed. */
  readonly failures: string[] = [];
  /**
   * The last lines the processes wrote to stderr (warnings, errors) and their lifecycle
   * events from stdout, with a line where each process started and was sent a signal.
   */
  readonly log: string[] = [];
  /** How many times the processor printed each event (its stdout's `event` lines). */
  readonly events = new Map<string, number>();

  constructor(
    private readonly env: BankEnv | Readonly<Record<string, string>>,
    readonly stateDir: string,
    private readonly fixture = depositFixture,
  ) {
    onTestFinished(() => this.kill());
  }

  /** Starts the process (again). */
  start(): this {
    const child = spawn(process.execPath, ["--import", "tsx", this.fixture], {
      env: { ...process.env, ...this.env, TOKA_STATE_DIR: this.stateDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (line.includes('"failed"')) this.failures.push(line);
        const event = /^\{"event":"([\w.-]+)"/.exec(line)?.[1];
        if (event) this.events.set(event, (this.events.get(event) ?? 0) + 1);
        if (event && event !== "late") this.keep(line);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line) this.keep(line);
    });
    // TOKA_WORKER_LOG_DIR keeps every line of every worker (with TOKA_LOG_LEVEL=info, the
    // processors' whole log), a file per state directory, when a chaos run needs study.
    const logDir = process.env.TOKA_WORKER_LOG_DIR;
    if (logDir) {
      const out = createWriteStream(`${logDir}/${this.stateDir.replace(/\W/g, "_")}.log`, {
        flags: "a",
      });
      child.stderr?.pipe(out);
      child.stdout?.pipe(out);
    }
    this.child = child;
    this.keep(`--- process ${child.pid} started at ${new Date().toISOString()}`);
    return this;
  }

  private keep(line: string) {
    this.log.push(line);
    if (this.log.length > KEPT_LOG_LINES) this.log.shift();
  }

  /** SIGKILL: no chance to finish anything. */
  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  /**
   * SIGTERM: leaves the group gracefully. Fails with the worker's log when the process
   * has not exited within `timeoutMs` (a close that hangs, or a handle left open).
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the worker of ${this.stateDir} did not exit within ${timeoutMs} ms of SIGTERM; its log:\n${this.log.join("\n")}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.signal("SIGTERM"), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async signal(signal: NodeJS.Signals) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    this.keep(`--- ${signal} sent to process ${child.pid} at ${new Date().toISOString()}`);
    child.kill(signal);
    await exited;
  }
}

/** Waits until `group` has committed every partition of `topic` up to its end. */
export async function waitForGroupCaughtUp(
  group: string,
  topic: string,
  timeoutMs = 180_000,
  brokerList?: readonly string[],
): Promise<void> {
  const admin = await adminClient(brokerList);
  // The partitions still behind, as "partition: committed/end", the evidence of a stall.
  let behind: string[] = [];
  await waitUntil(
    `group ${group} to commit every offset of ${topic}`,
    async () => {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      behind = ends.flatMap((e) => {
        const offset = committed?.partitions.find((p) => p.partition === e.partition)?.offset;
        return offset === e.high ? [] : [`${e.partition}: ${offset}/${e.high}`];
      });
      return behind.length === 0;
    },
    { timeoutMs, intervalMs: 500 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; partitions behind (committed/end): ${behind.join(", ")}`, {
      cause: error,
    });
  });
}
