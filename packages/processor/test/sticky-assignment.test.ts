import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { stickyAssignment } from "../src/client/sticky-assignment.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("stickyAssignment", () => {
  test("without history, balanced", () => {
    const result = stickyAssignment(["a", "b", "c"], new Map(), range(8));
    expect([...result.values()].map((l) => l.length).sort()).toEqual([2, 3, 3]);
    expect([...result.values()].flat().sort((x, y) => x - y)).toEqual(range(8));
  });

  test("a joining member takes only what the others have above their share", () => {
    const previous = new Map([
      ["a", [0, 1, 2, 3]],
      ["b", [4, 5, 6, 7]],
    ]);
    const result = stickyAssignment(["a", "b", "c"], previous, range(8));
    expect(result.get("c")!.length).toBe(2);
    // Nobody else's partitions moved between a and b.
    expect(result.get("a")!.every((p) => previous.get("a")!.includes(p))).toBe(true);
    expect(result.get("b")!.every((p) => previous.get("b")!.includes(p))).toBe(true);
  });

  test("a leaving member's partitions are spread; the others keep theirs", () => {
    const previous = new Map([
      ["a", [0, 3, 6]],
      ["b", [1, 4, 7]],
      ["c", [2, 5]],
    ]);
    const result = stickyAssignment(["a", "b"], previous, range(8));
    expect(result.get("a")).toEqual(expect.arrayContaining([0, 3, 6]));
    expect(result.get("b")).toEqual(expect.arrayContaining([1, 4, 7]));
    expect([...result.values()].flat().sort((x, y) => x - y)).toEqual(range(8));
  });

  const offsets = (entries: Record<number, number>) =>
    new Map(Object.entries(entries).map(([p, offset]) => [Number(p), offset]));

  test("a member above its share gives up the partitions another holds the most current state of", () => {
    // b restarted on its state directory: it owns nothing, holds 0 and 7 almost as far
    // as a, and old copies of 1, 2, 3, 4 and 6.
    const previous = new Map([["a", range(8)]]);
    const stored = new Map([
      ["a", offsets({ 0: 500, 1: 500, 2: 500, 3: 500, 4: 500, 5: 500, 6: 500, 7: 500 })],
      ["b", offsets({ 0: 490, 1: 10, 2: 10, 3: 10, 4: 10, 6: 10, 7: 480 })],
    ]);
    const result = stickyAssignment(["a", "b"], previous, range(8), stored);
    // a keeps 5 (no copy elsewhere) and the lowest of those far behind elsewhere.
    expect(result.get("a")).toEqual([1, 2, 3, 5]);
    expect(result.get("b")).toEqual([0, 4, 6, 7]);
    // Without what they hold, a keeps its lowest and b gets the rest.
    expect(stickyAssignment(["a", "b"], previous, range(8)).get("b")).toEqual([4, 5, 6, 7]);
  });

  test("a partition that moves goes to the member with room whose state of it is furthest along", () => {
    // a left; b and c hold old copies of its partitions.
    const previous = new Map([
      ["a", [0, 1]],
      ["b", [2, 3]],
      ["c", [4, 5]],
    ]);
    const stored = new Map([
      ["b", offsets({ 0: 10, 1: 90 })],
      ["c", offsets({ 0: 80, 1: 20 })],
    ]);
    const result = stickyAssignment(["b", "c"], previous, range(6), stored);
    expect(result.get("b")).toEqual([1, 2, 3]);
    expect(result.get("c")).toEqual([0, 4, 5]);
  });

  test("property: a partition of a partition count goes to exactly one member; shares differ by at most one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 10 }), {
          minLength: 6,
          maxLength: 6,
        }),
        fc.array(
          fc.dictionary(fc.integer({ min: 0, max: 30 }).map(String), fc.nat(1000), {
            maxKeys: 10,
          }),
          { minLength: 6, maxLength: 6 },
        ),
        (n, count, claims, held) => {
          const members = range(n).map((i) => `m${i}`);
          const previous = new Map(members.map((m, i) => [m, claims[i]!]));
          const stored = new Map(members.map((m, i) => [m, offsets(held[i]!)]));
          const result = stickyAssignment(members, previous, range(count), stored);
          const all = [...result.values()].flat().sort((x, y) => x - y);
          expect(all).toEqual(range(count));
          const sizes = [...result.values()].map((l) => l.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        },
      ),
      { seed: 20261203, numRuns: 300 },
    );
  });
});
