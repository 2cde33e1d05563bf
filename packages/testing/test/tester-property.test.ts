import { jsonCodec } from "@toka/codec";
import { defineGroup, type Guarantee, output, persist } from "@toka/processor";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Tester } from "../src/index.js";

type Op = { readonly add: number } | { readonly reset: true };

/** Adds to a key's value; `reset` deletes the key. Emits every new value. */
const graph = defineGroup("folder", {
  persist: persist(jsonCodec<number>()),
  outputs: [output("values", jsonCodec<number | null>())],
  inputs: ({ input }) => [
    input("ops", jsonCodec<Op>(), (ctx, op) => {
      if ("reset" in op) {
        ctx.delete();
        ctx.emit("values", ctx.key, null);
        return;
      }
      const next = (ctx.value() ?? 0) + op.add;
      ctx.setValue(next);
      ctx.emit("values", ctx.key, next);
    }),
  ],
});

/** The sequential fold the processor must agree with. */
function fold(messages: readonly { key: string; op: Op }[]) {
  const table = new Map<string, number>();
  const emitted = new Map<string, (number | null)[]>();
  for (const { key, op } of messages) {
    const next = "reset" in op ? null : (table.get(key) ?? 0) + op.add;
    if (next === null) table.delete(key);
    else table.set(key, next);
    emitted.set(key, [...(emitted.get(key) ?? []), next]);
  }
  return { table, emitted };
}

const message = fc.record({
  key: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
  op: fc.oneof(
    { weight: 9, arbitrary: fc.record({ add: fc.integer({ min: -100, max: 100 }) }) },
    { weight: 1, arbitrary: fc.constant({ reset: true as const }) },
  ),
});

const scenario = fc.record({
  messages: fc.array(message, { maxLength: 150 }),
  partitions: fc.integer({ min: 1, max: 4 }),
  maxBatchRecords: fc.integer({ min: 1, max: 40 }),
  bursts: fc.integer({ min: 1, max: 5 }),
  guarantee: fc.constantFrom<Guarantee>(
    "at-least-once",
    "exactly-once",
    "exactly-once-transactional",
  ),
});

async function run(s: Scenario) {
  const tester = new Tester({ maxBatchRecords: s.maxBatchRecords });
  try {
    tester.createTopic("ops", s.partitions);
    tester.createTopic("values", s.partitions);
    await tester.startProcessor(graph, { guarantee: s.guarantee });
    // Bursts: the messages arrive in a few produce requests, so batches vary.
    const size = Math.ceil(s.messages.length / s.bursts) || 1;
    for (let i = 0; i < s.messages.length; i += size) {
      const burst = s.messages.slice(i, i + size).map(({ key, op }) => ({ key, value: op }));
      await tester.emitMany("ops", burst, { codec: jsonCodec<Op>() });
    }
    const emitted = new Map<string, (number | null)[]>();
    for (const m of tester.messages("values", jsonCodec<number | null>())) {
      emitted.set(m.key!, [...(emitted.get(m.key!) ?? []), m.value]);
    }
    return {
      table: await tester.table(graph),
      emitted,
      topics: ["ops", "values", "folder-table"].map((t) => tester.messages(t)),
    };
  } finally {
    await tester.close();
  }
}

interface Scenario {
  messages: { key: string; op: Op }[];
  partitions: number;
  maxBatchRecords: number;
  bursts: number;
  guarantee: Guarantee;
}

describe("the tester against a sequential fold", () => {
  test("the final table and each key's outputs equal a fold of the inputs, the same every run", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const expected = fold(s.messages);
        const first = await run(s);
        expect(first.table).toEqual(new Map([...expected.table].sort()));
        expect(first.emitted).toEqual(expected.emitted);
        const second = await run(s);
        expect(second.topics).toEqual(first.topics);
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});

describe("the tester against a sequential fold, while instances come and go", () => {
  test("joins and leaves of instances between bursts never change the final table", async () => {
    const step = fc.oneof(
      fc.record({ burst: fc.array(message, { minLength: 1, maxLength: 30 }) }),
      fc.constant({ join: true as const }),
      fc.constant({ leave: true as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<Guarantee>("at-least-once", "exactly-once", "exactly-once-transactional"),
        async (steps, partitions, guarantee) => {
          const tester = new Tester({ maxBatchRecords: 7 });
          try {
            tester.createTopic("ops", partitions);
            tester.createTopic("values", partitions);
            const instances = [await tester.startProcessor(graph, { guarantee })];
            const all: { key: string; op: Op }[] = [];
            for (const s of steps) {
              if ("burst" in s) {
                all.push(...s.burst);
                const burst = s.burst.map(({ key, op }) => ({ key, value: op }));
                await tester.emitMany("ops", burst, { codec: jsonCodec<Op>() });
              } else if ("join" in s) {
                // More instances than partitions would leave one without a partition,
                // whose start() never resolves (see "known processor bugs").
                if (instances.length >= partitions) continue;
                instances.push(await tester.startProcessor(graph, { guarantee }));
              } else if (instances.length > 1) {
                await instances.shift()!.close();
                await tester.idle();
              }
            }
            expect(await tester.table(graph)).toEqual(new Map([...fold(all).table].sort()));
            if (guarantee !== "at-least-once") {
              // Exactly-once: every input emitted exactly one value.
              expect(tester.messages("values")).toHaveLength(all.length);
            }
          } finally {
            await tester.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);
});
