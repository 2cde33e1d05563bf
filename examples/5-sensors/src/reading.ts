import { jsonCodec } from "@toka/codec";
import { z } from "zod";

/**
 * One measurement of a sensor, keyed by the sensor's ID on `sensor-readings`. The
 * sensor stamps it: `measuredAt` is its event time, which may be well before the
 * record's Kafka timestamp when the sensor buffered it.
 */
export const Reading = z.object({
  celsius: z.number(),
  /** When the sensor measured, in milliseconds since the epoch. */
  measuredAt: z.int().nonnegative(),
});
export type Reading = z.infer<typeof Reading>;

/** The codec of `sensor-readings`. */
export const readingCodec = jsonCodec(Reading);
