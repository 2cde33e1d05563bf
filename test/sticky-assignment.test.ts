import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, Processor, persist, silentLogger } from "@toka/processor";
import { levelStorage, memoryStorage } from "@toka/state-store";
import { expect, onTestFinished, test } from "vitest";
import { brokers, createTopic, tempDir, uniqueName, waitUntil } from "./helpers.js";
import { startTracked } from "./tracked-instance.js";

const PARTITIONS = 8;

test("a joining instance takes partitions only from the others' excess; the rest stay where they are", async () => {
  const input = await createTopic("events", PARTITIONS);
  const group = uniqueName("sticky");
  const graph = defineGroup(group, {
    persist: persist(jsonCodec<number>()),
    inputs: ({ input: edge }) => [edge(input, jsonCodec<number>(), (ctx, n) => ctx.setValue(n))],
  });
  const instances: { processor: Processor; owned: Set<number>; revoked: number[] }[] = [];
  const start = async () => {
    const processor = new Processor(graph, {
      brokers: brokers(),
      storage: memoryStorage(),
      logger: silentLogger,
      sessionTimeoutMs: 6000,
    });
    const instance = { processor, owned: new Set<number>(), revoked: [] as number[] };
    processor.on("partition.assigned", ({ partition }) => instance.owned.add(partition));
    processor.on("partition.revoked", ({ partition }) => {
      instance.owned.delete(partition);
      instance.revoked.push(partition);
    });
    onTestFinished(() => processor.close());
    await processor.start();
    instances.push(instance);
    return instance;
  };
  const settled = (sizes: number[]) =>
    waitUntil(
      `owned partitions ${sizes.join("/")}`,
      () =>
        instances.every((i, n) => i.owned.size === sizes[n]) &&
        new Set(instances.flatMap((i) => [...i.owned])).size === PARTITIONS,
    );

  const a = await start();
  await settled([8]);
  const b = await start();
  await settled([4, 4]);
  const beforeC = { a: new Set(a.owned), b: new Set(b.owned) };
  a.revoked.length = 0;
  b.revoked.length = 0;
  const c = await start();
  await settled([3, 3, 2])
    .catch(() => settled([3, 2, 3]))
    .catch(() => settled([2, 3, 3]));
  // What a and b lost is exactly what c got; each kept the rest of what it had.
  expect([...a.revoked, ...b.revoked].sort()).toEqual([...c.owned].sort());
  expect([...a.owned].every((p) => beforeC.a.has(p))).toBe(true);
  expect([...b.owned].every((p) => beforeC.b.has(p))).toBe(true);
});

test("an instance restarted on its state directory gets back the partitions it held and restores only what was written meanwhile", {
  timeout: 120_000,
}, async () => {
  const input = await createTopic("events", PARTITIONS);
  const group = uniqueName("sticky-restart");
  let processed = 0;
  const graph = defineGroup(group, {
    persist: persist(jsonCodec<number>()),
    inputs: ({ input: edge }) => [
      edge(input, jsonCodec<number>(), (ctx, n) => {
        processed += 1;
        ctx.setValue(n);
      }),
    ],
  });
  const emitter = new Emitter({ brokers: brokers(), topic: input, codec: jsonCodec<number>() });
  onTestFinished(() => emitter.close());
  let emitted = 0;
  const emitKeys = async (count: number) => {
    await Promise.all(Array.from({ length: count }, (_, i) => emitter.emit(`key-${i}`, i)));
    emitted += count;
    await waitUntil(`${emitted} messages processed`, () => processed >= emitted);
  };
  const start = async (path: string) => {
    const processor = new Processor(graph, {
      brokers: brokers(),
      storage: levelStorage({ path }),
      logger: silentLogger,
      sessionTimeoutMs: 6000,
    });
    return startTracked(processor);
  };
  const sizes = (...instances: { owned: Set<number> }[]) =>
    instances.map((i) => i.owned.size).join("/");

  const [dirA, dirB] = [await tempDir(), await tempDir()];
  const b = await start(dirB);
  await waitUntil("b to own every partition", () => b.owned.size === PARTITIONS);
  const a = await start(dirA);
  await waitUntil("a and b to own 4 each", () => sizes(a, b) === "4/4");
  await emitKeys(800);
  const held = [...b.owned].sort();

  // b leaves gracefully; a takes and restores its partitions, and more is written.
  await b.processor.close();
  await waitUntil("a to own every partition", () => a.owned.size === PARTITIONS);
  await emitKeys(80);

  // b again, on its state directory: it asks for what it holds and gets it back.
  const again = await start(dirB);
  await waitUntil("a and b to own 4 each again", () => sizes(a, again) === "4/4");
  expect([...again.owned].sort()).toEqual(held);
  await waitUntil("b's partitions recovered", () => again.restored.size === held.length);
  // Only the records a wrote for those partitions while b was away (at most one per
  // message written meanwhile), not their whole table (800 keys over 8 partitions).
  const restored = [...again.restored.values()].reduce((sum, n) => sum + n, 0);
  expect(restored).toBeLessThanOrEqual(80);
});
