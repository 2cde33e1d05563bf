// Failover benchmark: how long the partitions of a killed instance go unprocessed.
// A group's table of --keys keys over --partitions partitions is written to its table
// topic; --instances processes (bench/failover/instance.ts, each with its own LevelDB)
// restore it and run. A probe message goes to every partition every --probe-ms. Then the
// instance owning the most partitions is killed with SIGKILL. A partition's failover time
// runs from the kill until another instance processes one of its probes; the benchmark
// prints each, the longest, and its parts: the group noticing the death (bounded by the
// session timeout) and the new owners' restores of the moved table partitions.
//   tsx bench/failover.bench.ts [--keys 1000000] [--partitions 8] [--instances 3]
//     [--session-timeout-ms 6000] [--probe-ms 50]
// Uses KAFKA_BROKERS, or starts the local broker (scripts/kafka.sh).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { benchBrokers } from "./bench-brokers.js";
import { createTableBacklog } from "./table-backlog.js";

const { values: args } = parseArgs({
  options: {
    keys: { type: "string", default: "1000000" },
    partitions: { type: "string", default: "8" },
    instances: { type: "string", default: "3" },
    "session-timeout-ms": { type: "string", default: "6000" },
    "probe-ms": { type: "string", default: "50" },
  },
});
const keys = Number(args.keys);
const partitions = Number(args.partitions);
const instanceCount = Number(args.instances);
const sessionTimeoutMs = Number(args["session-timeout-ms"]);
const probeMs = Number(args["probe-ms"]);
const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench", logLevel: logLevel.NOTHING });
const run = `failover-${Date.now()}`;
const group = `${run}-group`;
const input = `${run}-probes`;
const instanceScript = fileURLToPath(new URL("./failover/instance.ts", import.meta.url));

/** How long the group must have been quiet (no partition recovered) before the kill. */
const SETTLED_MS = 3_000;

interface Processed {
  readonly instance: number;
  readonly partition: number;
  readonly at: number;
}
interface Recovered extends Processed {
  readonly records: number;
  readonly durationMs: number;
}

const processed: Processed[] = [];
const recovered: Recovered[] = [];
const children: ChildProcess[] = [];

function startInstance(instance: number, stateDir: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", instanceScript], {
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(","),
      FAILOVER_GROUP: group,
      FAILOVER_INPUT: input,
      FAILOVER_STATE_DIR: stateDir,
      FAILOVER_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const event = JSON.parse(line) as Record<string, number | string>;
    const at = Number(event.at);
    const partition = Number(event.partition);
    if (event.event === "processed") processed.push({ instance, partition, at });
    if (event.event === "recovered")
      recovered.push({
        instance,
        partition,
        at,
        records: Number(event.records),
        durationMs: Number(event.durationMs),
      });
  });
  return child;
}

/** Sends a probe to every partition every probeMs until stopped. */
async function probe(signal: AbortSignal) {
  const producer = kafka.producer();
  await producer.connect();
  while (!signal.aborted) {
    const sentAt = Date.now();
    await producer.send({
      topic: input,
      messages: Array.from({ length: partitions }, (_, partition) => ({
        partition,
        key: `probe-${partition}`,
        value: JSON.stringify({ sentAt }),
      })),
    });
    await new Promise((resolve) => setTimeout(resolve, probeMs));
  }
  await producer.disconnect();
}

async function waitFor(what: string, done: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The instance that processed each partition's latest probe. */
function owners(): Map<number, number> {
  const owner = new Map<number, number>();
  for (const p of processed) owner.set(p.partition, p.instance);
  return owner;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

console.log(
  `failover: ${keys} keys, ${partitions} partitions, ${instanceCount} instances, session timeout ${sessionTimeoutMs} ms, standbyReplicas 0; brokers ${brokers.join(",")}`,
);
await createTableBacklog(kafka, {
  table: `${group}-table`,
  input,
  partitions,
  records: keys,
  keys,
});
const stateDirs = await Promise.all(
  Array.from({ length: instanceCount }, () => mkdtemp(join(tmpdir(), "toka-failover-"))),
);
const probing = new AbortController();
const probes = probe(probing.signal);
try {
  for (let i = 0; i < instanceCount; i++) children.push(startInstance(i, stateDirs[i]!));
  // Settled: every instance owns partitions, every partition was processed, and no
  // partition recovered for a while.
  await waitFor(
    "the instances to share the partitions and settle",
    () => {
      const owner = owners();
      const lastRecovery = Math.max(0, ...recovered.map((r) => r.at));
      return (
        owner.size === partitions &&
        new Set(owner.values()).size === instanceCount &&
        Date.now() - lastRecovery > SETTLED_MS &&
        processed.some((p) => p.at > lastRecovery + SETTLED_MS)
      );
    },
    300_000,
  );
  const owner = owners();
  const byInstance = new Map<number, number[]>();
  for (const [partition, instance] of owner)
    byInstance.set(instance, [...(byInstance.get(instance) ?? []), partition]);
  const [victim, moved] = [...byInstance].sort((a, b) => b[1].length - a[1].length)[0]!;
  const killedAt = Date.now();
  children[victim]!.kill("SIGKILL");
  const takenOver = (partition: number) =>
    processed.find((p) => p.partition === partition && p.instance !== victim && p.at > killedAt);
  await waitFor(
    "the killed instance's partitions to be processed again",
    () => moved.every((p) => takenOver(p) !== undefined),
    300_000,
  );
  console.log(
    `  killed instance ${victim}, which owned partitions ${moved.join(", ")}; each processed again after:`,
  );
  let longest = 0;
  for (const partition of moved) {
    const back = takenOver(partition)!;
    const restore = recovered.find((r) => r.partition === partition && r.at > killedAt);
    longest = Math.max(longest, back.at - killedAt);
    console.log(
      `    partition ${partition}: ${seconds(back.at - killedAt)} (instance ${back.instance}; restore of ${restore?.records ?? 0} records took ${seconds(restore?.durationMs ?? 0)})`,
    );
  }
  const firstRestore = recovered
    .filter((r) => r.at > killedAt)
    .reduce((first, r) => Math.min(first, r.at - r.durationMs), Number.POSITIVE_INFINITY);
  console.log(
    `  failover: ${seconds(longest)}; the group gave the partitions away after ${seconds(firstRestore - killedAt)} (session timeout ${seconds(sessionTimeoutMs)})`,
  );
} finally {
  probing.abort();
  await probes.catch(() => {});
  for (const child of children) child.kill("SIGKILL");
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
}
