import { setTimeout as delay } from "node:timers/promises";
import type { Emitter } from "@toka/processor";
import type { Reading } from "./reading.js";

const MINUTE = 60_000;

/** How far back a buffered reading was measured: later than any window of it stays open. */
export const LATE_BY_MS = 6 * MINUTE;

/** Options of {@link generateReadings}. */
export interface ReadingLoadOptions {
  /** Where the readings go: the emitter of `sensor-readings`, keyed by sensor. */
  readonly emitter: Pick<Emitter<Reading>, "emit">;
  /** Default `sensor-1` … `sensor-5`. */
  readonly sensors?: readonly string[];
  /** Sensor time of the first round, in ms since the epoch. Default: now. */
  readonly startAt?: number;
  /** Sensor time from one round to the next. Default 5000 ms. */
  readonly stepMs?: number;
  /**
   * Real time from one round to the next. Default 100 ms: with the default step, sensor
   * time runs 50 times faster than the clock, and a minute passes in 1.2 s.
   */
  readonly intervalMs?: number;
  /** Rounds to send. Default: until `signal` aborts. */
  readonly rounds?: number;
  readonly signal?: AbortSignal;
  /**
   * Share of readings that were buffered by their sensor and arrive {@link LATE_BY_MS}
   * after they were measured. Default 0.01.
   */
  readonly lateShare?: number;
  /** Random numbers in [0, 1). Default `Math.random`; pass a seeded one for repeatable runs. */
  readonly random?: () => number;
  /** Told about every reading once the emitter took it. */
  readonly onReading?: (sensor: string, reading: Reading) => void;
}

/** What {@link generateReadings} sent. */
export interface ReadingLoad {
  /** Readings sent, the late ones included. */
  readonly sent: number;
  /** Readings sent {@link LATE_BY_MS} after they were measured. */
  readonly late: number;
  /** Sensor time of the round that would have come next. */
  readonly nextAt: number;
}

/**
 * Sends readings for a handful of sensors in rounds, on a sensor clock that runs faster
 * than the real one: every round is `stepMs` of sensor time later, and every sensor that
 * is not quiet sends one reading measured then. Each sensor is quiet for 3 minutes of
 * every 10 (each at its own offset), which ends its session of activity; temperatures
 * drift around a base that differs per sensor. A small share of readings arrive long
 * after they were measured, as if buffered while the sensor was offline.
 *
 * @throws what the emitter throws when a reading cannot be sent.
 */
export async function generateReadings(options: ReadingLoadOptions): Promise<ReadingLoad> {
  const sensors = options.sensors ?? ["sensor-1", "sensor-2", "sensor-3", "sensor-4", "sensor-5"];
  const startAt = options.startAt ?? Date.now();
  const stepMs = options.stepMs ?? 5000;
  const intervalMs = options.intervalMs ?? 100;
  const rounds = options.rounds ?? Number.POSITIVE_INFINITY;
  const lateShare = options.lateShare ?? 0.01;
  const random = options.random ?? Math.random;
  let sent = 0;
  let late = 0;
  let round = 0;
  for (; round < rounds && !options.signal?.aborted; round++) {
    const now = startAt + round * stepMs;
    const readings: [string, Reading][] = [];
    sensors.forEach((sensor, i) => {
      if (isQuiet(i, now - startAt)) return;
      const buffered = random() < lateShare && now - LATE_BY_MS >= startAt;
      const measuredAt = buffered ? now - LATE_BY_MS : now;
      readings.push([
        sensor,
        { celsius: temperature(i, measuredAt - startAt, random), measuredAt },
      ]);
      if (buffered) late++;
    });
    await Promise.all(
      readings.map(async ([sensor, reading]) => {
        await options.emitter.emit(sensor, reading);
        sent++;
        options.onReading?.(sensor, reading);
      }),
    );
    if (intervalMs > 0 && round + 1 < rounds) {
      await delay(intervalMs, undefined, { signal: options.signal }).catch(() => {});
    }
  }
  return { sent, late, nextAt: startAt + round * stepMs };
}

/** Whether sensor `i` is quiet `elapsed` ms into the run: 3 minutes of every 10. */
export function isQuiet(i: number, elapsed: number): boolean {
  return (Math.floor(elapsed / MINUTE) + 2 * i) % 10 >= 7;
}

/** A temperature around 18 + 2·i °C, swinging ±2 °C over half an hour, to 0.1 °C. */
function temperature(i: number, elapsed: number, random: () => number): number {
  const swing = 2 * Math.sin((2 * Math.PI * elapsed) / (30 * MINUTE));
  const noise = random() - 0.5;
  return Math.round((18 + 2 * i + swing + noise) * 10) / 10;
}
