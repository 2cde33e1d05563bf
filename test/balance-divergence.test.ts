import { describe, expect, it } from "vitest";
import { type AccountRecord, firstDivergence, type Movement } from "./balance-divergence.js";

const LOOP = "accounts-loop";
const move = (offset: string, id: string, delta: number): Movement => ({
  topic: LOOP,
  offset,
  id,
  delta,
  timestamp: 0,
});
const record = (
  offset: string,
  balance: number,
  applied: string,
  remembered: string[],
): AccountRecord => ({
  partition: 0,
  offset,
  timestamp: 0,
  balance,
  applied: { [LOOP]: applied },
  remembered,
});

describe("firstDivergence", () => {
  it("names a copy counted twice, and whether the key still remembered its ID", () => {
    const movements = [move("1", "t-1:1", 10), move("2", "t-2:1", 5), move("3", "t-1:1", 10)];
    const records = [record("0", 15, "2", ["t-2:1"]), record("1", 25, "3", ["t-1:1", "t-2:1"])];
    const divergence = firstDivergence("acct", records, movements);
    expect(divergence?.record).toMatchObject({ offset: "1", balance: 25, expected: 15 });
    expect(divergence?.repeated).toEqual([
      { id: "t-1:1", offset: "3", rememberedByPrevious: false },
    ]);
  });

  it("finds nothing where every record's balance is its movements, each ID once", () => {
    const movements = [move("1", "t-1:1", 10), move("2", "t-1:1", 10)];
    expect(firstDivergence("acct", [record("0", 10, "2", ["t-1:1"])], movements)).toBe(undefined);
  });
});
