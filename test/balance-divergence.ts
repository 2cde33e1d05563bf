/** One debit or credit of an account as its input log holds it. */
export interface Movement {
  readonly topic: string;
  readonly offset: string;
  /** The message's `toka-id`: a repeated ID is one movement. */
  readonly id: string;
  readonly delta: number;
  /** When the record was written (ms). */
  readonly timestamp: number;
}

/** A table record of one account: its balance and the input offsets it says it applied. */
export interface AccountRecord {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly balance: number;
  readonly applied: Readonly<Record<string, string>>;
  /** The message IDs its dedup state remembers (at most `dedup.idsPerKey`). */
  readonly remembered: readonly string[];
}

/** A movement a record covers whose ID its predecessor had applied already. */
export interface RepeatedMovement {
  readonly id: string;
  readonly offset: string;
  /** Whether the predecessor's dedup state still held the ID: false means it was evicted. */
  readonly rememberedByPrevious: boolean;
}

/** The first table record of an account whose balance its applied offsets do not explain. */
export interface Divergence {
  readonly key: string;
  readonly record: AccountRecord & { expected: number };
  readonly previous: AccountRecord | undefined;
  /** The movements the record covers beyond its predecessor: where to look. */
  readonly covered: Movement[];
  /** Covered movements that are copies of one the predecessor applied: counted twice? */
  readonly repeated: RepeatedMovement[];
}

/**
 * Where a wrong balance came from. An exactly-once table record carries the input
 * offsets applied to its key, so its balance must be the sum of the key's movements up
 * to those offsets, each ID once. The first record that breaks this was written by the
 * member that lost or doubled a movement; its time and offsets point into the workers'
 * logs. `records` and `movements` are in log order.
 */
export function firstDivergence(
  key: string,
  records: readonly AccountRecord[],
  movements: readonly Movement[],
): Divergence | undefined {
  let previous: AccountRecord | undefined;
  for (const record of records) {
    const expected = balanceAt(movements, record.applied);
    if (expected !== record.balance) {
      const byPrevious = (m: Movement) => previous !== undefined && isApplied(m, previous.applied);
      const covered = movements.filter((m) => isApplied(m, record.applied) && !byPrevious(m));
      const before = new Set(movements.filter(byPrevious).map((m) => m.id));
      const repeated = covered
        .filter((m) => before.has(m.id))
        .map((m) => ({
          id: m.id,
          offset: m.offset,
          rememberedByPrevious: previous?.remembered.includes(m.id) ?? false,
        }));
      return { key, record: { ...record, expected }, previous, covered, repeated };
    }
    previous = record;
  }
  return undefined;
}

function balanceAt(movements: readonly Movement[], applied: Readonly<Record<string, string>>) {
  const seen = new Set<string>();
  let balance = 0;
  for (const m of movements) {
    if (!isApplied(m, applied) || seen.has(m.id)) continue;
    seen.add(m.id);
    balance += m.delta;
  }
  return balance;
}

function isApplied(m: Movement, applied: Readonly<Record<string, string>>): boolean {
  const upTo = applied[m.topic];
  return upTo !== undefined && BigInt(m.offset) <= BigInt(upTo);
}
