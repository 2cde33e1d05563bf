// Processor benchmark, workload (a) of ARCHITECTURE §11: time-series counters (small
// messages, many keys; count and sum per key) on 8 partitions with LevelDB state.
// Each pipeline runs in its own process against the same input, in this order:
//   raw        the kafkajs consume→produce pipe of the same messages (the baseline)
//   at-least-once, exactly-once, exactly-once-transactional   toka processors
//   <guarantee>.kafkajs-reads   the same with kafkajs's consumer fetching the group's records
// Two phases: throughput over a backlog, then latency at a fixed rate.
//   tsx bench/processor.bench.ts [--messages 1000000] [--keys 100000] [--rate 5000] [--seconds 10]
//                                [--heap-mb 256] [--batch-bytes 1048576] [--concurrency 8]
//                                [--modes raw,at-least-once,...] [--rounds 1] [--value-bytes 0]
//                                [--cpu-prof-dir DIR] [--commit-interval-ms N] [--cache-max-bytes N]
// --seconds 0 skips the latency phase. With --rounds N the throughput phase runs the
// pipelines N times in turn over the same backlog and reports each pipeline's median
// throughput, the median of its per-round ratios and its highest RSS: the machine may
// be busy with other work.
// Uses KAFKA_BROKERS, or starts the local broker (scripts/kafka.sh).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { benchBrokers } from "./bench-brokers.js";
import { compiledPipeline } from "./compiled-pipeline.js";
import { deferred } from "./deferred.js";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    keys: { type: "string", default: "100000" },
    // Pads each value with spaces to this many bytes (the number still parses): shows
    // how fetch and batch sizes behave with larger messages.
    "value-bytes": { type: "string", default: "0" },
    partitions: { type: "string", default: "8" },
    rate: { type: "string", default: "5000" },
    seconds: { type: "string", default: "10" },
    modes: { type: "string", default: "raw,at-least-once,exactly-once,exactly-once-transactional" },
    // Caps each pipeline's V8 heap: without a cap, V8 grows the heap freely on a large
    // machine and peak RSS says more about the garbage collector than about the pipeline.
    "heap-mb": { type: "string" },
    // Bytes fetched per partition and request, the same for every pipeline. Default: the
    // processor's default.
    "batch-bytes": { type: "string" },
    // Partitions processed at the same time, the same for every pipeline. Default: the
    // processor's default.
    concurrency: { type: "string" },
    rounds: { type: "string", default: "1" },
    // Writes a V8 CPU profile of each pipeline process into this directory (open it in
    // Chrome's DevTools): where a pipeline's time goes.
    "cpu-prof-dir": { type: "string" },
    // The toka pipelines' write-back cache interval, the same for each. Default: the
    // processor's default.
    "commit-interval-ms": { type: "string" },
    // The toka pipelines' write-back cache bound (input bytes per partition), the same for
    // each. Default: the processor's default.
    "cache-max-bytes": { type: "string" },
  },
});
const messages = Number(args.messages);
const keys = Number(args.keys);
const valueBytes = Number(args["value-bytes"]);
const partitions = Number(args.partitions);
const modes = args.modes.split(",");

const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench", logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const run = randomBytes(3).toString("hex");
const pipelineScript = compiledPipeline();

async function topic(name: string) {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [name, `${name}-out`].map((t) => ({ topic: t, numPartitions: partitions })),
  });
  return name;
}

/** Produces `count` counter samples (key among `keys`, small numeric value). */
async function produce(name: string, count: number, ratePerSecond?: number) {
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  // Requests within the broker's 1 MiB message size limit.
  const fits = Math.floor((512 * 1024) / (valueBytes + 32));
  const chunk = Math.min(
    ratePerSecond ? Math.max(1, Math.floor(ratePerSecond / 20)) : 10_000,
    fits,
  );
  const started = Date.now();
  for (let sent = 0; sent < count; sent += chunk) {
    const n = Math.min(chunk, count - sent);
    const batch = Array.from({ length: n }, (_, i) => ({
      key: `sensor-${((sent + i) * 2654435761) % keys}`,
      value: String((sent + i) % 100).padEnd(valueBytes),
    }));
    await producer.send({ topic: name, acks: -1, messages: batch });
    if (ratePerSecond) {
      const due = started + ((sent + n) / ratePerSecond) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  }
  await producer.disconnect();
}

interface Result {
  mode: string;
  /** Sampled peaks in MiB: rss, heapTotal, heapUsed, external, arrayBuffers. */
  peakMb: Record<string, number>;
  messages: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  maxRssMb: number;
}

/** Starts a pipeline process; resolves `ready` when it is consuming and `result` at the end. */
function pipeline(mode: string, input: string, expected: number, round = 0) {
  const heap = args["heap-mb"] ? [`--max-old-space-size=${args["heap-mb"]}`] : [];
  const profile = args["cpu-prof-dir"]
    ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof-dir"]}`]
    : [];
  const child = spawn(process.execPath, [...heap, ...profile, pipelineScript], {
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(","),
      BENCH_MODE: mode,
      BENCH_INPUT: input,
      BENCH_MESSAGES: String(expected),
      BENCH_BATCH_BYTES: args["batch-bytes"] ?? "",
      BENCH_CONCURRENCY: args.concurrency ?? "",
      BENCH_COMMIT_INTERVAL_MS: args["commit-interval-ms"] ?? "",
      BENCH_CACHE_MAX_BYTES: args["cache-max-bytes"] ?? "",
      BENCH_GROUP: `bench-${run}-${mode}-${input}-${round}`,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = deferred<void>();
  const result = deferred<Result>();
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if (line.event === "ready") ready.resolve();
      if (line.event === "result") result.resolve(line);
      if (line.event === "failed") result.reject(new Error(`${mode}: ${line.message}`));
    }
  });
  child.on("exit", (code) => {
    if (code !== 0) result.reject(new Error(`${mode} exited with ${code}`));
  });
  return { ready: ready.promise, result: result.promise };
}

console.log(
  `workload (a): ${messages} messages${valueBytes ? ` of ${valueBytes} bytes` : ""}, ${keys} keys, ${partitions} partitions; brokers ${brokers.join(",")}; heap cap ${args["heap-mb"] ?? "none"} MB, ${args["batch-bytes"] ?? "default"} bytes per partition fetch, concurrency ${args.concurrency ?? "default"}`,
);
const backlog = await topic(`bench-${run}-backlog`);
let t = Date.now();
await produce(backlog, messages);
console.log(`produced the backlog in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const rounds = Number(args.rounds);
const runs = new Map<string, Result[]>(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round++) {
  for (const mode of modes) {
    t = Date.now();
    const result = await pipeline(mode, backlog, messages, round).result;
    runs.get(mode)!.push(result);
    const peaks = Object.entries(result.peakMb)
      .map(([name, mb]) => `${name} ${mb}`)
      .join(", ");
    console.log(
      `  ${mode}: ${Math.round(result.perSecond)} msgs/s, done in ${((Date.now() - t) / 1000).toFixed(1)} s; peak MB: ${peaks}`,
    );
  }
}
/** Per pipeline: the median throughput of its rounds and the highest peak RSS. */
const throughput: Result[] = modes.map((mode) => {
  const results = runs.get(mode)!;
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  return {
    ...sorted[Math.floor((sorted.length - 1) / 2)]!,
    maxRssMb: Math.max(...results.map((r) => r.maxRssMb)),
  };
});

const rate = Number(args.rate);
const liveMessages = rate * Number(args.seconds);
const latency: Result[] = [];
for (const mode of liveMessages > 0 ? modes : []) {
  const live = await topic(`bench-${run}-live-${mode}`);
  const p = pipeline(mode, live, liveMessages);
  await p.ready;
  await produce(live, liveMessages, rate);
  latency.push(await p.result);
}
await admin.disconnect();

/**
 * The median over rounds of `mode`'s throughput divided by `of`'s in the same round:
 * pipelines of one round ran one after the other, so other load on the machine skews
 * their ratio less than the ratio of medians taken from different rounds.
 */
function ratio(mode: string, of: string): string {
  const ours = runs.get(mode);
  const theirs = runs.get(of);
  if (!ours || !theirs) return "-";
  const ratios = ours
    .map((r, round) => r.perSecond / theirs[round]!.perSecond)
    .sort((a, b) => a - b);
  return ratios[Math.floor((ratios.length - 1) / 2)]!.toFixed(2);
}
console.log(
  `\nthroughput over a backlog of ${messages} messages; latency at ${rate} msg/s for ${args.seconds} s`,
);
console.log(
  "| pipeline | msgs/s | ratio to raw pipe | ratio to at-least-once | p50 ms | p99 ms | peak RSS MB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of throughput) {
  const l = latency.find((x) => x.mode === r.mode);
  console.log(
    `| ${r.mode} | ${Math.round(r.perSecond)} | ${ratio(r.mode, "raw")} | ${ratio(r.mode, "at-least-once")} | ${l?.p50 ?? "-"} | ${l?.p99 ?? "-"} | ${Math.round(Math.max(r.maxRssMb, l?.maxRssMb ?? 0))} |`,
  );
}
