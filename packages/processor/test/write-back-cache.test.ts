import { expect, test } from "vitest";
import { WriteBackCache } from "../src/write-back-cache.js";

function cache() {
  const clock = { now: 1_000 };
  return {
    clock,
    cache: new WriteBackCache<number>({ intervalMs: 500, maxBytes: 100 }, () => clock.now),
  };
}

test("an empty cache is never due, even at the end of its input", () => {
  const { cache: c } = cache();
  expect(c.isEmpty()).toBe(true);
  expect(c.isDue(true)).toBe(false);
});

test("a batch that reached the end of its input makes the cache due at once", () => {
  const { cache: c } = cache();
  c.noteInput(10);
  expect(c.isDue(false)).toBe(false);
  expect(c.isDue(true)).toBe(true);
});

test("a backlog is due after the interval since the first change, or past the byte bound", () => {
  const { clock, cache: c } = cache();
  c.noteInput(10);
  clock.now += 499;
  c.noteInput(10);
  expect(c.isDue(false)).toBe(false);
  clock.now += 1;
  expect(c.isDue(false)).toBe(true);

  const bytes = cache().cache;
  bytes.noteInput(60);
  expect(bytes.isDue(false)).toBe(false);
  bytes.noteInput(40);
  expect(bytes.isDue(false)).toBe(true);
});

test("a key changed twice is held once with its latest state; clear forgets states, records and bounds", () => {
  const { clock, cache: c } = cache();
  c.set("k", 1);
  c.set("k", 2);
  c.records.push({ topic: "out", key: "k", value: null, headers: {} });
  c.noteInput(100);
  expect([...c.changed()]).toEqual([["k", 2]]);
  c.clear();
  expect(c.get("k")).toBeUndefined();
  expect(c.records).toEqual([]);
  expect(c.isEmpty()).toBe(true);
  clock.now += 10_000;
  expect(c.isDue(false)).toBe(false);
});
