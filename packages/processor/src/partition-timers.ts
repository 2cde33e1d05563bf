import { type WindowStore, windowKey, windowRecordValue } from "@toka/state-store";
import type { OutgoingRecord } from "./client/kafka-client.js";
import { TimerClock } from "./context.js";
import { TokaError, TokaErrorCode } from "./errors.js";

/** A pending timer of one key. */
export interface KeyTimer {
  readonly key: string;
  readonly name: string;
  readonly clock: TimerClock;
  readonly at: number;
  /**
   * Under exactly-once, one more than the sequence of the key's last firing of `name`
   * when it was scheduled (0 otherwise): a firing applies when its sequence is above the
   * last one the key's table record marks applied, whatever the times.
   */
  readonly seq: number;
}

/*
 * Timers are kept in a window store (and its compacted topic `<group>-timers`), which
 * already orders entries by a time and finds those due by a range scan of its expiry
 * index: a timer is the "window" of record key `<name> NUL <key>` ending at its time,
 * with its clock and sequence as the value.
 *
 * It starts at its sequence's parity, its slot: a timer that schedules itself again
 * writes the next one (the next sequence) to the other slot before the table records
 * that mark the firing applied, and deletes its own slot only after them. A crash in
 * between leaves both, and the firing happens again (or is found applied) on restart;
 * with one slot the next timer would have overwritten the one whose firing was lost.
 * Scheduling a name again replaces it in its slot and clears the other; firing or
 * cancelling deletes it.
 */
const CLOCK_CODES: Readonly<Record<TimerClock, number>> = { stream: 0, wall: 1 };
const CLOCKS_BY_CODE: readonly TimerClock[] = [TimerClock.Stream, TimerClock.Wall];
const SEPARATOR = "\u0000";
/** Clock code (1 byte), sequence (float64). */
const PAYLOAD_BYTES = 9;

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
  /**
   * Every stored wall-clock timer due at or before this time was handed out by a look
   * already: the next look scans the store from after it. Without it, each tick scanned
   * every stored timer due before the wall clock — every stream-time timer of a backlog
   * whose event times lie in the past.
   */
  private wallLookedUntil = Number.NEGATIVE_INFINITY;

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

  /**
   * Schedules `name` of `key` at `at` on `clock` with sequence `seq` (see
   * {@link KeyTimer.seq}), replacing it on either clock.
   */
  schedule(key: string, name: string, at: number, clock: TimerClock, seq: number): void {
    const timer = { key, name, clock, at, seq };
    this.pending.set(storeKey(key, name, seq), timer);
    this.firings.delete(storeKey(key, name, seq));
    this.clear(storeKey(key, name, seq + 1));
    if (clock === TimerClock.Stream) this.pendingNext = Math.min(this.pendingNext, at);
  }

  /** Cancels `name` of `key` on both clocks. */
  cancel(key: string, name: string): void {
    this.clear(storeKey(key, name, 0));
    this.clear(storeKey(key, name, 1));
  }

  /** A timer that fired is gone. */
  fired(timer: KeyTimer): void {
    const encoded = storeKey(timer.key, timer.name, timer.seq);
    this.pending.set(encoded, null);
    this.firings.add(encoded);
  }

  /**
   * Whether `timer`, found due, is still pending: a callback that fired before it in the
   * same round may have cancelled or moved it.
   */
  isCurrent(timer: KeyTimer): boolean {
    const pending = this.pending.get(storeKey(timer.key, timer.name, timer.seq));
    return pending === undefined || pending === timer;
  }

  /** The timers on `clock` due at `now`, by time, then key, name and sequence. */
  async due(clock: TimerClock, now: number): Promise<KeyTimer[]> {
    const due = new Map<string, KeyTimer>();
    const from = clock === TimerClock.Wall ? Math.max(0, this.wallLookedUntil + 1) : 0;
    for await (const stored of this.store.fetchEnding(from, now)) {
      const encoded = windowKey(stored.key, stored.start);
      if (this.pending.has(encoded)) continue;
      const timer = this.decode(stored.key, stored.end, stored.value);
      if (timer.clock === clock) due.set(encoded, timer);
    }
    for (const [encoded, timer] of this.pending)
      if (timer && timer.clock === clock && timer.at <= now) due.set(encoded, timer);
    if (clock === TimerClock.Stream) await this.findNextStreamDue(now);
    else this.wallLookedUntil = Math.max(this.wallLookedUntil, now);
    return [...due.values()].sort(
      (a, b) =>
        a.at - b.at ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
        a.seq - b.seq,
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
      const value = timer ? windowRecordValue(timer.at, payload(timer)) : null;
      const record = { topic: this.topic, partition: this.partition, key, value, headers: {} };
      (this.firings.has(key) ? fired : scheduled).push(record);
    }
    return { scheduled, fired };
  }

  /** The changes are written: the timers scheduled are stored ones now. */
  written(): void {
    this.storedNext = this.nextStreamDue;
    // A wall-clock timer scheduled at a time already looked past is stored now: the next
    // look goes back to it.
    for (const timer of this.pending.values())
      if (timer?.clock === TimerClock.Wall && timer.at <= this.wallLookedUntil)
        this.wallLookedUntil = timer.at - 1;
    this.clearPending();
  }

  /**
   * The changes are dropped with the write-back cache: the store is looked at again,
   * whole (the timers that fired since the last write are stored again).
   */
  dropped(): void {
    this.storedNext = Number.NEGATIVE_INFINITY;
    this.wallLookedUntil = Number.NEGATIVE_INFINITY;
    this.clearPending();
  }

  /** After the timers due at `now` were taken: when the next stream-time one is due. */
  private async findNextStreamDue(now: number): Promise<void> {
    this.storedNext = Number.POSITIVE_INFINITY;
    for await (const stored of this.store.fetchEnding(now + 1, Number.POSITIVE_INFINITY)) {
      if (this.pending.has(windowKey(stored.key, stored.start))) continue;
      if (this.decode(stored.key, stored.end, stored.value).clock !== TimerClock.Stream) continue;
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

  /** No timer in this slot; one that fired keeps being written after the firing's effects. */
  private clear(encoded: string): void {
    this.pending.set(encoded, null);
  }

  private decode(storedKey: string, at: number, value: Uint8Array): KeyTimer {
    const split = storedKey.indexOf(SEPARATOR);
    const clock = value.length === PAYLOAD_BYTES ? CLOCKS_BY_CODE[value[0]!] : undefined;
    if (split < 0 || clock === undefined) {
      throw new TokaError(
        TokaErrorCode.DecodeFailed,
        `the stored timer ${JSON.stringify(storedKey)} is not one this version of toka wrote; delete the topic ${this.topic} and the group's local state to drop the timers`,
        { topic: this.topic, partition: this.partition, key: storedKey },
      );
    }
    const seq = new DataView(value.buffer, value.byteOffset, value.byteLength).getFloat64(1);
    return { key: storedKey.slice(split + 1), name: storedKey.slice(0, split), clock, at, seq };
  }
}

function storeKey(key: string, name: string, seq: number): string {
  return windowKey(`${name}${SEPARATOR}${key}`, seq % 2);
}

function payload(timer: KeyTimer): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  bytes[0] = CLOCK_CODES[timer.clock];
  new DataView(bytes.buffer).setFloat64(1, timer.seq);
  return bytes;
}
