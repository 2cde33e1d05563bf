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

  test("property: a partition of a partition count goes to exactly one member; shares differ by at most one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 10 }), {
          minLength: 6,
          maxLength: 6,
        }),
        (n, count, claims) => {
          const members = range(n).map((i) => `m${i}`);
          const previous = new Map(members.map((m, i) => [m, claims[i]!]));
          const result = stickyAssignment(members, previous, range(count));
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
