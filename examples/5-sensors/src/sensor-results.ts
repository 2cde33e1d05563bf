import { defineGroup } from "@toka/processor";
import type { SensorNames } from "./names.js";
import { type SilenceAlert, silenceAlertCodec } from "./sensor-silence.js";
import {
  type ActivityResult,
  activityResultCodec,
  average,
  type StatsResult,
  statsResultCodec,
} from "./sensor-stats.js";

/** One result of the statistics group or alert of the silence group, by its topic. */
export type SensorResult =
  | { readonly kind: "minute"; readonly result: StatsResult }
  | { readonly kind: "five-minutes"; readonly result: StatsResult }
  | { readonly kind: "session"; readonly result: ActivityResult }
  | { readonly kind: "silent"; readonly result: SilenceAlert };

/**
 * The results group: consumes the statistics group's outputs and the silence alerts and
 * hands every one to `onResult` (the example prints them). Stateless; a result topic more
 * is an input more.
 */
export function sensorResults(names: SensorNames, onResult: (result: SensorResult) => void) {
  return defineGroup(names.results, {
    inputs: ({ input }) => [
      input(names.minutes, statsResultCodec, (_ctx, result) =>
        onResult({ kind: "minute", result }),
      ),
      input(names.averages, statsResultCodec, (_ctx, result) =>
        onResult({ kind: "five-minutes", result }),
      ),
      input(names.sessions, activityResultCodec, (_ctx, result) =>
        onResult({ kind: "session", result }),
      ),
      input(names.alerts, silenceAlertCodec, (_ctx, result) =>
        onResult({ kind: "silent", result }),
      ),
    ],
  });
}

/**
 * One line for a result, times in UTC: the window, then its values, e.g.
 *
 * ```
 * minute       sensor-2   12:03:00-12:04:00  min 19.2  avg 20.1  max 21.0 °C  (12 readings)
 * five-minutes sensor-2   11:59:00-12:04:00  avg 20.3 °C  (60 readings)
 * session      sensor-2   12:00:00-12:06:55  84 readings, first to last
 * silent       sensor-2   no reading since 12:06:55
 * ```
 */
export function describeResult({ kind, result }: SensorResult): string {
  // A window result is keyed by `key`, as toka writes it; an alert names its `sensor`.
  const sensor = kind === "silent" ? result.sensor : result.key;
  // Nine wide: the default ten sensors go up to `sensor-10`.
  const who = `${kind.padEnd(12)} ${sensor.padEnd(9)}`;
  switch (kind) {
    case "minute": {
      const { min, max, count } = result.value;
      const avg = average(result.value);
      const values = `min ${celsius(min)}  avg ${celsius(avg)}  max ${celsius(max)} °C`;
      return [who, span(result.start, result.end), values, `(${readings(count)})`].join("  ");
    }
    case "five-minutes": {
      const values = `avg ${celsius(average(result.value))} °C`;
      const count = `(${readings(result.value.count)})`;
      return [who, span(result.start, result.end), values, count].join("  ");
    }
    case "session": {
      const { first, last } = result.value;
      return [who, span(first, last), `${readings(result.value.readings)}, first to last`].join(
        "  ",
      );
    }
    case "silent":
      return [who, `no reading since ${time(result.lastReadingAt)}`].join("  ");
  }
}

const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const span = (from: number, to: number) => `${time(from)}-${time(to)}`;
const celsius = (value: number) => value.toFixed(1);
const readings = (n: number) => (n === 1 ? "1 reading" : `${n} readings`);
