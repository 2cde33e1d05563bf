import type { ReplayProgress } from "@toka/event-sourcing";
import type { CliIo } from "./cli-io.js";

const BAR_WIDTH = 24;
/** Without a terminal, how often a progress line is printed. */
const PLAIN_INTERVAL_MS = 5_000;

/**
 * Shows the progress of a long run on stderr: on a terminal, one line redrawn in place
 * (bar, percentage, done/total, rate, ETA); otherwise one plain line every 5 s, so logs
 * of a run in CI or under a supervisor stay readable.
 *
 * A few lines of our own instead of a progress-bar library: one bar is all the CLI
 * draws, and this keeps the CLI's dependencies to the argument parser.
 */
export class ProgressLine {
  private lastPlain = 0;
  private drawn = false;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Shows `progress`. */
  update(progress: ReplayProgress): void {
    const line = formatProgress(this.label, progress, this.io.errIsTTY);
    if (this.io.errIsTTY) {
      this.io.err(`\r${line}\x1b[K`);
      this.drawn = true;
      return;
    }
    const now = this.now();
    if (now - this.lastPlain >= PLAIN_INTERVAL_MS || progress.fraction >= 1) {
      this.lastPlain = now;
      this.io.err(`${line}\n`);
    }
  }

  /** Ends the redrawn line. */
  done(): void {
    if (this.drawn) this.io.err("\n");
    this.drawn = false;
  }
}

/** One progress line, e.g. `replay [######----] 62% 620,000/1,000,000 · 215,004/s · ETA 2s`. */
export function formatProgress(label: string, p: ReplayProgress, bar: boolean): string {
  const percent = Math.floor(p.fraction * 100);
  const filled = Math.round(p.fraction * BAR_WIDTH);
  const parts = [
    bar
      ? `${label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${percent}%`
      : `${label} ${percent}%`,
    `${p.done.toLocaleString("en-US")}/${p.total.toLocaleString("en-US")}`,
    `${Math.round(p.ratePerSecond).toLocaleString("en-US")}/s`,
    `ETA ${p.etaMs === undefined ? "?" : formatDuration(p.etaMs)}`,
  ];
  return parts.join(" · ");
}

/** `1h02m`, `3m07s`, `12s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
