/** Each member's partitions with local state, and the table offset that state reached. */
export type StoredState = ReadonlyMap<string, ReadonlyMap<number, number>>;

/**
 * Assigns partition numbers to members so that every member gets ⌊P/n⌋ or ⌈P/n⌉ of
 * them and as few as possible move: each member keeps the partitions it owned, up to
 * its share, and only the rest (of members that left, or above a member's share when
 * one joined) go to the members with the fewest. Deterministic for the same input.
 *
 * Members may also report the partitions they hold local state of, with the table offset
 * it reached (an instance restarted on its state directory holds the partitions it had;
 * an owner reports where its partitions stand). A partition that moves goes to the member
 * with room whose state of it is furthest along, which then restores only the rest; and a
 * member above its share gives up first the partitions another member holds the most
 * current state of (the smallest gap between its offset and the other's).
 *
 * @param previous each member's partitions before the rebalance (as it reported them)
 * @param stored each member's partitions with local state, and their table offsets
 * @returns each member's partitions, ascending
 */
export function stickyAssignment(
  memberIds: readonly string[],
  previous: ReadonlyMap<string, readonly number[]>,
  partitions: readonly number[],
  stored: StoredState = new Map(),
): Map<string, number[]> {
  const result = new Map<string, number[]>(memberIds.map((id) => [id, []]));
  if (memberIds.length === 0) return result;
  const existing = new Set(partitions);
  const owned = (id: string) => (previous.get(id) ?? []).filter((p) => existing.has(p));
  const offsetOf = (id: string, p: number) => stored.get(id)?.get(p) ?? -1;
  // How far the best copy elsewhere is behind this member's: a partition without one
  // elsewhere is kept first, one with an almost current copy elsewhere given up first.
  const gap = (id: string, p: number) => {
    const elsewhere = Math.max(-1, ...memberIds.filter((o) => o !== id).map((o) => offsetOf(o, p)));
    if (elsewhere < 0) return Number.POSITIVE_INFINITY;
    const own = offsetOf(id, p);
    return own < 0 ? 0 : own - elsewhere;
  };
  const capacity = shareSizes(memberIds, (id) => owned(id).length, partitions.length);
  const order = [...capacity.keys()];
  const taken = new Set<number>();
  for (const id of order) {
    const kept = result.get(id)!;
    const keep = owned(id).sort((a, b) => gap(id, b) - gap(id, a) || a - b);
    for (const p of keep) {
      if (kept.length >= capacity.get(id)! || taken.has(p)) continue;
      kept.push(p);
      taken.add(p);
    }
  }
  for (const p of [...partitions].sort((a, b) => a - b)) {
    if (taken.has(p)) continue;
    const withRoom = order.filter((id) => result.get(id)!.length < capacity.get(id)!);
    const furthest = withRoom
      .filter((id) => offsetOf(id, p) >= 0)
      .sort((a, b) => offsetOf(b, p) - offsetOf(a, p))[0];
    const receiver =
      furthest ?? withRoom.sort((a, b) => result.get(a)!.length - result.get(b)!.length)[0]!;
    result.get(receiver)!.push(p);
    taken.add(p);
  }
  for (const list of result.values()) list.sort((a, b) => a - b);
  return result;
}

/**
 * How many partitions each member gets: ⌊P/n⌋, and one more for the first P mod n
 * members that owned the most (they keep their extra partition). In that order.
 */
export function shareSizes(
  memberIds: readonly string[],
  ownedCount: (id: string) => number,
  partitions: number,
): Map<string, number> {
  const order = [...memberIds].sort(
    (a, b) => ownedCount(b) - ownedCount(a) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const base = Math.floor(partitions / memberIds.length);
  const extra = partitions % memberIds.length;
  return new Map(order.map((id, i) => [id, base + (i < extra ? 1 : 0)]));
}
