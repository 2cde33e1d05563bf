import { jsonCodec } from "@toka/codec";
import { defineGroup, output, persist } from "@toka/processor";
import { z } from "zod";
import type { SensorNames } from "./names.js";
import { readingCodec } from "./reading.js";

/**
 * A sensor that sent no reading for this long, in stream time, is silent. It reads every
 * 5 seconds, so a minute is a dozen readings missed; the load generator keeps each
 * sensor quiet for 3 minutes of every 10, long enough to raise one alert each time.
 * Shorter than the session gap, so the alert comes well before the session's result.
 */
export const SILENCE_MS = 60_000;

/** The name of each sensor's timer: one per sensor, as timers belong to a key. */
export const SILENT_TIMER = "silent";

/** What the silence group keeps per sensor. */
export const LastReading = z.object({
  /** The latest `measuredAt` of the sensor's readings so far. */
  lastReadingAt: z.int().nonnegative(),
});
export type LastReading = z.infer<typeof LastReading>;

/** An alert on `sensor-alerts`, keyed by the sensor: it sent nothing for {@link SILENCE_MS}. */
export const SilenceAlert = z.object({
  sensor: z.string(),
  /** When its latest reading was measured, in ms since the epoch; silent since then. */
  lastReadingAt: z.int().nonnegative(),
});
export type SilenceAlert = z.infer<typeof SilenceAlert>;

export const lastReadingCodec = jsonCodec(LastReading);
/** The codec of `sensor-alerts`. */
export const silenceAlertCodec = jsonCodec(SilenceAlert);

/**
 * The silence group: consumes `sensor-readings` (event time: `measuredAt`) and sends an
 * alert to `sensor-alerts` when a sensor stays silent. Each reading moves the sensor's
 * timer to {@link SILENCE_MS} after it; the timer fires once the partition's stream time
 * gets there, that is once a later reading on the same partition arrives: another
 * sensor's, or the sensor's own next one (the timer fires before it; see the README,
 * part 4).
 *
 * The table keeps each sensor's latest reading time: a reading that arrives out of order
 * (buffered by the sensor) must not move the timer back, which would raise an alert
 * while the sensor keeps talking.
 */
export function sensorSilence(names: SensorNames) {
  return defineGroup(names.silence, {
    persist: persist(lastReadingCodec),
    outputs: [output(names.alerts, silenceAlertCodec)],
    inputs: ({ input, timer }) => [
      input(
        names.readings,
        readingCodec,
        (ctx, reading) => {
          const last = ctx.value();
          if (last && last.lastReadingAt >= reading.measuredAt) return;
          ctx.setValue({ lastReadingAt: reading.measuredAt });
          // Scheduling the same name again moves the timer: one per sensor.
          ctx.schedule(SILENT_TIMER, reading.measuredAt + SILENCE_MS);
        },
        // Stream time must be the sensors' clock, as the timers' times are.
        { eventTime: (reading) => reading.measuredAt },
      ),
      timer((ctx, fired) => {
        // The reading that scheduled the timer set the value; `fired.at` says the same.
        const lastReadingAt = ctx.value()?.lastReadingAt ?? fired.at - SILENCE_MS;
        ctx.emit(names.alerts, ctx.key, { sensor: ctx.key, lastReadingAt });
      }),
    ],
  });
}
