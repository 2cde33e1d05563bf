import { jsonCodec } from "@toka/codec";
import { defineGroup, hopping, output, session, tumbling, windowed } from "@toka/processor";
import { z } from "zod";
import type { SensorNames } from "./names.js";
import { readingCodec } from "./reading.js";

const MINUTE = 60_000;

/**
 * How long after a window's end, in stream time, a reading for it still counts: readings
 * may arrive out of order by this much. Later ones are dead-lettered as late.
 */
export const GRACE_MS = 10_000;

/** A sensor's session of activity ends after this long without a reading. */
export const SESSION_GAP_MS = 2 * MINUTE;

/**
 * A sensor's readings in one window. The sum and count, not the average: they take one
 * more reading exactly, and windows can be added up (minutes into an hour); see
 * {@link average}.
 */
export const Stats = z.object({
  count: z.int().nonnegative(),
  sum: z.number(),
  /** Meaningless while `count` is 0. */
  min: z.number(),
  max: z.number(),
});
export type Stats = z.infer<typeof Stats>;

/**
 * A sensor's session of activity: its readings from the first to the last, none more
 * than {@link SESSION_GAP_MS} after the one before.
 */
export const Activity = z.object({
  readings: z.int().nonnegative(),
  /** Event time of the first reading (the session's window starts there). */
  first: z.int().nonnegative(),
  /** Event time of the last reading (the session's window ends 1 ms after it). */
  last: z.int().nonnegative(),
});
export type Activity = z.infer<typeof Activity>;

/**
 * What a windowed aggregate writes to its output: the `WindowResult<A>` of
 * `@toka/processor` (`{ key, start, end, value, final }`), as a schema, so a consumer of
 * the output topic gets validated values.
 */
function windowResult<A extends z.ZodType>(value: A) {
  return z.object({
    key: z.string(),
    start: z.int().nonnegative(),
    end: z.int().nonnegative(),
    value,
    final: z.boolean(),
  });
}
export const StatsResult = windowResult(Stats);
export type StatsResult = z.infer<typeof StatsResult>;
export const ActivityResult = windowResult(Activity);
export type ActivityResult = z.infer<typeof ActivityResult>;

export const statsCodec = jsonCodec(Stats);
export const activityCodec = jsonCodec(Activity);
/** The codec of the one-minute and five-minute outputs. */
export const statsResultCodec = jsonCodec(StatsResult);
/** The codec of the sessions output. */
export const activityResultCodec = jsonCodec(ActivityResult);

/**
 * A window before its first reading. JSON has no ±Infinity to start a minimum and a
 * maximum from, so they start at 0 and `count: 0` says they mean nothing yet.
 */
export const noStats = (): Stats => ({ count: 0, sum: 0, min: 0, max: 0 });

/** `stats` with one more reading. */
export function withReading(stats: Stats, celsius: number): Stats {
  if (stats.count === 0) return { count: 1, sum: celsius, min: celsius, max: celsius };
  return {
    count: stats.count + 1,
    sum: stats.sum + celsius,
    min: Math.min(stats.min, celsius),
    max: Math.max(stats.max, celsius),
  };
}

/** The mean reading of a window that has any. */
export function average(stats: Stats): number {
  return stats.sum / stats.count;
}

/** A session before its first reading; `readings: 0` says `first` and `last` mean nothing yet. */
export const noActivity = (): Activity => ({ readings: 0, first: 0, last: 0 });

/** `activity` with one more reading, measured at `time`. */
export function withActivity(activity: Activity, time: number): Activity {
  if (activity.readings === 0) return { readings: 1, first: time, last: time };
  return {
    readings: activity.readings + 1,
    first: Math.min(activity.first, time),
    last: Math.max(activity.last, time),
  };
}

/** Two sessions a reading between them joins into one. */
export function mergeActivity(earlier: Activity, later: Activity): Activity {
  return {
    readings: earlier.readings + later.readings,
    first: Math.min(earlier.first, later.first),
    last: Math.max(earlier.last, later.last),
  };
}

/**
 * The statistics group: consumes `sensor-readings` (key: the sensor, event time: the
 * reading's `measuredAt`) and folds every reading into three windowed aggregates, each
 * sending one final result per window to its output once the window closes:
 *
 * - `minute`: one-minute tumbling windows → min, average and max on `sensor-minutes`;
 * - `five-minutes`: five-minute windows starting every minute → the average on
 *   `sensor-averages` (each reading counts in five of them);
 * - `activity`: sessions, a gap of {@link SESSION_GAP_MS} apart → the readings and the
 *   first and last time on `sensor-sessions`.
 *
 * A window closes once the partition's stream time (the latest `measuredAt` it has seen)
 * passes its end plus {@link GRACE_MS} (plus the gap, for a session). A reading whose
 * windows are all closed goes to `<group>-dlq` as `TOKA_LATE_RECORD`.
 */
export function sensorStats(names: SensorNames) {
  return defineGroup(names.stats, {
    outputs: [
      output(names.minutes, statsResultCodec),
      output(names.averages, statsResultCodec),
      output(names.sessions, activityResultCodec),
    ],
    windows: [
      windowed("minute", tumbling(MINUTE, { graceMs: GRACE_MS }), statsCodec, {
        initial: noStats,
        emit: "final",
        output: names.minutes,
      }),
      windowed("five-minutes", hopping(5 * MINUTE, MINUTE, { graceMs: GRACE_MS }), statsCodec, {
        initial: noStats,
        emit: "final",
        output: names.averages,
      }),
      windowed("activity", session(SESSION_GAP_MS, { graceMs: GRACE_MS }), activityCodec, {
        initial: noActivity,
        merge: mergeActivity,
        emit: "final",
        output: names.sessions,
      }),
    ],
    inputs: ({ input }) => [
      input(
        names.readings,
        readingCodec,
        (ctx, reading) => {
          ctx.aggregate("minute", (stats) => withReading(stats, reading.celsius));
          ctx.aggregate("five-minutes", (stats) => withReading(stats, reading.celsius));
          ctx.aggregate("activity", (activity) => withActivity(activity, ctx.eventTime));
        },
        // The sensor's clock, not the record's Kafka timestamp: a reading a sensor
        // buffered while offline belongs to the minute it was measured in.
        { eventTime: (reading) => reading.measuredAt },
      ),
    ],
  });
}
