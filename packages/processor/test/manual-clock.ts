import type { Clock } from "../src/clock.js";

/** A clock whose timers fire only when the test moves it. */
export class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fire: () => void }[] = [];

  now(): number {
    return this.time;
  }

  schedule(ms: number, fire: () => void): () => void {
    const timer = { at: this.time + ms, fire };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Waits that are still scheduled, from now. */
  pending(): number[] {
    return this.timers.map((t) => t.at - this.time);
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fire();
  }
}
