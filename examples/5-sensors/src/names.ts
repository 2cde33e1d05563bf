import { deadLetterTopic, timersTopic } from "@toka/processor";
import { sensorSilence } from "./sensor-silence.js";
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
  /** Alerts of sensors that stayed silent. */
  readonly alerts: string;
  /** Folds readings into windows and sends their final results. */
  readonly stats: string;
  /** Keeps each sensor's silence timer and sends the alerts. */
  readonly silence: string;
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
    alerts: name("sensor-alerts"),
    stats: name("sensor-stats"),
    silence: name("sensor-silence"),
    results: name("sensor-results"),
  };
}

/**
 * The readings, the result streams and the alerts, created by the service with one
 * partition count.
 */
export function streamsOf(names: SensorNames): string[] {
  return [names.readings, names.minutes, names.averages, names.sessions, names.alerts];
}

/**
 * Every topic the example writes: the streams, the windows, the silence group's table and
 * timers, and the dead letters.
 */
export function topicsOf(names: SensorNames): string[] {
  const stats = sensorStats(names);
  const silence = sensorSilence(names);
  return [
    ...streamsOf(names),
    ...stats.windowTopics.values(),
    stats.deadLetterTopic,
    silence.tableTopic,
    timersTopic(silence.name),
    silence.deadLetterTopic,
    deadLetterTopic(names.results),
  ];
}
