import { describe, expect, it } from "vitest";
import { CommitRate } from "../src/commit-rate.js";

describe("CommitRate", () => {
  it("counts the growth of the committed total between polls, nothing at the first", () => {
    let now = 1_000_000_000_000;
    const rate = new CommitRate({ windowMs: 20_000, bucketMs: 5_000 }, () => now);
    expect(rate.sample(100n).counts).toEqual([0, 0, 0, 0]);
    now += 5_000;
    expect(rate.sample(130n).counts).toEqual([0, 0, 0, 30]);
  });

  it("counts a reset to lower offsets as no throughput, and the growth after it", () => {
    let now = 1_000_000_000_000;
    const rate = new CommitRate({ windowMs: 20_000, bucketMs: 5_000 }, () => now);
    rate.sample(100n);
    now += 5_000;
    expect(rate.sample(10n).counts).toEqual([0, 0, 0, 0]);
    now += 5_000;
    expect(rate.sample(15n).counts).toEqual([0, 0, 0, 5]);
  });
});
