// Codec benchmark: encode and decode throughput of one realistic order event as plain
// JSON, JSON checked by zod, and protobuf, with ratios to plain JSON measured in the
// same run.
//
//   tsc -b packages/codec && tsx bench/codec.bench.ts [--slice-ms 250] [--rounds 20]
//
// Each round runs every case for one slice, back to back, so that a burst of load from
// other processes hits neighbouring cases alike. The table shows each case's median
// slice, and every ratio is the median of the ratios within one round. MB/s counts the
// encoded bytes (10^6 bytes per MB). A benchmark prints numbers; it is not a test with
// a time limit.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { type Codec, jsonCodec, protobufCodec } from "@toka/codec";
import { OrderEventJson, OrderEventSchema, orderEvent, orderEventJson } from "./codec-event.js";

const { values: args } = parseArgs({
  options: {
    "slice-ms": { type: "string", default: "250" },
    rounds: { type: "string", default: "20" },
  },
});
const SLICE_MS = Number(args["slice-ms"]);
const ROUNDS = Number(args.rounds);
const WARMUP_MS = 500;
const BATCH = 200;

/** Goal of the codec issue: protobuf decode at least this many times JSON+zod decode. */
const DECODE_GOAL = 2;

interface Case {
  label: string;
  /** Bytes one operation reads or writes. */
  size: number;
  /** Runs the operation once; the result feeds a sink so it cannot be optimized away. */
  op: () => unknown;
}

let sink = 0;
function consume(value: unknown): void {
  sink = (sink + (value instanceof Uint8Array ? value.byteLength : value === null ? 0 : 1)) | 0;
}

/** Operations per second of `op` over about `ms` milliseconds. */
function measure(op: () => unknown, ms: number): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i++) consume(op());
    ops += BATCH;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Ops/s of every case in every round: `result[case][round]`. */
function run(cases: Case[]): number[][] {
  for (const c of cases) measure(c.op, WARMUP_MS);
  const rates: number[][] = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) rates[i]!.push(measure(c.op, SLICE_MS));
  }
  return rates;
}

/** Median over the rounds of `rates[a][round] / rates[b][round]`. */
function medianRatio(a: number[], b: number[]): number {
  return median(a.map((rate, round) => rate / b[round]!));
}

const plain = jsonCodec<typeof orderEventJson>();
const zod = jsonCodec(OrderEventJson);
const protobuf = protobufCodec(OrderEventSchema);

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

// Each codec must round-trip the event before its speed means anything.
const bytes = {
  json: encodeChecked(plain, orderEventJson),
  zod: encodeChecked(zod, orderEventJson),
  protobuf: encodeChecked(protobuf, orderEvent),
};

const PLAIN_JSON = "jsonCodec() (plain JSON)";
const encodeCases: Case[] = [
  {
    label: "JSON.stringify + TextEncoder",
    size: bytes.json.byteLength,
    op: () => textEncoder.encode(JSON.stringify(orderEventJson)),
  },
  { label: PLAIN_JSON, size: bytes.json.byteLength, op: () => plain.encode(orderEventJson) },
  {
    label: "jsonCodec(zod schema)",
    size: bytes.zod.byteLength,
    op: () => zod.encode(orderEventJson),
  },
  {
    label: "protobufCodec",
    size: bytes.protobuf.byteLength,
    op: () => protobuf.encode(orderEvent),
  },
];
const decodeCases: Case[] = [
  {
    label: "TextDecoder + JSON.parse",
    size: bytes.json.byteLength,
    op: () => JSON.parse(textDecoder.decode(bytes.json)),
  },
  { label: PLAIN_JSON, size: bytes.json.byteLength, op: () => plain.decode(bytes.json) },
  { label: "jsonCodec(zod schema)", size: bytes.zod.byteLength, op: () => zod.decode(bytes.zod) },
  {
    label: "protobufCodec",
    size: bytes.protobuf.byteLength,
    op: () => protobuf.decode(bytes.protobuf),
  },
];

console.log(
  `codec benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ` +
    `load ${loadavg()[0]!.toFixed(1)}; ${ROUNDS} rounds of ${SLICE_MS} ms per case`,
);
console.log(
  `event: JSON ${bytes.json.byteLength} bytes, protobuf ${bytes.protobuf.byteLength} bytes ` +
    `(${(bytes.protobuf.byteLength / bytes.json.byteLength).toFixed(2)}x)\n`,
);

const encodeRates = run(encodeCases);
const decodeRates = run(decodeCases);
printTable("encode", encodeCases, encodeRates);
printTable("decode", decodeCases, decodeRates);

const indexOf = (label: string) => decodeCases.findIndex((c) => c.label === label);
const rounds = (label: string) => decodeRates[indexOf(label)]!;
const decodeRatio = medianRatio(rounds("protobufCodec"), rounds("jsonCodec(zod schema)"));
const perRound = rounds("protobufCodec").map(
  (rate, r) => rate / rounds("jsonCodec(zod schema)")[r]!,
);
console.log(
  `protobuf decode / JSON+zod decode: ${decodeRatio.toFixed(2)}x, median of ${ROUNDS} rounds ` +
    `(rounds ranged ${Math.min(...perRound).toFixed(2)}x to ${Math.max(...perRound).toFixed(2)}x; ` +
    `goal ≥ ${DECODE_GOAL}x: ${decodeRatio >= DECODE_GOAL ? "met" : "NOT met"})`,
);
console.log(`load at the end: ${loadavg()[0]!.toFixed(1)}`);
if (sink === 42) console.log(""); // keeps the sink observable

function printTable(direction: string, cases: Case[], rates: number[][]): void {
  const base = rates[cases.findIndex((c) => c.label === PLAIN_JSON)]!;
  const rows = cases.map((c, i) => {
    const rate = median(rates[i]!);
    return [
      c.label,
      `${Math.round(rate).toLocaleString("en-US")}`,
      ((rate * c.size) / 1e6).toFixed(1),
      `${(1e9 / rate).toFixed(0)} ns`,
      `${medianRatio(rates[i]!, base).toFixed(2)}x`,
    ];
  });
  const header = [direction, "ops/s", "MB/s", "per op", "vs plain JSON"];
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join(" | ")} |`;
  console.log(line(header));
  console.log(
    `|${widths.map((w, col) => (col === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`,
  );
  for (const row of rows) console.log(line(row));
  console.log("");
}

/** `codec.encode(value)`, after checking that decoding it and encoding again gives the same bytes. */
function encodeChecked<T>(codec: Codec<T>, value: T): Uint8Array {
  const encoded = codec.encode(value);
  if (Buffer.compare(codec.encode(codec.decode(encoded)), encoded) !== 0) {
    throw new Error(`${codec.name} does not round-trip the benchmark event`);
  }
  return encoded;
}
