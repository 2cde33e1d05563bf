import { jsonCodec } from "@toka/codec";
import { defineGroup, Processor, persist, silentLogger } from "@toka/processor";
import { memoryStorage } from "@toka/state-store";
import { expect, onTestFinished, test } from "vitest";
import { brokers, createTopic, uniqueName, waitUntil } from "./helpers.js";

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
