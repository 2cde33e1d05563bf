// One pipeline of the processor benchmark, run in a process of its own so that its peak
// RSS is its own: either the raw kafkajs consume→produce pipe (the baseline) or a toka
// processor counting and summing per key (workload a), materializing change data
// capture rows into its table (workload c), or aggregating sensor readings into
// one-minute tumbling windows and writing each window's final result (workload w,
// BENCH_WORKLOAD=windows). With BENCH_PHASE=restore a toka processor
// starts with an empty state directory, restores its table and stops: the result is the
// time that took. Reads its settings from the environment and prints one JSON line with
// its result.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Codec, jsonCodec, stringCodec } from "@toka/codec";
import {
  DEFAULTS,
  defineGroup,
  type Guarantee,
  output,
  Processor,
  persist,
  silentLogger,
  tumbling,
  type WindowResult,
  windowed,
} from "@toka/processor";
import { kafkajsClient } from "@toka/processor/kafka";
import { levelStorage } from "@toka/state-store";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { z } from "zod";
import { deferred } from "./deferred.js";
import {
  noStats,
  type Stats,
  statsCodec,
  statsResultCodec,
  WINDOW_MS,
  withReading,
} from "./sensor-stats.js";

const env = (name: string) => process.env[name] ?? "";
const brokers = env("KAFKA_BROKERS").split(",");
const mode = env("BENCH_MODE");
const input = env("BENCH_INPUT");
const expected = Number(env("BENCH_MESSAGES"));
const group = `${env("BENCH_GROUP")}`;
/** `counter` (workload a, the default), `cdc` (workload c) or `windows` (workload w). */
const workload = env("BENCH_WORKLOAD") || "counter";
/** `process` (the default) or `restore`. */
const phase = env("BENCH_PHASE") || "process";
/** Workload w: how long after a window's end, in stream time, readings are still taken. */
const graceMs = Number(env("BENCH_GRACE_MS") || "0");
/**
 * The value that deletes a row in workload c: toka hands input callbacks decoded values,
 * and an input tombstone (a null value) is a decode failure, so the CDC input for toka
 * marks deletes with this value instead.
 */
const DELETED = "__deleted";
/** Bytes fetched per partition and request; unset: the processor's default. */
const batchBytes = env("BENCH_BATCH_BYTES") ? Number(env("BENCH_BATCH_BYTES")) : undefined;
/** The write-back cache's commit interval; unset: the processor's default. */
const commitIntervalMs = env("BENCH_COMMIT_INTERVAL_MS")
  ? Number(env("BENCH_COMMIT_INTERVAL_MS"))
  : undefined;
const cacheMaxBytes = env("BENCH_CACHE_MAX_BYTES")
  ? Number(env("BENCH_CACHE_MAX_BYTES"))
  : undefined;
/** Partitions processed at the same time; unset: the processor's default. */
const concurrency = env("BENCH_CONCURRENCY") ? Number(env("BENCH_CONCURRENCY")) : undefined;

/**
 * Peaks of the process's memory, sampled: where peak RSS goes (V8's heap, buffers
 * outside it, or native memory such as LevelDB's caches, which is RSS minus the rest).
 */
const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  for (const name of Object.keys(peak) as (keyof typeof peak)[])
    peak[name] = Math.max(peak[name], usage[name]);
}, 50);
sampler.unref();

/**
 * Per-message end-to-end latency (from the input's timestamp to its committed effect),
 * counted per millisecond: a histogram rather than a list, so that the harness's memory
 * does not grow with the number of messages (a list of a million latencies is megabytes
 * of heap that V8 then grows around, inflating peak RSS).
 */
const latencies = new Map<number, number>();
let done = 0;
/** When the pipeline was ready to consume: throughput is measured from here. */
let readyAt = 0;
const finished = deferred<void>();

function account(timestamps: readonly number[]) {
  const now = Date.now();
  // Workload w's timestamps are event times an hour apart, not produce times: no latency,
  // and a histogram of hundreds of thousands of distinct values would weigh on peak RSS.
  if (workload !== "windows")
    for (const t of timestamps) latencies.set(now - t, (latencies.get(now - t) ?? 0) + 1);
  done += timestamps.length;
  if (done >= expected) finished.resolve();
}

function say(event: string, fields: object = {}) {
  if (event === "ready") readyAt = Date.now();
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

async function rawPipe() {
  const kafka = new Kafka({ brokers, clientId: group, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const consumer = kafka.consumer({
    groupId: group,
    // The same fetches as the processor's, so both decode the same batches.
    maxBytesPerPartition: batchBytes ?? DEFAULTS.maxBatchBytes,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  consumer.on(consumer.events.GROUP_JOIN, () => say("ready"));
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrency ?? DEFAULTS.concurrency,
    eachBatch: async ({ batch, resolveOffset }) => {
      const last = batch.messages.at(-1);
      if (!last) return;
      // Requests of at most 5,000 records and about 512 KiB, as toka's client sends them:
      // one request with a whole 1 MiB fetch (~47k small records) stalls the kafkajs
      // producer, and the broker refuses a partition's records above 1 MiB.
      const size = 64 + (last.value?.length ?? 0);
      const perRequest = Math.max(1, Math.min(5_000, Math.floor((512 * 1024) / size)));
      for (let i = 0; i < batch.messages.length; i += perRequest) {
        await producer.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic: `${input}-out`,
              messages: batch.messages.slice(i, i + perRequest).map((m) => ({
                key: m.key,
                value: m.value,
                headers: m.headers ?? {},
              })),
            },
          ],
        });
      }
      resolveOffset(last.offset);
      await consumer.commitOffsets([
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: (BigInt(last.offset) + 1n).toString(),
        },
      ]);
      account(batch.messages.map((m) => Number(m.timestamp)));
    },
  });
  return async () => {
    await consumer.disconnect();
    await producer.disconnect();
  };
}

/** Rows of the CDC table, counted by the callback from the value it found before. */
let rows = 0;
/**
 * Workload w: final window results written. toka encodes a result right before producing
 * it, so they are counted in the output's codec, as the Kafka Streams peer counts them in
 * a `peek` before its sink.
 */
let finals = 0;
const countedResults: Codec<WindowResult<Stats>> = {
  name: statsResultCodec.name,
  encode(result) {
    finals++;
    return statsResultCodec.encode(result);
  },
  decode: (bytes) => statsResultCodec.decode(bytes),
};
/** When the processor was constructed: restore time is measured from here. */
let startedAt = 0;
let recovered = 0;

async function tokaProcessor(guarantee: Guarantee) {
  const stateDir = await mkdtemp(join(tmpdir(), "toka-bench-"));
  const Totals = z.object({ count: z.number(), sum: z.number() });
  const pending = new Map<number, number[]>();
  const graph =
    workload === "windows"
      ? defineGroup(group, {
          outputs: [output(`${input}-out`, countedResults)],
          windows: [
            windowed("minute", tumbling(WINDOW_MS, { graceMs }), statsCodec, {
              initial: noStats,
              emit: "final",
              output: `${input}-out`,
            }),
          ],
          // The event time is the record's timestamp, as for the Kafka Streams peer.
          inputs: ({ input: edge }) => [
            edge(input, stringCodec, (ctx, reading) => {
              const value = Number(reading);
              ctx.aggregate("minute", (stats) => withReading(stats, value));
              const list = pending.get(ctx.partition) ?? [];
              pending.set(ctx.partition, list);
              list.push(ctx.timestamp);
            }),
          ],
        })
      : workload === "cdc"
        ? defineGroup(group, {
            persist: persist(stringCodec),
            inputs: ({ input: edge }) => [
              edge(input, stringCodec, (ctx, row) => {
                const existed = ctx.value() !== undefined;
                if (row === DELETED) {
                  if (existed) rows--;
                  ctx.delete();
                } else {
                  if (!existed) rows++;
                  ctx.setValue(row);
                }
                const list = pending.get(ctx.partition) ?? [];
                pending.set(ctx.partition, list);
                list.push(ctx.timestamp);
              }),
            ],
          })
        : defineGroup(group, {
            persist: persist(jsonCodec(Totals)),
            inputs: ({ input: edge }) => [
              edge(input, stringCodec, (ctx, amount) => {
                const t = ctx.value() ?? { count: 0, sum: 0 };
                ctx.setValue({ count: t.count + 1, sum: t.sum + Number(amount) });
                const list = pending.get(ctx.partition) ?? [];
                pending.set(ctx.partition, list);
                list.push(ctx.timestamp);
              }),
            ],
          });
  startedAt = Date.now();
  const processor = new Processor(graph, {
    brokers,
    // "<guarantee>.kafkajs-reads": the group's records come through kafkajs's consumer
    // instead of toka's own fetching, for comparison.
    ...(kafkajsReads
      ? {
          client: kafkajsClient({
            brokers,
            clientId: "toka-bench",
            logger: silentLogger,
            groupReads: "kafkajs",
          }),
        }
      : {}),
    guarantee,
    ...(batchBytes === undefined ? {} : { maxBatchBytes: batchBytes }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(commitIntervalMs === undefined ? {} : { commitIntervalMs }),
    ...(cacheMaxBytes === undefined ? {} : { cacheMaxBytes }),
    storage: levelStorage({ path: stateDir }),
    logger: silentLogger,
  });
  // Counted once durable: a batch's effects wait in the write-back cache until a flush.
  processor.on("partition.flushed", (e) => {
    account(pending.get(e.partition) ?? []);
    pending.delete(e.partition);
  });
  processor.on("partition.recovered", () => recovered++);
  processor.on("processor.failed", (e) => {
    say("failed", { message: e.message });
    process.exit(1);
  });
  await processor.start();
  await processor.waitFor("running");
  say("ready");
  return async () => {
    await processor.close();
    await rm(stateDir, { recursive: true, force: true });
  };
}

const [guarantee, reads] = mode.split(".");
const kafkajsReads = reads === "kafkajs-reads";
const stop = mode === "raw" ? await rawPipe() : await tokaProcessor(guarantee as Guarantee);
if (phase === "restore") {
  await stop();
  say("result", {
    mode,
    phase,
    seconds: (readyAt - startedAt) / 1000,
    recovered,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  });
  process.exit(0);
}
await finished.promise;
const seconds = (Date.now() - readyAt) / 1000;
// A window's final result is produced no later than the flush that makes the reading
// that closed it durable: once every reading is durable, so is every final result.
const finalsWhenDone = finals;
await stop();
const sortedLatencies = [...latencies].sort(([a], [b]) => a - b);
/** The latency below which a share `p` of the messages lies. */
function pct(p: number): number {
  let seen = 0;
  for (const [ms, count] of sortedLatencies) {
    seen += count;
    if (seen > done * p) return ms;
  }
  return sortedLatencies.at(-1)?.[0] ?? 0;
}
say("result", {
  mode,
  phase,
  ...(workload === "cdc" && mode !== "raw" ? { rows } : {}),
  ...(workload === "windows" ? { finalsWhenDone, finals } : {}),
  messages: done,
  seconds,
  perSecond: done / seconds,
  p50: pct(0.5),
  p99: pct(0.99),
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  peakMb: Object.fromEntries(
    Object.entries(peak).map(([name, bytes]) => [name, Math.round(bytes / 2 ** 20)]),
  ),
});
