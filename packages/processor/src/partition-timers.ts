import { type WindowStore, windowKey, windowRecordValue } from "@toka/state-store";
import type { OutgoingRecord } from "./client/kafka-client.js";
import { TimerClock } from "./context.js";

/** A pending timer of one key. */
export interface KeyTimer {
  readonly key: string;
  readonly name: string;
  readonly clock: TimerClock;
  readonly at: number;
}

/*
 * Timers are kept in a window store (and its compacted topic `<group>-timers`), which
 * already orders entries by a time and finds those due by a range scan of its expiry
 * index: a timer is the "window" of record key `<name> NUL <key>` starting at its clock's
 * code (0 stream, 1 wall) and ending at its time, with an empty value. Scheduling the
 * same name again replaces it; firing or cancelling it deletes it.
 */
const CLOCK_CODES: Readonly<Record<TimerClock, number>> = { stream: 0, wall: 1 };
const CLOCKS: readonly TimerClock[] = [TimerClock.Stream, TimerClock.Wall];
const SEPARATOR = "\u0000";
const EMPTY = new Uint8Array(0);

/** The name of the timer behind a table's time-to-live. */
export const TTL_TIMER = "toka.ttl";

/**
 * The timers of one partition: the stored ones and, until the next flush writes them,
 * the changes the callbacks made (schedules, cancels, firings), which reads see first.
 */
export class PartitionTimers {
  /** Unwritten changes by store key: the timer, or `null` once cancelled or fired. */
  private readonly pending = new Map<string, KeyTimer | null>();
  /** The store keys whose last change is a firing. */
  private readonly firings = new Set<string>();
  /**
   * No stored stream-time timer is due before this time: −∞ until a scan found the first
   * one, since the store may hold any.
   */
  private storedNext = Number.NEGATIVE_INFINITY;
  /** No unwritten stream-time timer is due before this time. */
  private pendingNext = Number.POSITIVE_INFINITY;

  constructor(
    readonly store: WindowStore,
    private readonly topic: string,
    private readonly partition: number,
  ) {}

  /**
   * No stream-time timer is due before this stream time: what a message is checked
   * against before timers are looked for. A lower bound (a cancelled timer may keep it
   * low until the next look).
   */
  get nextStreamDue(): number {
    return Math.min(this.storedNext, this.pendingNext);
  }

  /** Whether a flush has timer changes to write. */
  get changed(): boolean {
    return this.pending.size > 0;
  }

  /** Schedules `name` of `key` at `at` on `clock`, replacing it on either clock. */
  schedule(key: string, name: string, at: number, clock: TimerClock): void {
    this.cancel(key, name);
    this.change(storeKey(key, name, clock), { key, name, clock, at });
    if (clock === TimerClock.Stream) this.pendingNext = Math.min(this.pendingNext, at);
  }

  /** Cancels `name` of `key` on both clocks. */
  cancel(key: string, name: string): void {
    for (const clock of CLOCKS) this.change(storeKey(key, name, clock), null);
  }

  /** A timer that fired is gone. */
  fired(timer: KeyTimer): void {
    const encoded = storeKey(timer.key, timer.name, timer.clock);
    this.pending.set(encoded, null);
    this.firings.add(encoded);
  }

  /** The timers on `clock` due at `now`, by time, then key and name. */
  async due(clock: TimerClock, now: number): Promise<KeyTimer[]> {
    const due = new Map<string, KeyTimer>();
    for await (const stored of this.store.fetchEnding(0, now)) {
      if (stored.start !== CLOCK_CODES[clock]) continue;
      const encoded = windowKey(stored.key, stored.start);
      if (this.pending.has(encoded)) continue;
      const split = stored.key.indexOf(SEPARATOR);
      const name = stored.key.slice(0, split);
      due.set(encoded, { key: stored.key.slice(split + 1), name, clock, at: stored.end });
    }
    for (const [encoded, timer] of this.pending)
      if (timer && timer.clock === clock && timer.at <= now) due.set(encoded, timer);
    if (clock === TimerClock.Stream) await this.findNextStreamDue(now);
    return [...due.values()].sort(
      (a, b) =>
        a.at - b.at ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  }

  /**
   * The timers topic's records of the unwritten changes, for the flush: the timers
   * scheduled or cancelled, and apart from them those whose last change is a firing
   * (written after the firing's effects, see `produceOnce`).
   */
  records(): { scheduled: OutgoingRecord[]; fired: OutgoingRecord[] } {
    const scheduled: OutgoingRecord[] = [];
    const fired: OutgoingRecord[] = [];
    for (const [key, timer] of this.pending) {
      const value = timer ? windowRecordValue(timer.at, EMPTY) : null;
      const record = { topic: this.topic, partition: this.partition, key, value, headers: {} };
      (this.firings.has(key) ? fired : scheduled).push(record);
    }
    return { scheduled, fired };
  }

  /** The changes are written: the timers scheduled are stored ones now. */
  written(): void {
    this.storedNext = this.nextStreamDue;
    this.clearPending();
  }

  /** The changes are dropped with the write-back cache: the store is looked at again. */
  dropped(): void {
    this.storedNext = Number.NEGATIVE_INFINITY;
    this.clearPending();
  }

  /** After the timers due at `now` were taken: when the next stream-time one is due. */
  private async findNextStreamDue(now: number): Promise<void> {
    this.storedNext = Number.POSITIVE_INFINITY;
    for await (const stored of this.store.fetchEnding(now + 1, Number.POSITIVE_INFINITY)) {
      if (stored.start !== CLOCK_CODES.stream) continue;
      if (this.pending.has(windowKey(stored.key, stored.start))) continue;
      this.storedNext = stored.end;
      break;
    }
    this.pendingNext = Number.POSITIVE_INFINITY;
    for (const timer of this.pending.values())
      if (timer && timer.clock === TimerClock.Stream && timer.at > now)
        this.pendingNext = Math.min(this.pendingNext, timer.at);
  }

  private clearPending(): void {
    this.pending.clear();
    this.firings.clear();
    this.pendingNext = Number.POSITIVE_INFINITY;
  }

  private change(encoded: string, timer: KeyTimer | null): void {
    this.pending.set(encoded, timer);
    this.firings.delete(encoded);
  }
}

function storeKey(key: string, name: string, clock: TimerClock): string {
  return windowKey(`${name}${SEPARATOR}${key}`, CLOCK_CODES[clock]);
}
