// Peer benchmark of ARCHITECTURE §11: toka's three guarantees, Goka and Kafka Streams
// (each at its defaults) and the raw kafkajs pipe doing the same job on the same broker,
// in interleaved rounds, each contender a process of its own.
//   (a) counter samples: count and sum per key into persistent local state
//   (c) change data capture: upserts and deletes of rows materialized into a table
//   (w) windows: sensor readings over --span-minutes of event time into one-minute
//       tumbling windows (min, max, sum, count per sensor), only final results written
//       (a window's, once stream time passed its end and --grace-ms); run by toka
//       at-least-once and exactly-once and by Kafka Streams. The final results each
//       contender wrote are checked against the number the input must give.
// After each contender's run (but the raw pipe's), an empty instance of the same group
// starts with a fresh state directory and the time until its table is restored is
// measured.
//   tsx bench/peers.bench.ts [--workload a|c|w] [--messages 1000000]
//                            [--keys 100000|200000|10000] [--partitions 8] [--rounds 3]
//                            [--contenders raw,toka-alo,...] [--no-restore]
//                            [--span-minutes 60] [--grace-ms 10000] [--cpu-prof-dir DIR]
// Builds the peers first: bench/peers/goka with `go build` (modules from the Go module
// proxy) and bench/peers/kafka-streams with `mvn -q package` (Maven Central).
// Uses KAFKA_BROKERS, or starts the local broker (scripts/kafka.sh).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { benchBrokers } from "./bench-brokers.js";
import { compiledPipeline } from "./compiled-pipeline.js";
import { deferred } from "./deferred.js";
import { ExpectedFinals } from "./expected-finals.js";
import { WINDOW_MS } from "./sensor-stats.js";

const { values: args } = parseArgs({
  options: {
    workload: { type: "string", default: "a" },
    messages: { type: "string", default: "1000000" },
    // Default: 100,000 counters for (a), 200,000 primary keys for (c).
    keys: { type: "string" },
    partitions: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    contenders: { type: "string" },
    "no-restore": { type: "boolean", default: false },
    "span-minutes": { type: "string", default: "60" },
    "grace-ms": { type: "string", default: "10000" },
    // Writes a V8 CPU profile of each toka or raw pipe process into this directory.
    "cpu-prof-dir": { type: "string" },
  },
});
const workload = args.workload;
if (workload !== "a" && workload !== "c" && workload !== "w")
  throw new Error("--workload is a, c or w");
const messages = Number(args.messages);
const keys = Number(args.keys ?? { a: 100_000, c: 200_000, w: 10_000 }[workload]);
const spanMs = Number(args["span-minutes"]) * 60_000;
const graceMs = Number(args["grace-ms"]);
const partitions = Number(args.partitions);
const rounds = Number(args.rounds);

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const gokaDir = here("./peers/goka");
const streamsDir = here("./peers/kafka-streams");

/** How a contender's process starts; `restores` when it keeps a table to restore. */
interface Contender {
  name: string;
  command: string;
  args: string[];
  mode: string;
  restores: boolean;
  /** Reads the CDC input whose deletes are marked by a value rather than tombstones. */
  marked?: boolean;
}
const profile = args["cpu-prof-dir"]
  ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof-dir"]}`]
  : [];
const pipelineScript = compiledPipeline();
const node = (mode: string): Contender => ({
  name: mode === "raw" ? "raw kafkajs pipe" : `toka ${mode}`,
  command: process.execPath,
  args: [...profile, pipelineScript],
  mode,
  restores: mode !== "raw",
  marked: mode !== "raw",
});
const streams = (mode: string): Contender => ({
  name: `Kafka Streams ${mode}`,
  command: "java",
  args: [
    "-cp",
    `${join(streamsDir, "target/classes")}:${readFileSync(join(streamsDir, "target/classpath.txt"), "utf8").trim()}`,
    "dev.toka.bench.StreamsPeer",
  ],
  mode,
  restores: true,
});
const CONTENDERS: Record<string, () => Contender> = {
  raw: () => node("raw"),
  "toka-alo": () => node("at-least-once"),
  "toka-eo": () => node("exactly-once"),
  "toka-eot": () => node("exactly-once-transactional"),
  goka: () => ({
    name: "Goka",
    command: join(gokaDir, "bin/goka-peer"),
    args: [],
    mode: "goka",
    restores: true,
  }),
  "streams-alo": () => streams("at_least_once"),
  "streams-eos": () => streams("exactly_once_v2"),
};
/**
 * The contenders that run workload (w): Goka and the raw pipe have no windowed
 * aggregations, and toka's transactional mode is not compared on it yet.
 */
const WINDOWED = ["toka-alo", "toka-eo", "streams-alo", "streams-eos"];
const names = (
  args.contenders ?? (workload === "w" ? WINDOWED : Object.keys(CONTENDERS)).join(",")
).split(",");
for (const name of names) {
  if (!CONTENDERS[name])
    throw new Error(`unknown contender ${name}: use ${Object.keys(CONTENDERS).join(",")}`);
  if (workload === "w" && !WINDOWED.includes(name))
    throw new Error(`contender ${name} cannot run workload (w): only ${WINDOWED.join(",")} can`);
}

/** Newest modification time under `path` (a file or a directory tree), in ms. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

/** Builds the peers that run; `go build` and Maven skip work that is up to date. */
function buildPeers() {
  if (names.includes("goka")) {
    console.log("building the Goka peer (go build)");
    execFileSync("go", ["build", "-o", "bin/goka-peer", "."], {
      cwd: gokaDir,
      stdio: "inherit",
    });
  }
  if (names.some((name) => name.startsWith("streams-"))) {
    // Maven leaves unchanged outputs untouched: a stamp marks the last successful build.
    const stamp = join(streamsDir, "target/built");
    const sources = Math.max(newest(join(streamsDir, "pom.xml")), newest(join(streamsDir, "src")));
    if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
      console.log("building the Kafka Streams peer (mvn -q package)");
      execFileSync("mvn", ["-q", "-B", "package"], { cwd: streamsDir, stdio: "inherit" });
      writeFileSync(stamp, "");
    }
  }
}
buildPeers();
const contenders = names.map((name) => CONTENDERS[name]!());

const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench", logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const run = randomBytes(3).toString("hex");

/** A deterministic pseudo-random sequence (mulberry32), so every run has the same input. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The marker toka's CDC input carries instead of a tombstone (see processor-pipeline.ts). */
const DELETED = "__deleted";

/** When the event time of workload (w) begins: a fixed minute, so windows align alike. */
const WINDOWS_EPOCH = Date.UTC(2026, 0, 1);

/**
 * Produces the input once: for (a) counter samples (key among `keys`, small numeric
 * value); for (c) rows upserted under `keys` primary keys with about one message in ten
 * a delete, written twice: with tombstones, and with delete markers for toka; for (w)
 * readings of `keys` sensors whose timestamps spread evenly over the span, each up to
 * five seconds out of order. Returns the topics and, for (c), the number of rows the
 * table ends with, for (w) the number of final results.
 */
async function produceInput() {
  const input = `bench-${run}-${{ a: "counters", c: "cdc", w: "readings" }[workload]}`;
  const marked = `${input}-marked`;
  const topics = workload === "c" ? [input, marked] : [input];
  // The readings of (w) are timestamped at WINDOWS_EPOCH, which may lie further back than
  // the broker's retention (7 days): time-based retention would delete them at its next
  // check, minutes after they were produced, before the later contenders read them.
  const configEntries = workload === "w" ? [{ name: "retention.ms", value: "-1" }] : [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics
      .flatMap((t) => [t, `${t}-out`])
      .map((topic) => ({ topic, numPartitions: partitions, configEntries })),
  });
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const next = random(42);
  const live = new Set<number>();
  const finals = new ExpectedFinals(input, partitions, WINDOW_MS, graceMs);
  const chunk = 5_000;
  for (let sent = 0; sent < messages; sent += chunk) {
    const n = Math.min(chunk, messages - sent);
    if (workload === "w") {
      const batch = Array.from({ length: n }, (_, i) => {
        const key = `sensor-${Math.floor(next() * keys)}`;
        const value = String(Math.floor(next() * 400) - 100);
        const timestamp =
          WINDOWS_EPOCH + Math.floor(((sent + i) * spanMs) / messages) - Math.floor(next() * 5000);
        finals.observe(key, timestamp);
        return { key, value, timestamp: String(timestamp) };
      });
      await producer.send({ topic: input, acks: -1, messages: batch });
      continue;
    }
    if (workload === "a") {
      const batch = Array.from({ length: n }, (_, i) => ({
        key: `sensor-${((sent + i) * 2654435761) % keys}`,
        value: String((sent + i) % 100),
      }));
      await producer.send({ topic: input, acks: -1, messages: batch });
      continue;
    }
    const rows = Array.from({ length: n }, (_, i) => {
      const id = Math.floor(next() * keys);
      const deleted = next() < 0.1;
      if (deleted) live.delete(id);
      else live.add(id);
      return {
        key: `pk-${id}`,
        value: deleted
          ? null
          : JSON.stringify({ id, name: `row ${id}`, amount: (sent + i) % 1000, version: sent + i }),
      };
    });
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        { topic: input, messages: rows },
        { topic: marked, messages: rows.map((r) => ({ key: r.key, value: r.value ?? DELETED })) },
      ],
    });
  }
  await producer.disconnect();
  return {
    input,
    marked,
    rows: workload === "c" ? live.size : undefined,
    finals: workload === "w" ? finals.count : undefined,
  };
}

interface Result {
  messages?: number;
  seconds: number;
  perSecond?: number;
  rows?: number;
  /** Workload (w): final window results written when every reading was aggregated, and in all. */
  finalsWhenDone?: number;
  finals?: number;
  /** Peak RSS of the process (VmHWM), MB. */
  peakRssMb: number;
}

/** Peak RSS of a live process in MB: VmHWM from /proc, or 0 once it is gone. */
function vmHwmMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs one phase of a contender in its own process; resolves with its result line. */
async function runPhase(
  contender: Contender,
  phase: "process" | "restore",
  input: string,
  group: string,
): Promise<Result> {
  const stateDir = await mkdtemp(join(tmpdir(), "toka-peers-"));
  const child = spawn(contender.command, contender.args, {
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(","),
      BENCH_WORKLOAD: { a: "counter", c: "cdc", w: "windows" }[workload],
      BENCH_GRACE_MS: String(graceMs),
      BENCH_PHASE: phase,
      BENCH_MODE: contender.mode,
      BENCH_INPUT: input,
      BENCH_MESSAGES: String(messages),
      BENCH_PARTITIONS: String(partitions),
      BENCH_GROUP: group,
      BENCH_STATE_DIR: stateDir,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // VmHWM only grows; the last reading before the process exits is its peak.
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, vmHwmMb(child.pid!));
  }, 100);
  const result = deferred<Result>();
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!text.startsWith("{")) continue;
      const line = JSON.parse(text);
      if (line.event === "result") {
        peak = Math.max(peak, vmHwmMb(child.pid!));
        result.resolve({ ...line, peakRssMb: peak });
      }
      if (line.event === "failed") result.reject(new Error(`${contender.name}: ${line.message}`));
    }
  });
  // "close", not "exit": the result line may still be in the pipe when the process exits.
  child.on("close", (code) => {
    if (code !== 0) result.reject(new Error(`${contender.name} ${phase} exited with ${code}`));
    else result.reject(new Error(`${contender.name} ${phase} exited without a result`));
  });
  try {
    return await result.promise;
  } finally {
    clearInterval(sampler);
    await rm(stateDir, { recursive: true, force: true });
  }
}

console.log(
  `workload (${workload}): ${messages} messages, ${keys} keys, ${partitions} partitions, ${rounds} rounds${workload === "w" ? `, ${spanMs / 60_000} minutes of event time, grace ${graceMs} ms` : ""}; brokers ${brokers.join(",")}`,
);
const t = Date.now();
const { input, marked, rows: expectedRows, finals: expectedFinals } = await produceInput();
console.log(
  `produced the input in ${((Date.now() - t) / 1000).toFixed(1)} s${expectedRows === undefined ? "" : `; the table ends with ${expectedRows} rows`}${expectedFinals === undefined ? "" : `; ${expectedFinals} final results expected`}`,
);

if (names.includes("goka")) {
  // Goka creates its table topic when missing, then lists its offsets at once and fails
  // when the new partitions are not ready on their leader yet ("metadata is out of
  // date"). Created here for every round as Goka would (compacted), well ahead of use.
  await admin.createTopics({
    waitForLeaders: true,
    topics: Array.from({ length: rounds }, (_, round) => ({
      topic: `bench-${run}-goka-${round}-table`,
      numPartitions: partitions,
      configEntries: [{ name: "cleanup.policy", value: "compact" }],
    })),
  });
}

interface RoundResult {
  run: Result;
  restore?: Result;
}
const results = new Map<string, RoundResult[]>(contenders.map((c) => [c.name, []]));
const fmt = (n: number | undefined, digits = 0) =>
  n === undefined
    ? "-"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
for (let round = 0; round < rounds; round++) {
  console.log(`round ${round + 1}`);
  for (const contender of contenders) {
    const group = `bench-${run}-${contender.mode}-${round}`;
    const topic = workload === "c" && contender.marked ? marked : input;
    const result = await runPhase(contender, "process", topic, group);
    const restore =
      contender.restores && !args["no-restore"] && workload !== "w"
        ? await runPhase(contender, "restore", topic, group)
        : undefined;
    results.get(contender.name)!.push({ run: result, ...(restore ? { restore } : {}) });
    const rowCheck =
      result.rows === undefined
        ? ""
        : `, ${result.rows} rows${result.rows === expectedRows ? "" : ` (EXPECTED ${expectedRows})`}`;
    const finals =
      result.finals === undefined
        ? ""
        : `, ${fmt(result.finalsWhenDone)} final results written when done, ${fmt(result.finals)} after closing${result.finals === expectedFinals ? "" : ` (EXPECTED ${fmt(expectedFinals)})`}`;
    console.log(
      `  ${contender.name}: ${fmt(result.perSecond)} msgs/s (${fmt(result.seconds, 1)} s), peak RSS ${fmt(result.peakRssMb)} MB${rowCheck}${finals}${restore ? `; restored in ${fmt(restore.seconds, 2)} s, peak RSS ${fmt(restore.peakRssMb)} MB` : ""}`,
    );
  }
}
await admin.disconnect();

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};
/**
 * The median over rounds of `name`'s throughput divided by `of`'s in the same round:
 * contenders of one round ran one after the other, so other load on the machine skews
 * their ratio less than the ratio of medians taken from different rounds.
 */
function ratio(name: string, of: string): string {
  const ours = results.get(name);
  const theirs = results.get(of);
  if (!ours || !theirs) return "-";
  return median(ours.map((r, round) => r.run.perSecond! / theirs[round]!.run.perSecond!))!.toFixed(
    2,
  );
}
console.log(
  `\nworkload (${workload}), ${messages} messages, ${keys} keys, ${partitions} partitions: medians of ${rounds} rounds`,
);
console.log(
  "| contender | msgs/s | ratio to toka at-least-once | ratio to Kafka Streams at-least-once | peak RSS MB | restore s | restore peak RSS MB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const contender of contenders) {
  const rs = results.get(contender.name)!;
  const restores = rs.flatMap((r) => (r.restore ? [r.restore] : []));
  console.log(
    `| ${contender.name} | ${fmt(median(rs.map((r) => r.run.perSecond!)))} | ${ratio(contender.name, "toka at-least-once")} | ${ratio(contender.name, "Kafka Streams at_least_once")} | ${fmt(median(rs.map((r) => r.run.peakRssMb)))} | ${fmt(median(restores.map((r) => r.seconds)), 2)} | ${fmt(median(restores.map((r) => r.peakRssMb)))} |`,
  );
}
