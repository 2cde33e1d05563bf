import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  type Guarantee,
  output,
  Processor,
  persist,
  silentLogger,
} from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { Tester } from "@toka/testing";
import fc from "fast-check";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import {
  brokers,
  createTopic,
  readTable,
  readToEnd,
  tempDir,
  uniqueName,
  waitUntil,
} from "./helpers.js";

// The in-memory tester must behave like the real broker for what a processor does:
// the same random inputs through a real Processor on Kafka and through the tester give
// the same final table and the same outputs per key.

const Op = z.union([z.object({ add: z.number().int() }), z.object({ reset: z.literal(true) })]);
type Op = z.infer<typeof Op>;
const Value = z.number().int().nullable();

const PARTITIONS = 4;
const MESSAGES = 300;
const SEED = 20_250_101;

function folder(group: string, input: string, values: string) {
  return defineGroup(group, {
    persist: persist(jsonCodec(z.number().int())),
    outputs: [output(values, jsonCodec(Value))],
    inputs: ({ input: edge }) => [
      edge(input, jsonCodec(Op), (ctx, op) => {
        if ("reset" in op) {
          ctx.delete();
          ctx.emit(values, ctx.key, null);
          return;
        }
        const next = (ctx.value() ?? 0) + op.add;
        ctx.setValue(next);
        ctx.emit(values, ctx.key, next);
      }),
    ],
  });
}

/** The same few hundred messages in every run: keys and ops drawn with a fixed seed. */
function workload(): { key: string; op: Op }[] {
  const message = fc.record({
    key: fc.integer({ min: 0, max: 39 }).map((i) => `key-${i}`),
    op: fc.oneof(
      { weight: 12, arbitrary: fc.record({ add: fc.integer({ min: -1000, max: 1000 }) }) },
      { weight: 1, arbitrary: fc.constant({ reset: true as const }) },
    ),
  });
  const [messages] = fc.sample(fc.array(message, { minLength: MESSAGES, maxLength: MESSAGES }), {
    seed: SEED,
    numRuns: 1,
  });
  return messages!;
}

function sequencesByKey(messages: Iterable<{ key: string; value: number | null }>) {
  const byKey = new Map<string, (number | null)[]>();
  for (const { key, value } of messages) byKey.set(key, [...(byKey.get(key) ?? []), value]);
  return new Map([...byKey].sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function onBroker(guarantee: Guarantee, messages: { key: string; op: Op }[]) {
  const input = await createTopic("ops", PARTITIONS);
  const values = await createTopic("values", PARTITIONS);
  const group = uniqueName("folder");
  const processor = new Processor(folder(group, input, values), {
    brokers: brokers(),
    storage: levelStorage({ path: await tempDir() }),
    guarantee,
    logger: silentLogger,
  });
  onTestFinished(() => processor.close());
  let processed = 0;
  processor.on("batch.processed", (e) => {
    if (e.topic === input) processed += e.processed;
  });
  await processor.start();

  const emitter = new Emitter({
    brokers: brokers(),
    topic: input,
    codec: jsonCodec(Op),
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());
  // Queued in order, sent in order: the order per partition is the order here.
  await Promise.all(messages.map(({ key, op }) => emitter.emit(key, op)));
  await emitter.close();
  await waitUntil(`${messages.length} messages processed`, () => processed >= messages.length);
  await processor.close();

  const table = new Map<string, number>();
  for (const [key, { value }] of await readTable(`${group}-table`)) {
    table.set(key, JSON.parse(value.toString()));
  }
  const emitted: { key: string; value: number | null }[] = [];
  await readToEnd(values, (m) => {
    emitted.push({ key: m.key!.toString(), value: JSON.parse(m.value!.toString()) });
  });
  return { table: new Map([...table].sort(([a], [b]) => (a < b ? -1 : 1))), emitted };
}

async function onTester(guarantee: Guarantee, messages: { key: string; op: Op }[]) {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  tester.createTopic("ops", PARTITIONS);
  tester.createTopic("values", PARTITIONS);
  const graph = folder("folder", "ops", "values");
  await tester.startProcessor(graph, { guarantee });
  await tester.emitMany(
    "ops",
    messages.map(({ key, op }) => ({ key, value: op })),
    { codec: jsonCodec(Op) },
  );
  const emitted = tester
    .messages("values", jsonCodec(Value))
    .map((m) => ({ key: m.key!, value: m.value }));
  return { table: await tester.table(graph), emitted };
}

describe("the tester and a real broker", () => {
  const messages = workload();

  test.each<Guarantee>(["at-least-once", "exactly-once", "exactly-once-transactional"])(
    "give the same final table and outputs per key (%s)",
    async (guarantee) => {
      const expectedKeys = new Set(messages.map((m) => m.key));
      expect(expectedKeys.size).toBeGreaterThan(30);
      const broker = await onBroker(guarantee, messages);
      const tester = await onTester(guarantee, messages);
      expect(tester.table.size).toBeGreaterThan(0);
      expect(tester.table).toEqual(broker.table);
      expect(tester.emitted).toHaveLength(MESSAGES);
      expect(sequencesByKey(tester.emitted)).toEqual(sequencesByKey(broker.emitted));
    },
  );
});
