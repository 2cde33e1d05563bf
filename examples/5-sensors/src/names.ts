import { deadLetterTopic } from "@toka/processor";
import { sensorStats } from "./sensor-stats.js";

/** The topics and groups of the sensors example. */
export interface SensorNames {
  /** Readings, keyed by sensor. */
  readonly readings: string;
  /** One-minute min, average and max per sensor. */
  readonly minutes: string;
  /** Five-minute averages per sensor, one a minute. */
  readonly averages: string;
  /** Sessions of activity per sensor. */
  readonly sessions: string;
  /** Folds readings into windows and sends their final results. */
  readonly stats: string;
  /** Reads the results and hands them to the service's `onResult`. */
  readonly results: string;
}

/**
 * The example's names; `suffix` is appended to every one of them, so several runs (tests)
 * share a broker without meeting each other.
 */
export function sensorNames(suffix = ""): SensorNames {
  const name = (base: string) => (suffix ? `${base}-${suffix}` : base);
  return {
    readings: name("sensor-readings"),
    minutes: name("sensor-minutes"),
    averages: name("sensor-averages"),
    sessions: name("sensor-sessions"),
    stats: name("sensor-stats"),
    results: name("sensor-results"),
  };
}

/** The readings and the result streams, created by the service with one partition count. */
export function streamsOf(names: SensorNames): string[] {
  return [names.readings, names.minutes, names.averages, names.sessions];
}

/** Every topic the example writes: the streams, the windows and the dead letters. */
export function topicsOf(names: SensorNames): string[] {
  const stats = sensorStats(names);
  return [
    ...streamsOf(names),
    ...stats.windowTopics.values(),
    stats.deadLetterTopic,
    deadLetterTopic(names.results),
  ];
}
