import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type StorageErrorCode as Code,
  levelStorage,
  memoryStorage,
  StorageErrorCode,
  type StorageFactory,
  type StoredWindow,
  WindowStore,
} from "../src/index.js";
import { bytes, openStorage, rejectsWith, tempDir, text } from "./helpers.js";

const SEED = Number(process.env.TOKA_WINDOW_SEED ?? Date.now() % 2 ** 31);
console.log(`window store property seed ${SEED} (rerun with TOKA_WINDOW_SEED=${SEED})`);

/** A window as the tests compare them: the value as text. */
interface Shown {
  key: string;
  start: number;
  end: number;
  value: string;
}

function show(window: StoredWindow): Shown {
  return { key: window.key, start: window.start, end: window.end, value: text(window.value)! };
}

async function all(windows: AsyncIterable<StoredWindow>): Promise<Shown[]> {
  const out: Shown[] = [];
  for await (const window of windows) out.push(show(window));
  return out;
}

function win(key: string, start: number, end: number, value: string): StoredWindow {
  return { key, start, end, value: bytes(value) };
}

async function openWindowStore(factory: StorageFactory): Promise<WindowStore> {
  return new WindowStore(await openStorage(factory, "clicks-windows", 0));
}

const keys = fc.constantFrom("a", "ab", "b", "", "a\u0000", "😀");
const small = fc.integer({ min: 0, max: 40 });
const ops = fc.array(
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant("put" as const),
        key: keys,
        start: small,
        end: fc.integer({ min: 0, max: 20 }),
        value: fc.string({ maxLength: 3 }),
        withPreviousEnd: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("delete" as const),
        key: keys,
        start: small,
        withEnd: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("expire" as const),
        before: fc.integer({ min: 0, max: 70 }),
        batchSize: fc.integer({ min: 1, max: 4 }),
      }),
    },
  ),
  { maxLength: 40 },
);

function windowStoreContract(name: string, create: () => Promise<StorageFactory>): void {
  describe(`WindowStore on ${name}`, () => {
    it("fetch(key, from, to) returns the key's windows with start in [from, to], in start order", async () => {
      const store = await openWindowStore(await create());
      await store.write({
        puts: [
          win("a", 120, 180, "a120"),
          win("a", 0, 60, "a0"),
          win("a", 60, 120, "a60"),
          win("ab", 60, 120, "ab60"),
          win("", 60, 120, "empty60"),
          win("b", 60, 120, "b60"),
        ],
      });
      expect((await all(store.fetch("a", 0, 120))).map((w) => w.value)).toEqual([
        "a0",
        "a60",
        "a120",
      ]);
      expect((await all(store.fetch("a", 1, 119))).map((w) => w.value)).toEqual(["a60"]);
      expect(
        (await all(store.fetch("a", -Infinity, Infinity, { reverse: true }))).map((w) => w.value),
      ).toEqual(["a120", "a60", "a0"]);
      expect(await all(store.fetch("ab", 0, 1000))).toEqual([
        { key: "ab", start: 60, end: 120, value: "ab60" },
      ]);
      expect(await all(store.fetch("a", 121, 119))).toEqual([]);
      expect(await all(store.fetch("c", 0, 1000))).toEqual([]);
    });

    it("keeps the last put of a window, and get() reads it with its end", async () => {
      const store = await openWindowStore(await create());
      await store.write({ puts: [win("k", 5, 10, "one"), win("k", 5, 12, "two")] });
      expect(show((await store.get("k", 5))!)).toEqual({
        key: "k",
        start: 5,
        end: 12,
        value: "two",
      });
      expect(await store.get("k", 6)).toBeUndefined();
      await store.delete("k", 5);
      expect(await store.get("k", 5)).toBeUndefined();
    });

    it("writes windows and the checkpoint atomically in one write", async () => {
      const store = await openWindowStore(await create());
      const checkpoint = { tableOffset: "7", inputOffsets: { clicks: "9" } };
      await store.write({ puts: [win("k", 0, 60, "1")], checkpoint });
      expect(await store.checkpoint()).toEqual(checkpoint);
      // An invalid window anywhere in a batch writes nothing, checkpoint included.
      await rejectsWith(
        store.write({
          puts: [win("k", 60, 120, "2"), win("k", 200, 100, "ends before it starts")],
          checkpoint: { tableOffset: "8", inputOffsets: {} },
        }),
        StorageErrorCode.InvalidArgument,
      );
      expect(await store.get("k", 60)).toBeUndefined();
      expect(await store.checkpoint()).toEqual(checkpoint);
    });

    it("expire(before) deletes exactly the windows ending before it, in batches", async () => {
      const store = await openWindowStore(await create());
      const puts = Array.from({ length: 25 }, (_, i) =>
        win(`k${i % 3}`, i * 10, i * 10 + 10, `${i}`),
      );
      await store.write({ puts });
      expect(await store.expire(105, { batchSize: 4 })).toBe(10);
      const left = [
        ...(await all(store.fetch("k0", 0, Infinity))),
        ...(await all(store.fetch("k1", 0, Infinity))),
        ...(await all(store.fetch("k2", 0, Infinity))),
      ];
      expect(left.map((w) => w.end).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 15 }, (_, i) => 110 + i * 10),
      );
      expect(await store.expire(105)).toBe(0);
      expect(await store.expire(Infinity)).toBe(15);
      expect(await store.storage.stats()).toEqual(expect.objectContaining({ keys: 0 }));
    });

    it("does not expire a window put again with a later end", async () => {
      const store = await openWindowStore(await create());
      await store.put(win("s", 10, 20, "short"));
      await store.put(win("s", 10, 50, "grown"));
      expect(await all(store.fetchEnding(0, 30))).toEqual([]);
      expect(await store.expire(30)).toBe(0);
      expect(show((await store.get("s", 10))!).value).toBe("grown");
      expect(await all(store.fetchEnding(50, 50))).toEqual([
        { key: "s", start: 10, end: 50, value: "grown" },
      ]);
    });

    it("drops the old expiry entry of a window whose end changes when told its previous end", async () => {
      const store = await openWindowStore(await create());
      await store.put(win("s", 10, 20, "short"));
      await store.put({ ...win("s", 10, 50, "grown"), previousEnd: 20 });
      // The window and one expiry entry: nothing left under the old end.
      expect((await store.storage.stats()).keys).toBe(2);
      await store.delete("s", 10, 50);
      expect((await store.storage.stats()).keys).toBe(0);
      // Within one batch, the end the last put leaves keeps its entry.
      await store.write({
        puts: [
          win("t", 0, 5, "1"),
          { ...win("t", 0, 9, "2"), previousEnd: 5 },
          { ...win("t", 0, 5, "3"), previousEnd: 9 },
        ],
      });
      expect(await all(store.fetchEnding(5, 5))).toEqual([
        { key: "t", start: 0, end: 5, value: "3" },
      ]);
      expect((await store.storage.stats()).keys).toBe(2);
    });

    it("rejects invalid arguments with STORAGE_INVALID_ARGUMENT", async () => {
      const store = await openWindowStore(await create());
      const cases: [Promise<unknown>, Code][] = [
        [store.put(win("k", -1, 0, "")), StorageErrorCode.InvalidArgument],
        [
          store.put({ key: "k", start: 0, end: 1, value: "x" as never }),
          StorageErrorCode.InvalidArgument,
        ],
        [all(store.fetch("k", 0.5, 1)), StorageErrorCode.InvalidArgument],
        [store.expire(Number.NaN), StorageErrorCode.InvalidArgument],
        [store.expire(10, { batchSize: 0 }), StorageErrorCode.InvalidArgument],
      ];
      for (const [promise, code] of cases) await rejectsWith(promise, code);
    });

    it("agrees with a model over any sequence of puts, deletes and expiries", async () => {
      const factory = await create();
      let partition = 0;
      await fc.assert(
        fc.asyncProperty(ops, async (sequence) => {
          const store = new WindowStore(await openStorage(factory, "model-windows", partition++));
          const model = new Map<string, Shown>();
          const id = (key: string, start: number): string => JSON.stringify([key, start]);
          for (const step of sequence) {
            if (step.op === "put") {
              const end = step.start + step.end;
              const previousEnd = model.get(id(step.key, step.start))?.end;
              await store.put(
                step.withPreviousEnd && previousEnd !== undefined
                  ? { ...win(step.key, step.start, end, step.value), previousEnd }
                  : win(step.key, step.start, end, step.value),
              );
              model.set(id(step.key, step.start), {
                key: step.key,
                start: step.start,
                end,
                value: step.value,
              });
            } else if (step.op === "delete") {
              const known = model.get(id(step.key, step.start));
              await store.delete(step.key, step.start, step.withEnd ? known?.end : undefined);
              model.delete(id(step.key, step.start));
            } else {
              const expected = [...model.values()].filter((w) => w.end < step.before).length;
              expect(await store.expire(step.before, { batchSize: step.batchSize })).toBe(expected);
              for (const [k, w] of model) if (w.end < step.before) model.delete(k);
            }
          }
          const windows = [...model.values()];
          for (const key of ["a", "ab", "b", "", "a\u0000", "😀"]) {
            const mine = windows.filter((w) => w.key === key).sort((x, y) => x.start - y.start);
            expect(await all(store.fetch(key, 0, Infinity))).toEqual(mine);
            expect(await all(store.fetch(key, 10, 30))).toEqual(
              mine.filter((w) => w.start >= 10 && w.start <= 30),
            );
          }
          const byEnd = (x: Shown, y: Shown): number =>
            x.end - y.end ||
            Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)) ||
            x.start - y.start;
          const ending = await all(store.fetchEnding(15, 45));
          const wanted = windows.filter((w) => w.end >= 15 && w.end <= 45);
          expect(new Set(ending.map((w) => JSON.stringify(w)))).toEqual(
            new Set(wanted.map((w) => JSON.stringify(w))),
          );
          expect(ending.map((w) => w.end)).toEqual([...wanted].sort(byEnd).map((w) => w.end));
          // Expiring everything leaves the storage empty: no index entry outlives its window.
          expect(await store.expire(Infinity)).toBe(windows.length);
          expect((await store.storage.stats()).keys).toBe(0);
          await store.storage.close();
        }),
        { seed: SEED, numRuns: 60 },
      );
    });
  });
}

windowStoreContract("memoryStorage", async () => memoryStorage());
windowStoreContract("levelStorage", async () => levelStorage({ path: await tempDir() }));

describe("WindowStore on levelStorage", () => {
  it("finds a key's windows by range scan after a reopen, with the checkpoint written with them", async () => {
    const factory = levelStorage({ path: await tempDir() });
    const storage = factory("clicks-windows", 3);
    await storage.open();
    const store = new WindowStore(storage);
    const minute = 60_000;
    const day = 1_700_000_000_000 - (1_700_000_000_000 % minute);
    // Many keys, some prefixing others, so the scan must skip over neighbours.
    const puts: StoredWindow[] = [];
    for (const key of ["user", "user1", "user10", "use", "user\u0000"]) {
      for (let i = 0; i < 50; i++)
        puts.push(win(key, day + i * minute, day + (i + 1) * minute, `${key}@${i}`));
    }
    await store.write({
      puts,
      checkpoint: { tableOffset: "250", inputOffsets: { clicks: "250" } },
    });
    await storage.close();

    await storage.open();
    expect(await store.checkpoint()).toEqual({
      tableOffset: "250",
      inputOffsets: { clicks: "250" },
    });
    const found = await all(store.fetch("user1", day + 10 * minute, day + 12 * minute));
    expect(found.map((w) => w.value)).toEqual(["user1@10", "user1@11", "user1@12"]);
    expect(found.map((w) => w.end - w.start)).toEqual([minute, minute, minute]);
    expect((await all(store.fetch("user", 0, Infinity))).length).toBe(50);
    expect(await store.expire(day + 10 * minute)).toBe(5 * 9);
    expect((await all(store.fetch("user10", 0, Infinity)))[0]!.value).toBe("user10@9");
    await storage.close();
  });
});
