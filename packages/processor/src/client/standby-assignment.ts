import { type StoredState, shareSizes } from "./sticky-assignment.js";

/**
 * Chooses which members keep a standby replica of each partition's table: up to
 * `replicas` members other than its owner, among those that ask for standbys.
 *
 * Placed for the failover they are for: when a member dies, the sticky assignment gives
 * its partitions to the members with room, each up to its share, preferring the one with
 * the most current state. So one owner's standbys go first to the members that would have
 * room for them if it died (as many as each would have), then spread over the others.
 * Among equals, the member whose state of the partition is furthest along keeps it (the
 * standby it had stays, with the least to read), then the least loaded one (owned and
 * standby partitions together).
 *
 * @param shares each member's owned partitions (the active assignment)
 * @param replicas standby replicas per partition
 * @param eligible the members that keep standbys
 * @param stored each member's partitions with local state, and their table offsets
 * @returns each eligible member's standby partitions, ascending
 */
export function standbyAssignment(
  shares: ReadonlyMap<string, readonly number[]>,
  replicas: number,
  eligible: ReadonlySet<string>,
  stored: StoredState = new Map(),
): Map<string, number[]> {
  const standby = new Map<string, number[]>([...eligible].sort().map((id) => [id, []]));
  if (replicas <= 0) return standby;
  const owned = (id: string) => shares.get(id)?.length ?? 0;
  const load = new Map([...standby.keys()].map((id) => [id, owned(id)]));
  // Standbys each member keeps of each owner's partitions.
  const ofOwner = new Map<string, Map<string, number>>();
  const owners = [...shares]
    .flatMap(([owner, partitions]) => partitions.map((p) => ({ owner, p })))
    .sort((a, b) => a.p - b.p);
  const partitionCount = [...shares.values()].reduce((sum, list) => sum + list.length, 0);
  // Partitions each member would have room for if the owner died.
  const roomIfGone = new Map<string, Map<string, number>>();
  for (const owner of shares.keys()) {
    const survivors = [...shares.keys()].filter((id) => id !== owner);
    if (survivors.length === 0) continue;
    const sizes = shareSizes(survivors, owned, partitionCount);
    roomIfGone.set(owner, new Map(survivors.map((id) => [id, sizes.get(id)! - owned(id)])));
  }
  for (const { owner, p } of owners) {
    const spread = ofOwner.get(owner) ?? new Map<string, number>();
    ofOwner.set(owner, spread);
    const room = roomIfGone.get(owner) ?? new Map<string, number>();
    const hasRoom = (id: string) => ((room.get(id) ?? 0) > (spread.get(id) ?? 0) ? 0 : 1);
    const offsetOf = (id: string) => stored.get(id)?.get(p) ?? -1;
    const candidates = [...standby.keys()]
      .filter((id) => id !== owner)
      .sort(
        (a, b) =>
          hasRoom(a) - hasRoom(b) ||
          (spread.get(a) ?? 0) - (spread.get(b) ?? 0) ||
          owned(a) - owned(b) ||
          offsetOf(b) - offsetOf(a) ||
          load.get(a)! - load.get(b)! ||
          (a < b ? -1 : 1),
      );
    for (const id of candidates.slice(0, replicas)) {
      standby.get(id)!.push(p);
      load.set(id, load.get(id)! + 1);
      spread.set(id, (spread.get(id) ?? 0) + 1);
    }
  }
  return standby;
}
