// Failover benchmark: how long the partitions of a killed instance go unprocessed, for
// each --standby-replicas setting in turn (one group each, on the same broker).
// A group's table of --keys keys over --partitions partitions is written to its table
// topic; --instances processes (bench/failover/instance.ts, each with its own LevelDB)
// restore it and run (with standbys: until every partition has a caught-up standby). A
// probe message goes to every partition every --probe-ms. Then the instance owning the
// most partitions is killed with SIGKILL. A partition's failover time runs from the kill
// until another instance processes one of its probes; the benchmark prints each, the
// longest, and its parts: the group noticing the death (bounded by the session timeout)
// and the new owners' restores of the moved table partitions; then a table of the settings.
//   tsx bench/failover.bench.ts [--keys 1000000] [--partitions 8] [--instances 3]
//     [--session-timeout-ms 3000] [--standby-replicas 0,1] [--probe-ms 50]
// A session timeout below 6 s needs the brokers' group.min.session.timeout.ms lowered
// (scripts/kafka.sh sets 1 s).
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
    "session-timeout-ms": { type: "string", default: "3000" },
    "standby-replicas": { type: "string", default: "0,1" },
    "probe-ms": { type: "string", default: "50" },
  },
});
const keys = Number(args.keys);
const partitions = Number(args.partitions);
const instanceCount = Number(args.instances);
const sessionTimeoutMs = Number(args["session-timeout-ms"]);
const probeMs = Number(args["probe-ms"]);
const standbySettings = args["standby-replicas"].split(",").map(Number);
const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench", logLevel: logLevel.NOTHING });
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

/** What one setting's failover took. */
interface Outcome {
  readonly standbyReplicas: number;
  /** From the kill until the last moved partition processed a probe again. */
  readonly longestMs: number;
  /** From the kill until the first new owner began restoring. */
  readonly gaveAwayMs: number;
  /** Table records the new owners restored, over all moved partitions. */
  readonly restoredRecords: number;
  /** The longest restore of a moved partition. */
  readonly longestRestoreMs: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function waitFor(what: string, done: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the instances of one group with `standbyReplicas`, kills one, measures. */
async function measure(standbyReplicas: number): Promise<Outcome> {
  const run = `failover-${Date.now()}`;
  const group = `${run}-group`;
  const input = `${run}-probes`;
  const processed: Processed[] = [];
  const recovered: Recovered[] = [];
  /** Each standby's lag, by `instance/partition`, while it stands by. */
  const standbyLag = new Map<string, number>();
  const children: ChildProcess[] = [];

  const startInstance = (instance: number, stateDir: string): ChildProcess => {
    const child = spawn(process.execPath, ["--import", "tsx", instanceScript], {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(","),
        FAILOVER_GROUP: group,
        FAILOVER_INPUT: input,
        FAILOVER_STATE_DIR: stateDir,
        FAILOVER_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
        FAILOVER_STANDBY_REPLICAS: String(standbyReplicas),
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
      if (event.event === "standby") standbyLag.set(`${instance}/${partition}`, Number(event.lag));
      if (event.event === "standby-released") standbyLag.delete(`${instance}/${partition}`);
    });
    return child;
  };

  /** Sends a probe to every partition every probeMs until stopped. */
  const probe = async (signal: AbortSignal) => {
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
  };

  /** The instance that processed each partition's latest probe. */
  const owners = () => {
    const owner = new Map<number, number>();
    for (const p of processed) owner.set(p.partition, p.instance);
    return owner;
  };
  /** Partitions with a standby that has read its table to the end. */
  const caughtUpStandbys = () =>
    new Set(
      [...standbyLag].filter(([, lag]) => lag === 0).map(([key]) => Number(key.split("/")[1])),
    );

  console.log(`standbyReplicas ${standbyReplicas}:`);
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
    // Settled: every instance owns partitions, every partition was processed (and has a
    // caught-up standby when asked for), and no partition recovered for a while.
    await waitFor(
      "the instances to share the partitions and settle",
      () => {
        const owner = owners();
        const lastRecovery = Math.max(0, ...recovered.map((r) => r.at));
        return (
          owner.size === partitions &&
          new Set(owner.values()).size === instanceCount &&
          (standbyReplicas === 0 || caughtUpStandbys().size === partitions) &&
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
    let longestMs = 0;
    let restoredRecords = 0;
    let longestRestoreMs = 0;
    for (const partition of moved) {
      const back = takenOver(partition)!;
      const restore = recovered.find((r) => r.partition === partition && r.at > killedAt);
      longestMs = Math.max(longestMs, back.at - killedAt);
      restoredRecords += restore?.records ?? 0;
      longestRestoreMs = Math.max(longestRestoreMs, restore?.durationMs ?? 0);
      console.log(
        `    partition ${partition}: ${seconds(back.at - killedAt)} (instance ${back.instance}; restore of ${restore?.records ?? 0} records took ${seconds(restore?.durationMs ?? 0)})`,
      );
    }
    const firstRestore = recovered
      .filter((r) => r.at > killedAt)
      .reduce((first, r) => Math.min(first, r.at - r.durationMs), Number.POSITIVE_INFINITY);
    const gaveAwayMs = firstRestore - killedAt;
    console.log(
      `  failover: ${seconds(longestMs)}; the group gave the partitions away after ${seconds(gaveAwayMs)} (session timeout ${seconds(sessionTimeoutMs)})`,
    );
    return { standbyReplicas, longestMs, gaveAwayMs, restoredRecords, longestRestoreMs };
  } finally {
    probing.abort();
    await probes.catch(() => {});
    for (const child of children) child.kill("SIGKILL");
    for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
  }
}

console.log(
  `failover: ${keys} keys, ${partitions} partitions, ${instanceCount} instances, session timeout ${sessionTimeoutMs} ms; brokers ${brokers.join(",")}`,
);
const outcomes: Outcome[] = [];
for (const standbyReplicas of standbySettings) outcomes.push(await measure(standbyReplicas));
console.log(
  "\n| standbyReplicas | group gave the partitions away after | records restored by the new owners | longest restore | failover (longest) |",
);
console.log("|---:|---:|---:|---:|---:|");
for (const o of outcomes) {
  console.log(
    `| ${o.standbyReplicas} | ${seconds(o.gaveAwayMs)} | ${o.restoredRecords} | ${seconds(o.longestRestoreMs)} | ${seconds(o.longestMs)} |`,
  );
}
