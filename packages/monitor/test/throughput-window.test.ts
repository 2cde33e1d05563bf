import { describe, expect, it } from "vitest";
import { ThroughputWindow } from "../src/throughput-window.js";

describe("ThroughputWindow", () => {
  const at = (seconds: number) => 1_000_000_000_000 + seconds * 1000;

  it("sums counts per bucket, oldest first, ending with the bucket of now", () => {
    const window = new ThroughputWindow({ windowMs: 20_000, bucketMs: 5_000 });
    window.add(3, at(0));
    window.add(4, at(4));
    window.add(10, at(12));
    const series = window.series(at(14));
    expect(series.counts).toEqual([0, 7, 0, 10]);
    expect(series.start).toBe(at(-5));
    expect(series.bucketMs).toBe(5_000);
  });

  it("forgets buckets that left the window when the ring comes round again", () => {
    const window = new ThroughputWindow({ windowMs: 20_000, bucketMs: 5_000 });
    window.add(5, at(0));
    // Four buckets later the same slot holds a new bucket: the old count is gone.
    window.add(2, at(20));
    expect(window.series(at(20)).counts).toEqual([0, 0, 0, 2]);
    // A slot not written since a lap counts as zero too.
    expect(window.series(at(41)).counts).toEqual([0, 0, 0, 0]);
  });

  it("ignores counts older than a slot's bucket (a late event after the ring moved on)", () => {
    const window = new ThroughputWindow({ windowMs: 20_000, bucketMs: 5_000 });
    window.add(2, at(20));
    window.add(9, at(0));
    expect(window.series(at(20)).counts).toEqual([0, 0, 0, 2]);
  });

  it("gives the rate over the last full bucket and the current one", () => {
    const window = new ThroughputWindow({ windowMs: 20_000, bucketMs: 5_000 });
    window.add(50, at(6));
    window.add(25, at(11));
    // 75 messages from 5 s to 12.5 s: 7.5 s.
    expect(window.series(at(12.5)).perSecond).toBeCloseTo(10);
  });

  it("refuses a window that is not a multiple of the bucket", () => {
    expect(() => new ThroughputWindow({ windowMs: 12_000, bucketMs: 5_000 })).toThrow(
      /multiple of bucketMs/,
    );
  });
});
