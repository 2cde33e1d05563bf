import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { standbyAssignment } from "../src/client/standby-assignment.js";
import { stickyAssignment } from "../src/client/sticky-assignment.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const ids = (n: number) => range(n).map((i) => `member-${i}`);

/** Each partition's standby holders. */
function holders(standby: ReadonlyMap<string, readonly number[]>): Map<number, string[]> {
  const result = new Map<number, string[]>();
  for (const [id, partitions] of standby)
    for (const p of partitions) result.set(p, [...(result.get(p) ?? []), id]);
  return result;
}

describe("standbyAssignment", () => {
  test("each partition gets its replicas on other members, spread over them", () => {
    const members = ids(3);
    const shares = stickyAssignment(members, new Map(), range(8));
    const standby = standbyAssignment(shares, 1, new Set(members));
    const byPartition = holders(standby);
    for (const [owner, partitions] of shares) {
      for (const p of partitions) {
        expect(byPartition.get(p)).toHaveLength(1);
        expect(byPartition.get(p)).not.toContain(owner);
      }
      // One owner's partitions stand by on different members, as evenly as they go.
      const perHolder = new Map<string, number>();
      for (const p of partitions) {
        const holder = byPartition.get(p)![0]!;
        perHolder.set(holder, (perHolder.get(holder) ?? 0) + 1);
      }
      const counts = [...perHolder.values()];
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(perHolder.size).toBe(Math.min(partitions.length, members.length - 1));
    }
  });

  test("a member that does not ask for standbys keeps none; replicas are capped by the members", () => {
    const shares = new Map([
      ["a", [0, 1]],
      ["b", [2, 3]],
      ["c", [4, 5]],
    ]);
    const standby = standbyAssignment(shares, 5, new Set(["a", "b"]));
    expect(standby.has("c")).toBe(false);
    expect(standby.get("a")).toEqual([2, 3, 4, 5]);
    expect(standby.get("b")).toEqual([0, 1, 4, 5]);
    expect(standbyAssignment(shares, 0, new Set(["a", "b", "c"])).get("a")).toEqual([]);
  });

  test("a standby stays where its state is furthest along", () => {
    const shares = new Map([
      ["a", [0, 1]],
      ["b", [2, 3]],
      ["c", [4, 5]],
    ]);
    // Without state, a's partitions 0 and 1 stand by on b and c; with c's state of 0 the
    // other way round.
    const fresh = holders(standbyAssignment(shares, 1, new Set(["a", "b", "c"])));
    expect([fresh.get(0), fresh.get(1)]).toEqual([["b"], ["c"]]);
    const stored = new Map([["c", new Map([[0, 500]])]]);
    const kept = holders(standbyAssignment(shares, 1, new Set(["a", "b", "c"]), stored));
    expect([kept.get(0), kept.get(1)]).toEqual([["c"], ["b"]]);
  });

  test("property: when any one member dies, its partitions go to their standbys", () => {
    // The failover the standbys are for: the survivors report their standbys' offsets
    // (caught up: the table's end) and the sticky assignment moves each partition of the
    // dead member to a member with room whose state is furthest along.
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 24 }),
        fc.nat(),
        (memberCount, partitionCount, deadIndex) => {
          const members = ids(memberCount);
          const shares = stickyAssignment(members, new Map(), range(partitionCount));
          const standby = standbyAssignment(shares, 1, new Set(members));
          const dead = members[deadIndex % memberCount]!;
          const survivors = members.filter((m) => m !== dead);
          const stored = new Map(
            survivors.map((m) => [m, new Map(standby.get(m)!.map((p) => [p, 1_000]))]),
          );
          const after = stickyAssignment(survivors, shares, range(partitionCount), stored);
          const byPartition = holders(standby);
          for (const [member, partitions] of after) {
            for (const p of partitions) {
              if (!shares.get(dead)!.includes(p)) continue;
              expect(byPartition.get(p), `partition ${p} of ${dead} went to ${member}`).toContain(
                member,
              );
            }
          }
        },
      ),
    );
  });
});
