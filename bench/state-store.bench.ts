// State-store benchmark: batched writes, getMany and full iteration over 1M keys with
// ~100-byte values, plus peak RSS, for @toka/state-store's LevelDB backend and for raw
// classic-level (the baselines, without the storage layer) in the same invocation.
//
//   tsc -b packages/state-store && tsx bench/state-store.bench.ts [--keys 1000000]
//     [--batch 500] [--value-bytes 100] [--lookups 500000] [--values random|json]
//     [--options '{"writeBufferSize":2097152}'] [--rounds 3]
//
// Each variant runs in a child process of its own, so each peak RSS is that variant's.
// Variants alternate within each round; throughputs are medians over the rounds (the
// machine may be busy with other work), RSS is the highest seen.
// Data goes to a temp directory that is deleted afterwards. A benchmark prints numbers;
// it is not a test with a time limit.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { RunResult } from "./state-store-run.js";

const { values: args } = parseArgs({
  options: {
    keys: { type: "string", default: "1000000" },
    batch: { type: "string", default: "500" },
    "value-bytes": { type: "string", default: "100" },
    lookups: { type: "string", default: "500000" },
    /** "random": incompressible bytes (worst case); "json": JSON-like text Snappy compresses. */
    values: { type: "string", default: "random" },
    /** levelStorage options for the toka variant, as JSON (defaults otherwise). */
    options: { type: "string", default: "{}" },
    rounds: { type: "string", default: "3" },
  },
});

/** Goals of the state-store issue. */
const WRITE_GOAL = 200_000;
const RSS_GOAL = 200 * 1024 * 1024;

const VARIANTS = [
  { name: "raw-array", label: "classic-level db.batch([...])" },
  { name: "raw-chained", label: "classic-level db.batch().put()…write()" },
  { name: "toka", label: "@toka/state-store levelStorage" },
] as const;
const BASELINE = "raw-chained";

function run(variant: string, dir: string): Promise<RunResult> {
  const script = fileURLToPath(new URL("./state-store-run.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      script,
      variant,
      dir,
      args.keys,
      args.batch,
      args["value-bytes"],
      args.lookups,
      args.values,
      ...(variant === "toka" ? [args.options] : []),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`variant ${variant} failed (exit code ${code}, signal ${signal})`));
        return;
      }
      resolve(JSON.parse(out.trim().split("\n").pop()!) as RunResult);
    });
  });
}

const perSecond = (count: number, ms: number): number => (count / ms) * 1000;
const thousands = (n: number): string => `${(n / 1000).toFixed(0)}k`;
const mb = (bytes: number | undefined): string =>
  bytes === undefined ? "-" : `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const ratio = (value: number, base: number): string => `${(value / base).toFixed(2)}x`;
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "toka-bench-state-store-"));
  const cleanup = (): Promise<void> => rm(root, { recursive: true, force: true });
  process.once("SIGINT", () => {
    void cleanup().then(() => process.exit(130));
  });
  try {
    console.log(
      `state-store: ${args.keys} keys, batches of ${args.batch}, ${args["value-bytes"]}-byte ${args.values} values, ${args.lookups} getMany lookups, levelStorage options ${args.options}; node ${process.version}`,
    );
    const results = new Map<string, RunResult[]>(VARIANTS.map(({ name }) => [name, []]));
    const rounds = Number(args.rounds);
    for (let round = 1; round <= rounds; round++) {
      for (const { name } of VARIANTS) {
        const result = await run(name, join(root, name));
        await rm(join(root, name), { recursive: true, force: true });
        results.get(name)!.push(result);
        console.log(
          `  round ${round}/${rounds} ${name}: write ${thousands(perSecond(result.keys, result.writeMs))}/s, getMany ${thousands(perSecond(result.lookups, result.getManyMs))}/s, iterate ${thousands(perSecond(result.iterated, result.iterateMs))}/s, maxRSS ${mb(result.maxRss)}`,
        );
      }
    }
    /** Median throughputs and the highest RSS of a variant's rounds. */
    const summary = (name: string) => {
      const runs = results.get(name)!;
      return {
        write: median(runs.map((r) => perSecond(r.keys, r.writeMs))),
        getMany: median(runs.map((r) => perSecond(r.lookups, r.getManyMs))),
        iterate: median(runs.map((r) => perSecond(r.iterated, r.iterateMs))),
        peakRssSampled: Math.max(...runs.map((r) => r.peakRssSampled)),
        maxRss: Math.max(...runs.map((r) => r.maxRss)),
        bytesOnDisk: runs[runs.length - 1]!.bytesOnDisk,
      };
    };
    const base = summary(BASELINE);
    const rows = VARIANTS.map(({ name, label }) => {
      const r = summary(name);
      return {
        variant: label,
        "write keys/s": `${thousands(r.write)} (${ratio(r.write, base.write)})`,
        "getMany keys/s": `${thousands(r.getMany)} (${ratio(r.getMany, base.getMany)})`,
        "iterate keys/s": `${thousands(r.iterate)} (${ratio(r.iterate, base.iterate)})`,
        "peak RSS sampled": mb(r.peakRssSampled),
        maxRSS: mb(r.maxRss),
        "on disk": mb(r.bytesOnDisk),
      };
    });
    console.table(rows);
    console.log(`ratios are against ${VARIANTS.find((v) => v.name === BASELINE)!.label}`);

    const toka = results.get("toka")!.at(-1)!;
    console.log(
      `toka RSS by phase (last round): ${Object.entries(toka.rssByPhase)
        .map(([phase, bytes]) => {
          const file = toka.rssFileByPhase[phase];
          return `${phase} ${mb(bytes)}${file === undefined ? "" : ` (file-backed ${mb(file)})`}`;
        })
        .join(", ")}; stats() over ${toka.keys} keys took ${toka.statsMs?.toFixed(0)} ms`,
    );
    const { write, maxRss, peakRssSampled } = summary("toka");
    const rss = Math.max(maxRss, peakRssSampled);
    console.log(
      `goals: write ${thousands(write)} keys/s ${write >= WRITE_GOAL ? "≥" : "<"} ${thousands(WRITE_GOAL)} ${write >= WRITE_GOAL ? "(met)" : "(MISSED)"}; ` +
        `peak RSS ${mb(rss)} ${rss < RSS_GOAL ? "<" : "≥"} ${mb(RSS_GOAL)} ${rss < RSS_GOAL ? "(met)" : "(MISSED)"}`,
    );
  } finally {
    await cleanup();
  }
}

await main();
