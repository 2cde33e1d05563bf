import { jsonCodec } from "@toka/codec";
import { memoryStorage, type Storage } from "@toka/state-store";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { defaultPartition } from "../src/client/default-partitioner.js";
import { encodeDedup } from "../src/dedup-record.js";
import { type ProcessorStatus, TokaErrorCode } from "../src/index.js";
import { OwnedTable } from "../src/owned-table.js";
import { QueryOwnership } from "../src/query-ownership.js";
import { encodeTableEntry } from "../src/table-entry.js";

const PARTITIONS = 3;
const codec = jsonCodec(z.object({ n: z.number() }));
const SELF = "http://self:1";
const OTHER = "http://other:1";

/** Keys of each partition, found by the partitioner. */
function keysOf(partition: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++)
    if (defaultPartition(`k${i}`, PARTITIONS) === partition) keys.push(`k${i}`);
  return keys;
}

async function setup() {
  const factory = memoryStorage();
  const storages = new Map<number, Storage>();
  for (const p of [0, 1]) {
    const storage = factory("g-table", p);
    await storage.open();
    storages.set(p, storage);
  }
  const ownership = new QueryOwnership(SELF);
  const running = new Set([0]);
  let status: ProcessorStatus = "running";
  const table = new OwnedTable({
    group: "g",
    table: "g-table",
    codec,
    ownership,
    status: () => status,
    runningStorage: (p) => (running.has(p) ? storages.get(p) : undefined),
    runningPartitions: () => [...running],
  });
  return {
    table,
    ownership,
    storages,
    running,
    setStatus: (s: ProcessorStatus) => {
      status = s;
    },
  };
}

describe("OwnedTable", () => {
  test("locates keys: here, at their owner, or unavailable with the reason", async () => {
    const { table, ownership, running } = await setup();
    const [here] = keysOf(0, 1);
    const [recovering] = keysOf(1, 1);
    const [elsewhere] = keysOf(2, 1);
    expect(table.locate(here!)).toMatchObject({ kind: "unavailable", retriable: true });
    ownership.update({
      partitionCount: PARTITIONS,
      addresses: new Map([
        [0, SELF],
        [1, SELF],
        [2, OTHER],
      ]),
    });
    expect(table.locate(here!)).toEqual({ kind: "local", instance: SELF });
    expect(table.locate(elsewhere!)).toEqual({ kind: "remote", address: OTHER });
    expect(table.locate(recovering!)).toMatchObject({
      kind: "unavailable",
      retriable: true,
      reason: expect.stringContaining("being recovered on this instance"),
    });
    // A rebalance: the owners are unknown, the partitions run here still answer.
    ownership.update(undefined);
    expect(table.locate(here!)).toEqual({ kind: "local", instance: SELF });
    expect(table.locate(elsewhere!)).toMatchObject({
      kind: "unavailable",
      retriable: true,
      reason: expect.stringContaining("rebalancing"),
    });
    ownership.update({ partitionCount: PARTITIONS, addresses: new Map([[0, SELF]]) });
    expect(table.locate(elsewhere!)).toMatchObject({
      kind: "unavailable",
      retriable: false,
      reason: expect.stringContaining("advertises no query address"),
    });
    running.delete(0);
    expect(table.locate(here!)).toMatchObject({ kind: "unavailable" });
  });

  test("reads values of running partitions; a partition not run here is a retriable error", async () => {
    const { table, ownership, storages, running } = await setup();
    ownership.update({ partitionCount: PARTITIONS, addresses: new Map() });
    const [a, deleted] = keysOf(0, 2);
    const [b] = keysOf(1, 1);
    const entry = (n: number) => encodeTableEntry(codec.encode({ n }), undefined);
    await storages.get(0)!.write({
      puts: [
        [a!, entry(1)],
        // A deleted key keeps its dedup record under exactly-once: no value.
        [
          deleted!,
          encodeTableEntry(
            undefined,
            encodeDedup({ applied: { in: "3" }, ids: [["id-1", 1]], duplicates: 0 }),
          ),
        ],
      ],
    });
    await storages.get(1)!.write({ puts: [[b!, entry(2)]] });
    expect(await table.get(a!)).toEqual({ n: 1 });
    expect(await table.get(keysOf(0, 3)[2]!)).toBeUndefined();
    await expect(table.get(b!)).rejects.toMatchObject({
      code: TokaErrorCode.StorageFailed,
      retriable: true,
    });
    running.add(1);
    expect(await table.get(b!)).toEqual({ n: 2 });
    const listed = [];
    for await (const item of table.iterate()) listed.push(item);
    expect(listed).toEqual(
      [
        [a!, { n: 1 }],
        [b!, { n: 2 }],
      ].sort(([x], [y]) => ((x as string) < (y as string) ? -1 : 1)),
    );
    const first = [];
    for await (const item of table.iterate({ limit: 1 })) first.push(item);
    expect(first).toEqual([listed[0]]);
    // A storage closed by a revocation between locate and read.
    await storages.get(1)!.close();
    await expect(table.get(b!)).rejects.toMatchObject({ retriable: true });
  });

  test("its status follows the processor's, a recovering processor's running partitions readable", async () => {
    const { table, setStatus } = await setup();
    setStatus("recovering");
    expect(table.status).toBe("running");
    setStatus("closing");
    expect(table.status).toBe("closing");
    setStatus("failed");
    expect(table.status).toBe("failed");
  });
});
