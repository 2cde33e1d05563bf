// One variant of the state-store benchmark, in a process of its own so that its peak
// RSS is its own. Started by state-store.bench.ts; prints one JSON line with the result.
//
//   tsx bench/state-store-run.ts <variant> <dir> <keys> <batch> <valueBytes> <lookups>
//     <random|json> [<options JSON>]
//
// Variants: "raw-array" and "raw-chained" use classic-level directly (the baselines);
// "toka" uses @toka/state-store's levelStorage with its defaults, or the given options.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type LevelStorageOptions, levelStorage, type Storage } from "@toka/state-store";

/** What a run reports (times in ms, sizes in bytes). */
export interface RunResult {
  variant: string;
  keys: number;
  writeMs: number;
  lookups: number;
  getManyMs: number;
  iterated: number;
  iterateMs: number;
  statsMs: number | undefined;
  bytesOnDisk: number | undefined;
  /** Highest `process.memoryUsage().rss` sampled during the run. */
  peakRssSampled: number;
  /** `process.resourceUsage().maxRSS`, the kernel's peak for the process. */
  maxRss: number;
  rssByPhase: Record<string, number>;
  /** Linux only: the file-backed part of RSS (mmapped table files) at the end of each phase. */
  rssFileByPhase: Record<string, number>;
}

/** The part of classic-level's API the baselines use. */
interface RawLevel {
  open(): Promise<void>;
  close(): Promise<void>;
  batch(operations: { type: "put"; key: string; value: Uint8Array }[]): Promise<void>;
  batch(): { put(key: string, value: Uint8Array): unknown; write(): Promise<void> };
  getMany(keys: string[]): Promise<(Uint8Array | undefined)[]>;
  iterator(options: { highWaterMarkBytes: number }): AsyncIterable<[string, Uint8Array]>;
}
type RawLevelClass = new (location: string, options: { valueEncoding: "view" }) => RawLevel;

/**
 * classic-level as the storage package loads it: `level` is a dependency of
 * @toka/state-store, not of the bench workspace, so it is resolved from there. This is
 * the same copy of LevelDB the storage layer uses.
 */
function rawLevel(): RawLevelClass {
  const require = createRequire(import.meta.resolve("@toka/state-store"));
  return (require("level") as { Level: RawLevelClass }).Level;
}

/** Primes that spread indexes over [0, n) in a fixed pseudo-random order. */
const WRITE_STRIDE = 1_000_003;
const LOOKUP_STRIDE = 7_919;

/** Key number `i` of a pseudo-random permutation of [0, n) (stride coprime to n). */
function permuted(i: number, n: number, stride: number): number {
  return (i * stride) % n;
}

function keyOf(index: number): string {
  return `user-${index.toString(36)}`;
}

/**
 * 4096 values of `bytes` bytes: "random" ones are incompressible (the worst case for
 * disk size and memory), "json" ones look like a table value (Snappy shrinks them).
 */
function valuePool(bytes: number, kind: string): Uint8Array[] {
  let state = 0x9e3779b9;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const encoder = new TextEncoder();
  return Array.from({ length: 4096 }, () => {
    if (kind === "json") {
      const json = JSON.stringify({
        balance: next() % 1_000_000,
        deposits: next() % 10_000,
        currency: "EUR",
        updatedAt: 1_700_000_000_000 + (next() % 100_000_000),
        note: next().toString(36),
      });
      return encoder.encode(json.padEnd(bytes, " ").slice(0, bytes));
    }
    const value = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) value[i] = next() & 0xff;
    return value;
  });
}

/** `RssFile` of /proc/self/status in bytes, or undefined off Linux. */
function rssFile(): number | undefined {
  try {
    const match = /^RssFile:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

async function main(): Promise<void> {
  const [variant, dir, keysArg, batchArg, valueArg, lookupsArg, valueKind, optionsArg] =
    process.argv.slice(2);
  const options = JSON.parse(optionsArg ?? "{}") as Omit<LevelStorageOptions, "path">;
  const n = Number(keysArg);
  const batch = Number(batchArg);
  const lookups = Number(lookupsArg);
  if (gcd(WRITE_STRIDE, n) !== 1 || gcd(LOOKUP_STRIDE, n) !== 1) {
    throw new Error(`the key count ${n} must be coprime to ${WRITE_STRIDE} and ${LOOKUP_STRIDE}`);
  }
  const values = valuePool(Number(valueArg), valueKind ?? "random");

  let peak = 0;
  const sample = (): number => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    return rss;
  };
  const sampler = setInterval(sample, 10);
  const rssByPhase: Record<string, number> = {};
  const rssFileByPhase: Record<string, number> = {};
  const phase = async (name: string, fn: () => Promise<void>): Promise<number> => {
    const before = peak;
    peak = 0;
    const start = performance.now();
    await fn();
    const ms = performance.now() - start;
    sample();
    rssByPhase[name] = peak;
    const file = rssFile();
    if (file !== undefined) rssFileByPhase[name] = file;
    peak = Math.max(peak, before);
    return ms;
  };

  let storage: Storage | undefined;
  let raw: RawLevel | undefined;
  if (variant === "toka") {
    storage = levelStorage({ ...options, path: dir! })("bench-table", 0);
    await storage.open();
  } else {
    raw = new (rawLevel())(dir!, { valueEncoding: "view" });
    await raw.open();
  }

  const writeMs = await phase("write", async () => {
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      if (storage !== undefined) {
        const puts: [string, Uint8Array][] = [];
        for (let i = start; i < end; i++) {
          const k = permuted(i, n, WRITE_STRIDE);
          puts.push([keyOf(k), values[k % values.length]!]);
        }
        await storage.write({
          puts,
          checkpoint: { tableOffset: String(end), inputOffsets: { input: String(end) } },
        });
      } else if (variant === "raw-chained") {
        const chained = raw!.batch();
        for (let i = start; i < end; i++) {
          const k = permuted(i, n, WRITE_STRIDE);
          chained.put(keyOf(k), values[k % values.length]!);
        }
        await chained.write();
      } else {
        const operations: { type: "put"; key: string; value: Uint8Array }[] = [];
        for (let i = start; i < end; i++) {
          const k = permuted(i, n, WRITE_STRIDE);
          operations.push({ type: "put", key: keyOf(k), value: values[k % values.length]! });
        }
        await raw!.batch(operations);
      }
    }
  });

  const getManyMs = await phase("getMany", async () => {
    for (let start = 0; start < lookups; start += batch) {
      const keys: string[] = [];
      for (let i = start; i < Math.min(lookups, start + batch); i++) {
        keys.push(keyOf(permuted(i, n, LOOKUP_STRIDE)));
      }
      const found = storage !== undefined ? await storage.getMany(keys) : await raw!.getMany(keys);
      if (found.some((value) => value === undefined)) throw new Error("a written key is missing");
    }
  });

  let iterated = 0;
  const iterateMs = await phase("iterate", async () => {
    if (storage !== undefined) {
      for await (const _ of storage.iterate()) iterated++;
    } else {
      // for await, as over the storage's AsyncIterable, and the same read-ahead budget,
      // so the ratio shows the layer's overhead.
      for await (const _ of raw!.iterator({ highWaterMarkBytes: 256 * 1024 })) iterated++;
    }
  });
  if (iterated !== n) throw new Error(`iterated ${iterated} entries, expected ${n}`);

  let statsMs: number | undefined;
  let bytesOnDisk: number | undefined;
  if (storage !== undefined) {
    statsMs = await phase("stats", async () => {
      const stats = await storage.stats();
      if (stats.keys !== n) throw new Error(`stats counted ${stats.keys} keys, expected ${n}`);
      bytesOnDisk = stats.bytesOnDisk;
    });
    await storage.close();
  } else {
    await raw!.close();
  }
  clearInterval(sampler);
  sample();

  const result: RunResult = {
    variant: variant!,
    keys: n,
    writeMs,
    lookups,
    getManyMs,
    iterated,
    iterateMs,
    statsMs,
    bytesOnDisk,
    peakRssSampled: Math.max(peak, ...Object.values(rssByPhase)),
    maxRss: process.resourceUsage().maxRSS * 1024,
    rssByPhase,
    rssFileByPhase,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
