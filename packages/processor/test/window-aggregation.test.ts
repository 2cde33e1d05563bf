import { int32Codec, jsonCodec } from "@toka/codec";
import { memoryStorage, WindowStore, windowTableStorage } from "@toka/state-store";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type AggregateInput, WindowAggregation } from "../src/window-aggregation.js";
import { decodeWindowEntry } from "../src/window-entry.js";
import { type AnyWindowedAggregate, windowed } from "../src/windowed-aggregate.js";
import {
  session,
  sliding,
  type TimeWindows,
  tumbling,
  type WindowDefinition,
} from "../src/windows.js";

const TOPIC = "readings";
const Result = z.object({
  key: z.string(),
  start: z.number(),
  end: z.number(),
  value: z.number(),
  final: z.boolean(),
});

/** One sum aggregate over one partition's window store, as a partition runs it. */
async function sums(windows: TimeWindows | Exclude<WindowDefinition, TimeWindows>) {
  const storage = memoryStorage()("sums-windows", 0);
  await storage.open();
  const store = new WindowStore(storage);
  const definition: AnyWindowedAggregate = windowed("sums", windows as TimeWindows, int32Codec, {
    initial: () => 0,
    merge: (a, b) => a + b,
    output: "results",
  });
  const aggregation = new WindowAggregation(definition, store, {
    group: "sums",
    partition: 0,
    topic: "sums-windows",
    exactlyOnce: true,
    dedupIdsPerKey: 0,
    dedupMaxAgeMs: 0,
    outputCodec: jsonCodec(Result),
  });
  await aggregation.load(-1);
  return { aggregation, store };
}

function reading(offset: number, eventTime: number, streamTime: number): AggregateInput {
  return {
    key: "s1",
    eventTime,
    streamTime,
    topic: TOPIC,
    offset: String(offset),
    id: `${TOPIC}/0/${offset}`,
    explicitId: undefined,
    origin: undefined,
    timestamp: eventTime,
  };
}

/** Folds `amount` into the reading's windows; the outcome's kind. */
function fold(aggregation: WindowAggregation, input: AggregateInput, amount: number): string {
  const outcome = aggregation.prepare(input, (value) => (value as number) + amount);
  if (outcome.kind === "ready") outcome.commit();
  return outcome.kind;
}

/** A flush: closes what stream time closed, writes the changed windows to the store. */
async function flush(aggregation: WindowAggregation, store: WindowStore, streamTime: number) {
  const finals = aggregation.close(streamTime);
  const records = aggregation.records();
  await windowTableStorage(store, { endsChange: true }).write({
    puts: records.filter((r) => r.value !== null).map((r) => [r.key as string, r.value!]),
    deletes: records.filter((r) => r.value === null).map((r) => r.key as string),
  });
  aggregation.markWritten();
  return finals.map((f) => Result.parse(JSON.parse(new TextDecoder().decode(f.value!))));
}

describe("a windowed aggregate restarted at an earlier stream time than its windows' (exactly-once)", () => {
  // A crash after the windows were written (a final result among them) but before the
  // group table was: the partition restarts at the table's stream time and processes
  // again the messages that closed the window.
  it("finds the window whose final result is out, skips the messages it applied, and emits no second final", async () => {
    const { aggregation, store } = await sums(tumbling(10));
    expect(fold(aggregation, reading(0, 1, 1), 5)).toBe("ready");
    expect(fold(aggregation, reading(1, 7, 7), 3)).toBe("ready");
    expect(fold(aggregation, reading(2, 25, 25), 100)).toBe("ready");
    expect(await flush(aggregation, store, 25)).toEqual([
      { key: "s1", start: 0, end: 10, value: 8, final: true },
    ]);

    await aggregation.load(7); // the group table's stream time: before offset 2
    // A message the window had not seen is late for it, open as stream time says it is:
    // its final result is out.
    expect(fold(aggregation, reading(3, 8, 8), 1)).toBe("late");
    expect(fold(aggregation, reading(2, 25, 25), 100)).toBe("applied-before");
    expect(await flush(aggregation, store, 25)).toEqual([]);
    expect(decodedSums(await stored(store))).toEqual([
      [0, 8],
      [20, 100],
    ]);
  });

  it("replays messages before the close into the window as stored, not into a fresh one", async () => {
    const { aggregation, store } = await sums(tumbling(10));
    fold(aggregation, reading(0, 1, 1), 5);
    fold(aggregation, reading(1, 7, 7), 3);
    fold(aggregation, reading(2, 25, 25), 100);
    await flush(aggregation, store, 25);

    await aggregation.load(1); // restored before offset 1
    expect(fold(aggregation, reading(1, 7, 7), 3)).toBe("applied-before");
    expect(fold(aggregation, reading(2, 25, 25), 100)).toBe("applied-before");
    expect(await flush(aggregation, store, 25)).toEqual([]);
    expect(decodedSums(await stored(store))).toEqual([
      [0, 8],
      [20, 100],
    ]);
  });

  it("does the same for sliding windows whose final results are out", async () => {
    const { aggregation, store } = await sums(sliding(10));
    expect(fold(aggregation, reading(0, 11, 11), 5)).toBe("ready");
    expect(fold(aggregation, reading(1, 15, 15), 3)).toBe("ready");
    expect(fold(aggregation, reading(2, 40, 40), 100)).toBe("ready");
    const finals = await flush(aggregation, store, 40);
    expect(finals.map((f) => [f.start, f.value])).toEqual([
      [1, 5],
      [5, 8],
      [12, 3],
    ]);

    await aggregation.load(11); // restored before offset 1
    expect(fold(aggregation, reading(1, 15, 15), 3)).toBe("applied-before");
    expect(fold(aggregation, reading(2, 40, 40), 100)).toBe("applied-before");
    expect(await flush(aggregation, store, 40)).toEqual([]);
  });

  it("does the same for a session whose final result is out", async () => {
    const { aggregation, store } = await sums(session(5));
    fold(aggregation, reading(0, 1, 1), 5);
    fold(aggregation, reading(1, 4, 4), 3);
    fold(aggregation, reading(2, 30, 30), 100);
    expect(await flush(aggregation, store, 30)).toEqual([
      { key: "s1", start: 1, end: 5, value: 8, final: true },
    ]);

    await aggregation.load(1);
    expect(fold(aggregation, reading(1, 4, 4), 3)).toBe("applied-before");
    expect(fold(aggregation, reading(3, 6, 6), 1)).toBe("late");
    expect(fold(aggregation, reading(2, 30, 30), 100)).toBe("applied-before");
    expect(await flush(aggregation, store, 30)).toEqual([]);
    expect(decodedSums(await stored(store))).toEqual([
      [1, 8],
      [30, 100],
    ]);
  });
});

async function stored(store: WindowStore) {
  const out = [];
  for await (const window of store.fetch("s1", 0, Number.MAX_SAFE_INTEGER)) out.push(window);
  return out;
}

/** [start, sum] of stored windows. */
function decodedSums(windows: readonly { start: number; value: Uint8Array }[]) {
  return windows.map(({ start, value }) => [
    start,
    int32Codec.decode(decodeWindowEntry(value).aggregate),
  ]);
}
