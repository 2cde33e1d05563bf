/**
 * The user data toka's co-partitioned assigner exchanges through the group protocol
 * (JoinGroup subscriptions and SyncGroup assignments), as JSON.
 *
 * Subscription, from each member to the leader:
 * - version 1 (toka before query addresses): `[0, 3, 5]`, the partitions the member owns;
 * - version 2: `{ "owned": [0, 3, 5], "stored": { "0": 1200, "1": 80 }, "queryAddress":
 *   "http://10.0.0.7:8080", "standbyReplicas": 1 }`, `stored` (the partitions it holds
 *   local state of, owned or not, with the table offset that state reached), the address
 *   and the standby replicas it asks for optional.
 * Assignment, from the leader to each member (version 2; empty before):
 * `{ "partitions": 8, "owners": { "0": "http://10.0.0.7:8080", ... }, "standby": [2, 6] }`:
 * the partition count and the query address of each partition's owner, for the whole
 * group (partitions whose owner advertised none are absent), and the partitions this
 * member keeps a standby replica of (absent when none).
 */

/** What a member tells the leader when it joins. */
export interface MemberSubscriptionData {
  /** The partitions it owns now, for the sticky assignment. */
  readonly owned: readonly number[];
  /** Partitions it holds local state of, owned or not, with the table offset it reached. */
  readonly stored?: ReadonlyMap<number, number> | undefined;
  /** The base URL of its query service, if it advertises one. */
  readonly queryAddress?: string | undefined;
  /**
   * Standby replicas of each partition it asks the group for; a member asking for none
   * is given none to keep.
   */
  readonly standbyReplicas?: number | undefined;
}

/** What the leader tells one member beside its partitions. */
export interface MemberAssignmentData {
  /** The group's partition owners and their query addresses. */
  readonly owners: PartitionOwners;
  /** The partitions whose table this member keeps a standby replica of, ascending. */
  readonly standby: readonly number[];
}

/** Who owns which partition in the group's current assignment. */
export interface PartitionOwners {
  /** Partitions of the group's co-partitioned topics: a key's partition is murmur2 of it modulo this. */
  readonly partitionCount: number;
  /** The query address of each partition's owner; absent where the owner advertised none. */
  readonly addresses: ReadonlyMap<number, string>;
}

/** Encodes a member's subscription user data (version 2). */
export function encodeSubscriptionData(data: MemberSubscriptionData): Buffer {
  return Buffer.from(
    JSON.stringify({
      owned: data.owned,
      ...(data.stored?.size
        ? { stored: Object.fromEntries([...data.stored].sort(([a], [b]) => a - b)) }
        : {}),
      ...(data.queryAddress === undefined ? {} : { queryAddress: data.queryAddress }),
      ...(data.standbyReplicas ? { standbyReplicas: data.standbyReplicas } : {}),
    }),
  );
}

/**
 * Decodes a member's subscription user data of either version; anything else (another
 * client's, corrupt bytes) reads as owning nothing and advertising no address.
 */
export function decodeSubscriptionData(bytes: Uint8Array | undefined): MemberSubscriptionData {
  const parsed = parseJson(bytes);
  if (Array.isArray(parsed)) return { owned: partitionNumbers(parsed) };
  if (!isRecord(parsed)) return { owned: [] };
  const owned = Array.isArray(parsed.owned) ? partitionNumbers(parsed.owned) : [];
  const stored = new Map<number, number>();
  if (isRecord(parsed.stored)) {
    for (const [key, offset] of Object.entries(parsed.stored))
      if (/^\d+$/.test(key) && Number.isSafeInteger(offset) && (offset as number) >= 0)
        stored.set(Number(key), offset as number);
  }
  return {
    owned,
    ...(stored.size > 0 ? { stored } : {}),
    ...(typeof parsed.queryAddress === "string" && parsed.queryAddress !== ""
      ? { queryAddress: parsed.queryAddress }
      : {}),
    ...(Number.isSafeInteger(parsed.standbyReplicas) && (parsed.standbyReplicas as number) > 0
      ? { standbyReplicas: parsed.standbyReplicas as number }
      : {}),
  };
}

/** Encodes what a leader puts into one member's assignment. */
export function encodeAssignmentData({ owners, standby }: MemberAssignmentData): Buffer {
  return Buffer.from(
    JSON.stringify({
      partitions: owners.partitionCount,
      owners: Object.fromEntries(
        [...owners.addresses].sort(([a], [b]) => a - b).map(([p, a]) => [String(p), a]),
      ),
      ...(standby.length > 0 ? { standby: [...standby].sort((a, b) => a - b) } : {}),
    }),
  );
}

/**
 * Decodes the partition owners and standby partitions of an assignment; undefined for
 * one without (empty user data: a leader of an older toka) or one that is not this form.
 */
export function decodeAssignmentData(
  bytes: Uint8Array | undefined,
): MemberAssignmentData | undefined {
  const parsed = parseJson(bytes);
  if (!isRecord(parsed) || !isRecord(parsed.owners)) return undefined;
  const { partitions } = parsed;
  if (typeof partitions !== "number" || !Number.isInteger(partitions) || partitions < 1)
    return undefined;
  const addresses = new Map<number, string>();
  for (const [key, address] of Object.entries(parsed.owners)) {
    const partition = Number(key);
    if (
      /^\d+$/.test(key) &&
      partition < partitions &&
      typeof address === "string" &&
      address !== ""
    )
      addresses.set(partition, address);
  }
  const standby = Array.isArray(parsed.standby)
    ? partitionNumbers(parsed.standby).filter((p) => p < partitions)
    : [];
  return { owners: { partitionCount: partitions, addresses }, standby };
}

/**
 * The partition owners of a new assignment: each member's shares with the address it
 * advertised.
 */
export function partitionOwners(
  shares: ReadonlyMap<string, readonly number[]>,
  subscriptions: ReadonlyMap<string, MemberSubscriptionData>,
  partitionCount: number,
): PartitionOwners {
  const addresses = new Map<number, string>();
  for (const [memberId, partitions] of shares) {
    const address = subscriptions.get(memberId)?.queryAddress;
    if (address === undefined) continue;
    for (const p of partitions) addresses.set(p, address);
  }
  return { partitionCount, addresses };
}

function parseJson(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.byteLength === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function partitionNumbers(values: readonly unknown[]): number[] {
  return values.filter((p): p is number => Number.isInteger(p) && (p as number) >= 0);
}
