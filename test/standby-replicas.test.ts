import { jsonCodec } from "@toka/codec";
import { defineGroup, Emitter, Processor, persist, silentLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  adminClient,
  brokers,
  createTopic,
  readTable,
  tempDir,
  uniqueName,
  waitUntil,
} from "./helpers.js";
import { startTracked, type TrackedInstance } from "./tracked-instance.js";

const PARTITIONS = 8;
const KEYS = 800;

// The control (no standbys) shows that the check can fail: the new owners then restore
// every table record of the partitions they take.
describe.each([
  { standbyReplicas: 1, expectation: "restore only what their standbys had not read" },
  { standbyReplicas: 0, expectation: "restore the partitions' whole tables (control)" },
])("standbyReplicas $standbyReplicas", ({ standbyReplicas, expectation }) => {
  test(`when an instance leaves, the instances taking its partitions ${expectation}, and the counts stay exact`, {
    timeout: 120_000,
  }, async () => {
    const input = await createTopic("events", PARTITIONS);
    const group = uniqueName("standby");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec<number>()),
      inputs: ({ input: edge }) => [
        edge(input, jsonCodec<number>(), (ctx) => ctx.setValue((ctx.value() ?? 0) + 1)),
      ],
    });
    const emitter = new Emitter({ brokers: brokers(), topic: input, codec: jsonCodec<number>() });
    onTestFinished(() => emitter.close());
    const emitAll = () =>
      Promise.all(Array.from({ length: KEYS }, (_, i) => emitter.emit(`key-${i}`, i)));
    const start = async (): Promise<TrackedInstance> => {
      const processor = new Processor(graph, {
        brokers: brokers(),
        storage: levelStorage({ path: await tempDir() }),
        logger: silentLogger,
        sessionTimeoutMs: 6000,
        standbyReplicas,
      });
      return startTracked(processor);
    };
    /** Whether every key's count in the table topic is `count`; throws the counts found. */
    const countsAre = async (count: number) => {
      const found = new Map<string, number>();
      for (const [key, { value }] of await readTable(`${group}-table`))
        found.set(key, JSON.parse(value.toString()) as number);
      const right = [...found.values()].filter((n) => n === count).length;
      if (found.size === KEYS && right === KEYS) return true;
      const histogram = new Map<number, number>();
      for (const n of found.values()) histogram.set(n, (histogram.get(n) ?? 0) + 1);
      throw new Error(`${found.size} keys, counts ${JSON.stringify([...histogram])}`);
    };
    const instances = [await start(), await start(), await start()];
    const ownedEverywhere = (list: TrackedInstance[]) =>
      list.reduce((sum, i) => sum + i.owned.size, 0) === PARTITIONS &&
      list.every((i) => i.owned.size >= 2);
    await waitUntil("the three instances to share the partitions", () =>
      ownedEverywhere(instances),
    );
    await emitAll();
    await waitUntil(`all ${KEYS} keys counted once`, () => countsAre(1));

    const standbys = () => instances.flatMap((i) => i.processor.stats().standbys);
    if (standbyReplicas > 0) {
      // Every partition stands by on one other instance, and read its whole table.
      const admin = await adminClient();
      const tableEnd = (await admin.fetchTopicOffsets(`${group}-table`)).reduce(
        (sum, p) => sum + Number(p.high),
        0,
      );
      await admin.disconnect();
      await waitUntil(
        `standbys of every partition that read all ${tableEnd} table offsets`,
        () =>
          standbys().length === PARTITIONS &&
          standbys().reduce((sum, s) => sum + Number(s.tableOffset), 0) === tableEnd,
      );
      for (const instance of instances) {
        for (const { partition } of instance.processor.stats().standbys)
          expect(instance.owned.has(partition), `standby of its own partition ${partition}`).toBe(
            false,
          );
      }
    } else {
      expect(standbys()).toEqual([]);
    }

    // One instance leaves; the others take its partitions.
    const [leaving, ...staying] = instances as [TrackedInstance, TrackedInstance, TrackedInstance];
    const before = instances.map((i) => ({
      owned: [...i.owned].sort(),
      standby: i.processor.stats().standbys.map((s) => s.partition),
    }));
    const moved = [...leaving.owned];
    for (const instance of staying) instance.restored.clear();
    await leaving.processor.close();
    await waitUntil(
      "the two others to own every partition and recover them",
      () =>
        staying.every((i) => [...i.owned].every((p) => !moved.includes(p) || i.restored.has(p))) &&
        staying.reduce((sum, i) => sum + i.owned.size, 0) === PARTITIONS,
    );
    const restoredOfMoved = staying
      .flatMap((i) => [...i.restored].filter(([p]) => moved.includes(p)))
      .reduce((sum, [, records]) => sum + records, 0);
    const tableRecordsOfMoved = (await readTable(`${group}-table`)).size; // all keys, all partitions
    if (standbyReplicas > 0) {
      // Caught up before the leave: nothing, or the little written between the last read
      // and the leave (the leave writes nothing new: every batch was written already).
      const evidence = JSON.stringify({
        before,
        after: staying.map((i) => ({ owned: [...i.owned].sort(), restored: [...i.restored] })),
      });
      expect(
        restoredOfMoved,
        `restored ${restoredOfMoved} table records: ${evidence}`,
      ).toBeLessThan(moved.length * 5);
    } else {
      // Every key of the moved partitions: about KEYS / PARTITIONS each.
      expect(restoredOfMoved).toBeGreaterThan(
        moved.length * (tableRecordsOfMoved / PARTITIONS) * 0.5,
      );
    }

    // The promoted copies hold the right counts: one more message per key makes two.
    await emitAll();
    await waitUntil(`all ${KEYS} keys counted twice`, () => countsAre(2));
  });
});
