import { formatDuration, formatProgress, ProgressLine } from "@toka/cli";
import type { ReplayProgress } from "@toka/event-sourcing";
import { expect, test } from "vitest";

const progress = (done: number, total: number, rate: number): ReplayProgress => ({
  done,
  total,
  fraction: total === 0 ? 1 : done / total,
  ratePerSecond: rate,
  etaMs: rate > 0 ? ((total - done) * 1000) / rate : undefined,
  elapsedMs: 1000,
});

test("a progress line shows bar, percentage, counts, rate and ETA", () => {
  expect(formatProgress("replay", progress(620_000, 1_000_000, 215_004.4), true)).toBe(
    "replay [###############---------] 62% · 620,000/1,000,000 · 215,004/s · ETA 2s",
  );
  expect(formatProgress("replay", progress(0, 10, 0), false)).toBe(
    "replay 0% · 0/10 · 0/s · ETA ?",
  );
  expect([formatDuration(900), formatDuration(187_000), formatDuration(3_725_000)]).toEqual([
    "1s",
    "3m07s",
    "1h02m",
  ]);
});

test("on a terminal the line is redrawn in place; elsewhere a line every 5 s and at the end", () => {
  const written: string[] = [];
  let now = 0;
  const tty = new ProgressLine({ out: () => {}, err: (s) => written.push(s), errIsTTY: true }, "r");
  tty.update(progress(1, 2, 1));
  tty.done();
  expect(written).toEqual([`\r${formatProgress("r", progress(1, 2, 1), true)}\x1b[K`, "\n"]);

  written.length = 0;
  const plain = new ProgressLine(
    { out: () => {}, err: (s) => written.push(s), errIsTTY: false },
    "r",
    () => now,
  );
  now = 10_000;
  plain.update(progress(1, 4, 1));
  now = 11_000;
  plain.update(progress(2, 4, 1));
  now = 12_000;
  plain.update(progress(4, 4, 1));
  plain.done();
  expect(written).toHaveLength(2);
  expect(written[1]).toContain("100%");
});
