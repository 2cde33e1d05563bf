/**
 * Assigns partition numbers to members so that every member gets ⌊P/n⌋ or ⌈P/n⌉ of
 * them and as few as possible move: each member keeps the partitions it owned, up to
 * its share, and only the rest (of members that left, or above a member's share when
 * one joined) go to the members with the fewest. Deterministic for the same input.
 *
 * @param previous each member's partitions before the rebalance (as it reported them)
 * @returns each member's partitions, ascending
 */
export function stickyAssignment(
  memberIds: readonly string[],
  previous: ReadonlyMap<string, readonly number[]>,
  partitions: readonly number[],
): Map<string, number[]> {
  const result = new Map<string, number[]>(memberIds.map((id) => [id, []]));
  if (memberIds.length === 0) return result;
  const existing = new Set(partitions);
  const owned = (id: string) => (previous.get(id) ?? []).filter((p) => existing.has(p));
  // Members that owned the most keep their extra partition first.
  const order = [...memberIds].sort(
    (a, b) => owned(b).length - owned(a).length || (a < b ? -1 : a > b ? 1 : 0),
  );
  const base = Math.floor(partitions.length / memberIds.length);
  const extra = partitions.length % memberIds.length;
  const capacity = new Map(order.map((id, i) => [id, base + (i < extra ? 1 : 0)]));
  const taken = new Set<number>();
  for (const id of order) {
    const kept = result.get(id)!;
    for (const p of [...owned(id)].sort((a, b) => a - b)) {
      if (kept.length >= capacity.get(id)! || taken.has(p)) continue;
      kept.push(p);
      taken.add(p);
    }
  }
  for (const p of [...partitions].sort((a, b) => a - b)) {
    if (taken.has(p)) continue;
    const receiver = order
      .filter((id) => result.get(id)!.length < capacity.get(id)!)
      .sort((a, b) => result.get(a)!.length - result.get(b)!.length)[0]!;
    result.get(receiver)!.push(p);
    taken.add(p);
  }
  for (const list of result.values()) list.sort((a, b) => a - b);
  return result;
}
