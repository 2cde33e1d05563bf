import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Checkpoint,
  type IterateOptions,
  type Storage,
  StorageErrorCode,
  type StorageFactory,
  StorageStatus,
  type WriteBatch,
} from "../src/index.js";
import { bytes, entries, openStorage, rejectsWith, text, throwsWith } from "./helpers.js";

/** What the contract suite needs from a backend. */
export interface StorageContract {
  /** A factory over empty state; called inside a test, so it may register cleanup. */
  create(): StorageFactory | Promise<StorageFactory>;
  /** Whether `stats().bytesOnDisk` is a number (disk backends) or `undefined`. */
  onDisk: boolean;
}

/**
 * Keys on the edges of the ordering: the empty key, NUL, a private-use character
 * (U+E000) that sorts before astral characters in UTF-8 but after them in UTF-16 code
 * units, the last BMP character, an astral character, and keys that look like the
 * storage's own namespaces.
 */
const TRICKY_KEYS = [
  "",
  "\u0000",
  "a",
  "a\u0000",
  "ab",
  "b",
  "m/checkpoint",
  "v/",
  "é",
  "\uE000",
  "\uFFFF",
  "😀",
  "😀x",
  "\u{10FFFF}",
  "\u{10FFFF}\u{10FFFF}a",
];

/** The reference order: UTF-8 bytes compared bytewise. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** What `iterate(options)` must yield over `model`, computed independently of the code under test. */
function expected(model: Map<string, string>, options: IterateOptions): [string, string][] {
  const inRange = (key: string): boolean => {
    const lower = options.gte ?? options.gt;
    if (lower !== undefined) {
      const c = byteOrder(key, lower);
      if (c < 0 || (c === 0 && options.gte === undefined)) return false;
    }
    const upper = options.lte ?? options.lt;
    if (upper !== undefined) {
      const c = byteOrder(key, upper);
      if (c > 0 || (c === 0 && options.lte === undefined)) return false;
    }
    return (
      options.prefix === undefined ||
      Buffer.from(key)
        .subarray(0, Buffer.byteLength(options.prefix))
        .equals(Buffer.from(options.prefix))
    );
  };
  let out = [...model.entries()]
    .filter(([key]) => inRange(key))
    .sort(([a], [b]) => byteOrder(a, b));
  if (options.reverse === true) out.reverse();
  if (options.limit !== undefined) out = out.slice(0, options.limit);
  return out;
}

const someCheckpoint: Checkpoint = {
  tableOffset: "42",
  inputOffsets: { clicks: "7", "clicks-loop": "9223372036854775807" },
  metadata: new Uint8Array([1, 2, 3, 0, 255]),
};

/**
 * The behaviour every {@link Storage} backend must have (STYLE #19). Run once per backend
 * with a factory over empty state.
 */
export function storageContract(name: string, contract: StorageContract): void {
  const fresh = async (topic = "group-table", partition = 0): Promise<Storage> =>
    openStorage(await contract.create(), topic, partition);

  describe(`${name}: Storage contract`, () => {
    describe("reads and writes", () => {
      it("starts empty: no values, no checkpoint, no keys", async () => {
        const storage = await fresh();
        expect(storage.status).toBe(StorageStatus.Open);
        expect(storage.topic).toBe("group-table");
        expect(storage.partition).toBe(0);
        expect(await storage.get("a")).toBeUndefined();
        expect(await storage.has("a")).toBe(false);
        expect(await storage.getMany(["a", "b"])).toEqual([undefined, undefined]);
        expect(await storage.checkpoint()).toBeUndefined();
        expect(await entries(storage.iterate())).toEqual([]);
        const stats = await storage.stats();
        expect(stats.keys).toBe(0);
        if (contract.onDisk) expect(stats.bytesOnDisk).toBeGreaterThan(0);
        else expect(stats.bytesOnDisk).toBeUndefined();
      });

      it("get, has and getMany see what write put, getMany in the order of the keys", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
            ["", bytes("empty key")],
            ["z", new Uint8Array(0)],
          ],
        });
        expect(text(await storage.get("a"))).toBe("1");
        expect(text(await storage.get(""))).toBe("empty key");
        expect(await storage.get("z")).toEqual(new Uint8Array(0));
        expect(await storage.has("b")).toBe(true);
        expect(await storage.has("z")).toBe(true);
        expect(await storage.has("c")).toBe(false);
        const many = await storage.getMany(["b", "missing", "a", "b", ""]);
        expect(many.map(text)).toEqual(["2", undefined, "1", "2", "empty key"]);
        expect(await storage.getMany([])).toEqual([]);
      });

      it("accepts any iterable for puts and deletes", async () => {
        const storage = await fresh();
        const puts = new Map([
          ["a", bytes("1")],
          ["b", bytes("2")],
          ["c", bytes("3")],
        ]);
        await storage.write({ puts });
        await storage.write({ deletes: new Set(["b"]) });
        expect(await entries(storage.iterate())).toEqual([
          ["a", "1"],
          ["c", "3"],
        ]);
      });

      it("applies puts in order, then deletes: the last put wins, put-and-delete ends deleted", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["k", bytes("old")],
            ["gone", bytes("x")],
          ],
        });
        await storage.write({
          puts: [
            ["k", bytes("first")],
            ["k", bytes("last")],
            ["both", bytes("x")],
          ],
          deletes: ["gone", "both", "never-existed"],
        });
        expect(await entries(storage.iterate())).toEqual([["k", "last"]]);
      });

      it("keeps values apart from the caller's buffers", async () => {
        const storage = await fresh();
        const value = bytes("abc");
        await storage.write({ puts: [["k", value]] });
        value[0] = 0x7a;
        const read = (await storage.get("k"))!;
        expect(text(read)).toBe("abc");
        read[0] = 0x79;
        expect(text(await storage.get("k"))).toBe("abc");
      });

      it("counts keys in stats, never the checkpoint", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
          ],
          checkpoint: someCheckpoint,
        });
        await storage.write({ puts: [["a", bytes("3")]], deletes: ["b", "c"] });
        expect((await storage.stats()).keys).toBe(1);
      });

      it("keeps topics and partitions apart", async () => {
        const factory = await contract.create();
        const a = await openStorage(factory, "orders-table", 0);
        const b = await openStorage(factory, "orders-table", 1);
        const c = await openStorage(factory, "orders-table.1", 0);
        await a.write({
          puts: [["k", bytes("a")]],
          checkpoint: { tableOffset: "1", inputOffsets: {} },
        });
        await b.write({ puts: [["k", bytes("b")]] });
        expect(text(await a.get("k"))).toBe("a");
        expect(text(await b.get("k"))).toBe("b");
        expect(await c.get("k")).toBeUndefined();
        expect(await b.checkpoint()).toBeUndefined();
      });
    });

    describe("iteration", () => {
      it("yields keys in UTF-8 byte order, not JS string order", async () => {
        const storage = await fresh();
        await storage.write({ puts: TRICKY_KEYS.map((key) => [key, bytes(`=${key}`)] as const) });
        const keys = (await entries(storage.iterate())).map(([key]) => key);
        expect(keys).toEqual([...TRICKY_KEYS].sort(byteOrder));
        // "\uE000" sorts before "😀" in UTF-8, after it in UTF-16 code units.
        expect(keys.indexOf("\uE000")).toBeLessThan(keys.indexOf("😀"));
        const reversed = (await entries(storage.iterate({ reverse: true }))).map(([key]) => key);
        expect(reversed).toEqual([...keys].reverse());
      });

      it("honours gt, gte, lt, lte, prefix, reverse and limit, alone and combined", async () => {
        const storage = await fresh();
        const model = new Map(
          [
            "a",
            "aa",
            "ab",
            "abc",
            "b",
            "ba",
            "c",
            "é",
            "😀",
            "😀😀",
            "\u{10FFFF}",
            "\u{10FFFF}z",
          ].map((key) => [key, key.toUpperCase()] as const),
        );
        await storage.write({
          puts: [...model].map(([key, value]) => [key, bytes(value)] as const),
        });
        const cases: IterateOptions[] = [
          { gt: "a" },
          { gte: "a" },
          { lt: "b" },
          { lte: "b" },
          { gte: "aa", lt: "b" },
          { gt: "aa", lte: "ba" },
          { prefix: "a" },
          { prefix: "ab" },
          { prefix: "x" },
          { prefix: "😀" },
          { prefix: "\u{10FFFF}" },
          { prefix: "" },
          { prefix: "a", gt: "aa" },
          { prefix: "a", lt: "ab" },
          { prefix: "b", gte: "a", lte: "z" },
          { prefix: "a", reverse: true },
          { prefix: "a", reverse: true, limit: 2 },
          { limit: 3 },
          { limit: 0 },
          { reverse: true, limit: 1 },
          { gte: "b", lte: "a" },
          { gt: "zz" },
          { gte: "a", gt: "a" },
          { lte: "c", lt: "c" },
          { gte: "é" },
          { limit: Number.POSITIVE_INFINITY },
        ];
        for (const options of cases) {
          expect(await entries(storage.iterate(options)), JSON.stringify(options)).toEqual(
            expected(model, options),
          );
        }
      });

      it("matches a model for random keys and ranges (property)", async () => {
        const factory = await contract.create();
        let partition = 0;
        const key = fc.string({
          unit: fc.constantFrom(
            "a",
            "b",
            "\u0000",
            "é",
            "\uD7FF",
            "\uE000",
            "\uFFFF",
            "😀",
            "\u{10FFFF}",
          ),
          maxLength: 4,
        });
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(key, fc.boolean()), { maxLength: 30 }),
            fc.record(
              {
                gt: key,
                gte: key,
                lt: key,
                lte: key,
                prefix: key,
                reverse: fc.boolean(),
                limit: fc.nat(10),
              },
              { requiredKeys: [] },
            ),
            async (ops, options) => {
              const storage = factory("prop-table", partition++);
              await storage.open();
              try {
                const model = new Map<string, string>();
                for (const [k, put] of ops) {
                  if (put) model.set(k, `v${k}`);
                  else model.delete(k);
                  await storage.write(put ? { puts: [[k, bytes(`v${k}`)]] } : { deletes: [k] });
                }
                expect(await entries(storage.iterate(options))).toEqual(expected(model, options));
                const probe = [...model.keys(), "missing"];
                expect((await storage.getMany(probe)).map(text)).toEqual(
                  probe.map((k) => model.get(k)),
                );
              } finally {
                await storage.close();
              }
            },
          ),
          { numRuns: 60 },
        );
      });

      it("reads a snapshot taken when iteration starts", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
            ["c", bytes("3")],
          ],
        });
        const seen: [string, string][] = [];
        for await (const [key, value] of storage.iterate()) {
          seen.push([key, text(value)!]);
          if (key === "a")
            await storage.write({
              puts: [
                ["b", bytes("changed")],
                ["bb", bytes("new")],
              ],
              deletes: ["c"],
            });
        }
        expect(seen).toEqual([
          ["a", "1"],
          ["b", "2"],
          ["c", "3"],
        ]);
        expect(await entries(storage.iterate())).toEqual([
          ["a", "1"],
          ["b", "changed"],
          ["bb", "new"],
        ]);
      });

      it("iterates many entries across internal chunks, and can be iterated again", async () => {
        const storage = await fresh();
        const keys = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(5, "0")}`);
        await storage.write({ puts: keys.map((key) => [key, bytes(key)] as const) });
        const iterable = storage.iterate({ gte: "k00100" });
        const first = await entries(iterable);
        expect(first.map(([key]) => key)).toEqual(keys.slice(100));
        expect(await entries(iterable)).toEqual(first);
      });

      it("releases the snapshot when the loop breaks early", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
          ],
        });
        for await (const [key] of storage.iterate()) {
          expect(key).toBe("a");
          break;
        }
        const iterator = storage.iterate()[Symbol.asyncIterator]();
        await iterator.next();
        expect(await iterator.return?.()).toEqual({ done: true, value: undefined });
        expect((await iterator.next()).done).toBe(true);
        // A held snapshot would keep close() waiting or fail it.
        await storage.close();
        expect(storage.status).toBe(StorageStatus.Closed);
      });

      it("serves overlapping next() calls in order", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
            ["c", bytes("3")],
          ],
        });
        const iterator = storage.iterate()[Symbol.asyncIterator]();
        const results = await Promise.all([
          iterator.next(),
          iterator.next(),
          iterator.next(),
          iterator.next(),
        ]);
        expect(results.map((r) => (r.done ? "done" : r.value[0]))).toEqual(["a", "b", "c", "done"]);
      });

      it("never yields the checkpoint", async () => {
        const storage = await fresh();
        await storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        expect(await entries(storage.iterate())).toEqual([["a", "1"]]);
        expect(await entries(storage.iterate({ prefix: "m" }))).toEqual([]);
        expect(await storage.has("m/checkpoint")).toBe(false);
      });
    });

    describe("atomic writes and checkpoints", () => {
      it("round-trips a checkpoint, with and without metadata", async () => {
        const storage = await fresh();
        await storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        expect(await storage.checkpoint()).toEqual(someCheckpoint);
        const plain: Checkpoint = { tableOffset: "0", inputOffsets: {} };
        await storage.write({ checkpoint: plain });
        const read = await storage.checkpoint();
        expect(read).toEqual(plain);
        expect(read !== undefined && "metadata" in read).toBe(false);
        expect(text(await storage.get("a"))).toBe("1");
      });

      it("round-trips any checkpoint (property)", async () => {
        const storage = await fresh();
        const offset = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
        const topic = fc.string({ minLength: 1, maxLength: 20, unit: "grapheme" });
        await fc.assert(
          fc.asyncProperty(
            fc.record(
              {
                tableOffset: offset,
                inputOffsets: fc.dictionary(topic, offset, { maxKeys: 5 }),
                metadata: fc.uint8Array({ maxLength: 200 }),
                streamTime: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
              },
              { requiredKeys: ["tableOffset", "inputOffsets"] },
            ),
            async (checkpoint) => {
              await storage.write({ checkpoint });
              expect(await storage.checkpoint()).toEqual(checkpoint);
            },
          ),
          { numRuns: 100 },
        );
      });

      it("lists the partitions of a topic it holds state of", async () => {
        const factory = await contract.create();
        expect(await factory.storedPartitions?.("bank-table")).toEqual([]);
        // Another topic whose name starts like it.
        for (const [topic, partition] of [
          ["bank-table", 12],
          ["bank-table", 0],
          ["bank-table.3", 1],
          ["bank-table", 3],
        ] as const) {
          const storage = await openStorage(factory, topic, partition);
          await storage.write({ checkpoint: { tableOffset: "1", inputOffsets: {} } });
          await storage.close();
        }
        expect(await factory.storedPartitions?.("bank-table")).toEqual([0, 3, 12]);
        expect(await factory.storedPartitions?.("bank-table.3")).toEqual([1]);
      });

      it("round-trips a checkpoint's stream time, and reads one without it as before", async () => {
        const storage = await fresh();
        const withTime: Checkpoint = { tableOffset: "3", inputOffsets: { t: "4" }, streamTime: 0 };
        await storage.write({ checkpoint: withTime });
        expect(await storage.checkpoint()).toEqual(withTime);
        await storage.write({ checkpoint: { ...someCheckpoint, streamTime: 1_767_225_600_000 } });
        expect((await storage.checkpoint())?.streamTime).toBe(1_767_225_600_000);
        await storage.write({ checkpoint: someCheckpoint });
        const read = await storage.checkpoint();
        expect(read !== undefined && "streamTime" in read).toBe(false);
      });

      it("keeps a topic named __proto__ as a plain input", async () => {
        const storage = await fresh();
        const inputOffsets = Object.fromEntries([["__proto__", "5"]]);
        await storage.write({ checkpoint: { tableOffset: "1", inputOffsets } });
        const read = await storage.checkpoint();
        expect(Object.entries(read!.inputOffsets)).toEqual([["__proto__", "5"]]);
      });

      it("returns a copy of the checkpoint's metadata", async () => {
        const storage = await fresh();
        await storage.write({ checkpoint: someCheckpoint });
        const first = await storage.checkpoint();
        first!.metadata![0] = 99;
        expect((await storage.checkpoint())!.metadata).toEqual(someCheckpoint.metadata);
      });

      it("writes nothing from a batch that has an invalid put, delete or checkpoint", async () => {
        const storage = await fresh();
        await storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        const bad: WriteBatch[] = [
          {
            puts: [
              ["b", bytes("2")],
              ["c", "not bytes" as unknown as Uint8Array],
            ],
          },
          {
            puts: [
              ["b", bytes("2")],
              [42 as unknown as string, bytes("3")],
            ],
          },
          {
            puts: [
              ["b", bytes("2")],
              ["\uD800", bytes("lone surrogate")],
            ],
          },
          { puts: [["b", bytes("2")]], deletes: ["a", null as unknown as string] },
          { puts: [["b", bytes("2")]], checkpoint: { tableOffset: "12x", inputOffsets: {} } },
          {
            puts: [["b", bytes("2")]],
            checkpoint: { tableOffset: "1", inputOffsets: { t: 5 as unknown as string } },
          },
          {
            puts: [["b", bytes("2")]],
            checkpoint: { tableOffset: "9223372036854775808", inputOffsets: {} },
          },
          { puts: [["b", bytes("2")]], checkpoint: { tableOffset: "01", inputOffsets: {} } },
          {
            puts: [["b", bytes("2")]],
            checkpoint: {
              tableOffset: "1",
              inputOffsets: {},
              metadata: [1] as unknown as Uint8Array,
            },
          },
          ...[-1, 1.5, Number.NaN, 2 ** 53, "5"].map((streamTime) => ({
            puts: [["b", bytes("2")]] as [string, Uint8Array][],
            checkpoint: { tableOffset: "1", inputOffsets: {}, streamTime: streamTime as number },
          })),
        ];
        for (const batch of bad) {
          const error = await rejectsWith(storage.write(batch), StorageErrorCode.InvalidArgument);
          expect(error.message).toContain("group-table");
          expect(error.retriable).toBe(false);
        }
        expect(await entries(storage.iterate())).toEqual([["a", "1"]]);
        expect(await storage.checkpoint()).toEqual(someCheckpoint);
      });

      it("rejects invalid keys and iterate options with STORAGE_INVALID_ARGUMENT", async () => {
        const storage = await fresh();
        await rejectsWith(storage.get(1 as unknown as string), StorageErrorCode.InvalidArgument);
        await rejectsWith(storage.has("\uDC00"), StorageErrorCode.InvalidArgument);
        await rejectsWith(
          storage.getMany(["a", undefined as unknown as string]),
          StorageErrorCode.InvalidArgument,
        );
        await rejectsWith(
          storage.getMany("a" as unknown as string[]),
          StorageErrorCode.InvalidArgument,
        );
        await rejectsWith(
          entries(storage.iterate({ limit: -1 })),
          StorageErrorCode.InvalidArgument,
        );
        await rejectsWith(
          entries(storage.iterate({ limit: 1.5 })),
          StorageErrorCode.InvalidArgument,
        );
        await rejectsWith(
          entries(storage.iterate({ gt: 3 as unknown as string })),
          StorageErrorCode.InvalidArgument,
        );
      });

      it("clear() removes every value and the checkpoint, and the store stays usable", async () => {
        const storage = await fresh();
        await storage.write({
          puts: [
            ["a", bytes("1")],
            ["b", bytes("2")],
          ],
          checkpoint: someCheckpoint,
        });
        await storage.clear();
        expect(await entries(storage.iterate())).toEqual([]);
        expect(await storage.checkpoint()).toBeUndefined();
        expect((await storage.stats()).keys).toBe(0);
        await storage.write({
          puts: [["c", bytes("3")]],
          checkpoint: { tableOffset: "1", inputOffsets: {} },
        });
        expect(await entries(storage.iterate())).toEqual([["c", "3"]]);
        expect((await storage.checkpoint())?.tableOffset).toBe("1");
      });
    });

    describe("lifecycle", () => {
      it("starts closed; open() and close() are idempotent, also when called concurrently", async () => {
        const factory = await contract.create();
        const storage = factory("group-table", 3);
        expect(storage.status).toBe(StorageStatus.Closed);
        await storage.close();
        await Promise.all([storage.open(), storage.open()]);
        await storage.open();
        expect(storage.status).toBe(StorageStatus.Open);
        await Promise.all([storage.close(), storage.close()]);
        await storage.close();
        expect(storage.status).toBe(StorageStatus.Closed);
      });

      it("ends in the state of the last call when open and close interleave", async () => {
        const storage = (await contract.create())("group-table", 0);
        const calls = [storage.open(), storage.close(), storage.open()];
        await Promise.all(calls);
        expect(storage.status).toBe(StorageStatus.Open);
        await Promise.all([storage.close(), storage.open(), storage.close()]);
        expect(storage.status).toBe(StorageStatus.Closed);
      });

      it("reports opening and closing while they run", async () => {
        const storage = (await contract.create())("group-table", 0);
        const opening = storage.open();
        await Promise.resolve();
        expect([StorageStatus.Opening, StorageStatus.Open]).toContain(storage.status);
        await opening;
        const closing = storage.close();
        await Promise.resolve();
        expect([StorageStatus.Closing, StorageStatus.Closed]).toContain(storage.status);
        await closing;
        expect(storage.status).toBe(StorageStatus.Closed);
      });

      it("rejects every operation on a closed storage with STORAGE_CLOSED", async () => {
        const storage = (await contract.create())("group-table", 5);
        const operations = (): Promise<unknown>[] => [
          storage.get("a"),
          storage.getMany(["a"]),
          storage.has("a"),
          entries(storage.iterate()),
          storage.write({ puts: [["a", bytes("1")]] }),
          storage.write({}),
          storage.checkpoint(),
          storage.clear(),
          storage.stats(),
        ];
        for (const op of operations()) {
          const error = await rejectsWith(op, StorageErrorCode.Closed);
          expect(error.topic).toBe("group-table");
          expect(error.partition).toBe(5);
          expect(error.message).toContain('topic "group-table" partition 5');
          expect(error.message).toContain("open()");
        }
        await storage.open();
        await storage.close();
        for (const op of operations()) await rejectsWith(op, StorageErrorCode.Closed);
      });

      it("rejects operations that start while closing", async () => {
        const storage = await fresh();
        const closing = storage.close();
        await Promise.resolve();
        await rejectsWith(storage.get("a"), StorageErrorCode.Closed);
        await closing;
      });

      it("lets in-flight operations finish before closing", async () => {
        const storage = await fresh();
        const write = storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        const read = storage.getMany(["a"]);
        await storage.close();
        await write;
        await read;
        await storage.open();
        expect(text(await storage.get("a"))).toBe("1");
      });

      it("fails an open iterator after close() instead of hanging, also after a reopen", async () => {
        const storage = await fresh();
        await storage.write({
          puts: Array.from({ length: 3000 }, (_, i) => [`k${i}`, bytes("v")] as const),
        });
        const iterator = storage.iterate()[Symbol.asyncIterator]();
        expect((await iterator.next()).done).toBe(false);
        await storage.close();
        await rejectsWith(iterator.next(), StorageErrorCode.Closed);

        await storage.open();
        const second = storage.iterate()[Symbol.asyncIterator]();
        await second.next();
        await storage.close();
        await storage.open();
        await rejectsWith(second.next(), StorageErrorCode.Closed);
      });

      it("closes through Symbol.asyncDispose", async () => {
        const storage = await fresh();
        await storage[Symbol.asyncDispose]();
        expect(storage.status).toBe(StorageStatus.Closed);
      });

      it("keeps data and checkpoint across close and reopen, on the same and a new instance", async () => {
        const factory = await contract.create();
        const storage = factory("group-table", 0);
        await storage.open();
        await storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        await storage.close();
        await storage.open();
        expect(text(await storage.get("a"))).toBe("1");
        await storage.close();
        const again = await openStorage(factory, "group-table", 0);
        expect(text(await again.get("a"))).toBe("1");
        expect(await again.checkpoint()).toEqual(someCheckpoint);
      });

      it("refuses a second open instance of the same partition with STORAGE_LOCKED", async () => {
        const factory = await contract.create();
        const first = await openStorage(factory, "group-table", 2);
        const second = factory("group-table", 2);
        const error = await rejectsWith(second.open(), StorageErrorCode.Locked);
        expect(error.retriable).toBe(true);
        expect(error.topic).toBe("group-table");
        expect(error.partition).toBe(2);
        expect(error.message).toContain('topic "group-table" partition 2');
        if (first.path !== undefined) {
          expect(error.path).toBe(first.path);
          expect(error.message).toContain(first.path);
        }
        expect(second.status).toBe(StorageStatus.Closed);
        await first.close();
        await second.open();
        expect(second.status).toBe(StorageStatus.Open);
        await second.close();
      });

      it("destroy() deletes all state, and refuses while another instance has it open", async () => {
        const factory = await contract.create();
        const storage = await openStorage(factory, "group-table", 0);
        await storage.write({ puts: [["a", bytes("1")]], checkpoint: someCheckpoint });
        const other = factory("group-table", 0);
        await rejectsWith(other.destroy!(), StorageErrorCode.Locked);
        await storage.destroy!();
        expect(storage.status).toBe(StorageStatus.Closed);
        await storage.open();
        expect(await storage.get("a")).toBeUndefined();
        expect(await storage.checkpoint()).toBeUndefined();
        await storage.close();
        await storage.destroy!();
        await storage.destroy!();
      });

      it("rejects invalid topics and partitions when the storage is created", async () => {
        const factory = await contract.create();
        for (const topic of ["", ".", "..", "a/b", "../x", "a b", "x".repeat(250)]) {
          throwsWith(() => factory(topic, 0), StorageErrorCode.InvalidArgument);
        }
        for (const partition of [-1, 1.5, Number.NaN, 2 ** 31]) {
          throwsWith(() => factory("group-table", partition), StorageErrorCode.InvalidArgument);
        }
      });
    });
  });
}
