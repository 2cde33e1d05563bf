import { deadLetterTopic, TokaErrorCode, timersTopic } from "@toka/processor";
import { Tester } from "@toka/testing";
import { describe, expect, onTestFinished, test } from "vitest";
import { generateReadings, isQuiet, LATE_BY_MS } from "../src/load-generator.js";
import { sensorNames, streamsOf } from "../src/names.js";
import { type Reading, readingCodec } from "../src/reading.js";
import { describeResult, type SensorResult } from "../src/sensor-results.js";
import { startSensorService } from "../src/sensor-service.js";
import {
  SILENCE_MS,
  type SilenceAlert,
  sensorSilence,
  silenceAlertCodec,
} from "../src/sensor-silence.js";
import {
  activityResultCodec,
  GRACE_MS,
  SESSION_GAP_MS,
  type Stats,
  sensorStats,
  statsResultCodec,
  withReading,
} from "../src/sensor-stats.js";

const names = sensorNames();
const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** 2025-01-01 12:00:00 UTC: the tests' sensor time starts on a whole minute. */
const T0 = Date.UTC(2025, 0, 1, 12);
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE + seconds * SECOND;

// The tester is an in-memory Kafka: the real processor runs on it, and every
// `await t.emit(...)` returns once the reading is processed. One partition: stream time is
// then the latest `measuredAt` of all sensors, so the tests say exactly which reading
// closes which window (with several partitions each has its own stream time).
function tester() {
  const t = new Tester();
  onTestFinished(() => t.close());
  for (const topic of streamsOf(names)) t.createTopic(topic, 1);
  return t;
}

/**
 * Sends a reading as a sensor does. Its record's Kafka timestamp is an hour later, as if
 * it had waited in the sensor's buffer: the windows go by `measuredAt` all the same.
 */
const send = (t: Tester, sensor: string, celsius: number, measuredAt: number) =>
  t.emit(
    names.readings,
    sensor,
    { celsius, measuredAt },
    { codec: readingCodec, timestamp: measuredAt + 60 * MINUTE },
  );

/** The results on an output so far, as `[sensor, start, end, value]`, all final. */
function finals(t: Tester, topic: string) {
  const queue =
    topic === names.sessions
      ? t.output(topic, activityResultCodec)
      : t.output(topic, statsResultCodec);
  return queue.drain().map(({ key, value: r }) => {
    expect(r!.final).toBe(true);
    expect(r!.key).toBe(key);
    return [r!.key, r!.start, r!.end, r!.value];
  });
}

const stats = (...readings: number[]): Stats =>
  readings.reduce(withReading, { count: 0, sum: 0, min: 0, max: 0 });

/**
 * Reads `sensor-alerts` as a queue: each call returns the alerts sent since the one
 * before, each keyed by the sensor it names.
 */
function alertQueue(t: Tester): () => SilenceAlert[] {
  const queue = t.output(names.alerts, silenceAlertCodec);
  return () =>
    queue.drain().map(({ key, value }) => {
      expect(value!.sensor).toBe(key);
      return value!;
    });
}

describe("the statistics group", () => {
  test("one-minute windows send min, sum and max once stream time passes their end + grace", async () => {
    const t = tester();
    await t.startProcessor(sensorStats(names));
    await send(t, "sensor-1", 20, at(0, 5));
    await send(t, "sensor-1", 22.5, at(0, 30));
    await send(t, "sensor-2", 18, at(0, 40));
    await send(t, "sensor-1", 21.5, at(0, 59));
    await send(t, "sensor-1", 19, at(1, 5)); // the next minute; the first is in its grace
    expect(finals(t, names.minutes)).toEqual([]);

    await send(t, "sensor-2", 17, at(1, 10)); // stream time reaches 12:01:00 + grace

    expect(finals(t, names.minutes)).toEqual([
      ["sensor-1", at(0), at(1), { count: 3, sum: 64, min: 20, max: 22.5 }],
      ["sensor-2", at(0), at(1), { count: 1, sum: 18, min: 18, max: 18 }],
    ]);
    expect(GRACE_MS).toBe(10 * SECOND);
  });

  test("five-minute windows start every minute, and a reading counts in the five that hold it", async () => {
    const t = tester();
    await t.startProcessor(sensorStats(names));
    await send(t, "sensor-1", 20, at(0, 30));
    await send(t, "sensor-1", 22, at(1, 30));
    await send(t, "sensor-1", 24, at(2, 30));
    await send(t, "sensor-1", 0, at(20)); // closes every window of the three

    expect(finals(t, names.averages)).toEqual([
      ["sensor-1", at(-4), at(1), stats(20)],
      ["sensor-1", at(-3), at(2), stats(20, 22)],
      ["sensor-1", at(-2), at(3), stats(20, 22, 24)],
      ["sensor-1", at(-1), at(4), stats(20, 22, 24)],
      ["sensor-1", at(0), at(5), stats(20, 22, 24)],
      ["sensor-1", at(1), at(6), stats(22, 24)],
      ["sensor-1", at(2), at(7), stats(24)],
    ]);
  });

  test("a session lasts while readings come less than a gap apart; a reading between two joins them", async () => {
    const t = tester();
    await t.startProcessor(sensorStats(names));
    await send(t, "sensor-1", 20, at(0));
    await send(t, "sensor-1", 20, at(0, 30));
    await send(t, "sensor-1", 20, at(1));
    await send(t, "sensor-2", 18, at(1, 30));
    // More than a gap after 12:01:00: a session of its own, while the first is still
    // open (it closes at 12:01:00 + gap + grace).
    await send(t, "sensor-1", 20, at(3, 5));
    await send(t, "sensor-1", 20, at(2)); // out of order, within a gap of both: one session
    expect(finals(t, names.sessions)).toEqual([]);

    await send(t, "sensor-3", 25, at(10)); // closes both sensors' sessions

    // A session's window is [first, last + 1 ms).
    expect(finals(t, names.sessions)).toEqual([
      ["sensor-1", at(0), at(3, 5) + 1, { readings: 5, first: at(0), last: at(3, 5) }],
      ["sensor-2", at(1, 30), at(1, 30) + 1, { readings: 1, first: at(1, 30), last: at(1, 30) }],
    ]);
    expect(SESSION_GAP_MS).toBe(2 * MINUTE);
  });

  test("a reading too late for every window goes to the dead-letter topic and changes no result", async () => {
    const t = tester();
    const processor = await t.startProcessor(sensorStats(names));
    const late: string[] = [];
    processor.on("message.late", (error) =>
      late.push(`${error.code} ${error.key} ${error.offset}`),
    );
    await send(t, "sensor-1", 20, at(0, 10));
    await send(t, "sensor-1", 21, at(6)); // closes every window that holds 12:00:20
    await send(t, "sensor-1", 99, at(0, 20)); // measured then, arriving now: late

    await send(t, "sensor-1", 0, at(30));

    expect(late).toEqual(["TOKA_LATE_RECORD sensor-1 2"]);
    const letters = t.messages(deadLetterTopic(names.stats), readingCodec);
    expect(letters.map((l) => [l.key, l.value, l.headers["toka-error-code"]])).toEqual([
      ["sensor-1", { celsius: 99, measuredAt: at(0, 20) }, TokaErrorCode.LateRecord],
    ]);
    expect(finals(t, names.minutes)).toEqual([
      ["sensor-1", at(0), at(1), stats(20)],
      ["sensor-1", at(6), at(7), stats(21)],
    ]);
    expect(finals(t, names.averages).map(([, , , value]) => value)).toEqual([
      ...Array.from({ length: 5 }, () => stats(20)),
      ...Array.from({ length: 5 }, () => stats(21)),
    ]);
    expect(finals(t, names.sessions)).toEqual([
      ["sensor-1", at(0, 10), at(0, 10) + 1, { readings: 1, first: at(0, 10), last: at(0, 10) }],
      ["sensor-1", at(6), at(6) + 1, { readings: 1, first: at(6), last: at(6) }],
    ]);
  });

  test("a reading too late for its minute but not for the others counts there and is dead-lettered too", async () => {
    const t = tester();
    await t.startProcessor(sensorStats(names));
    await send(t, "sensor-1", 20, at(0, 10));
    await send(t, "sensor-1", 22, at(1, 20)); // closes the minute 12:00
    await send(t, "sensor-1", 30, at(0, 50)); // late for that minute only

    await send(t, "sensor-1", 0, at(30));

    const letters = t.messages(deadLetterTopic(names.stats), readingCodec);
    expect(letters.map((l) => l.value)).toEqual([{ celsius: 30, measuredAt: at(0, 50) }]);
    expect(letters[0]!.headers["toka-error-message"]).toContain('windowed aggregate(s) "minute"');
    expect(finals(t, names.minutes).map(([, start, , value]) => [start, value])).toEqual([
      [at(0), stats(20)],
      [at(1), stats(22)],
    ]);
    expect(finals(t, names.averages).map(([, start, , value]) => [start, value])).toEqual([
      [at(-4), stats(20)], // closed at 12:01:10, as the minute was
      [at(-3), stats(20, 22, 30)],
      [at(-2), stats(20, 22, 30)],
      [at(-1), stats(20, 22, 30)],
      [at(0), stats(20, 22, 30)],
      [at(1), stats(22)],
    ]);
    expect(finals(t, names.sessions).map(([, , , value]) => value)).toEqual([
      { readings: 3, first: at(0, 10), last: at(1, 20) },
    ]);
  });
});

describe("the silence group", () => {
  test("a sensor silent for SILENCE_MS raises one alert, once a reading of another sensor moves stream time there", async () => {
    const t = tester();
    const alerts = alertQueue(t);
    await t.startProcessor(sensorSilence(names));
    await send(t, "sensor-1", 20, at(0));
    await send(t, "sensor-1", 20, at(0, 10)); // its last reading
    await send(t, "sensor-2", 18, at(1, 5)); // stream time 12:01:05: silent 55 s
    expect(alerts()).toEqual([]);

    await send(t, "sensor-2", 18, at(1, 10)); // stream time reaches 12:00:10 + SILENCE_MS

    expect(alerts()).toEqual([{ sensor: "sensor-1", lastReadingAt: at(0, 10) }]);
    expect(SILENCE_MS).toBe(MINUTE);
    // Still silent: the timer fired, and nothing scheduled it again.
    await send(t, "sensor-2", 18, at(1, 15));
    await send(t, "sensor-2", 18, at(1, 20));
    expect(alerts()).toEqual([]);
  });

  test("no alert while readings keep coming; one per silence once they stop", async () => {
    const t = tester();
    const alerts = alertQueue(t);
    await t.startProcessor(sensorSilence(names));
    // Two sensors every 5 s for ten minutes; sensor-1 skips the 55 s after 12:04:00.
    for (let step = 0; step < 120; step++) {
      const time = at(0, 5 * step);
      if (time <= at(4) || time >= at(4, 55)) await send(t, "sensor-1", 20, time);
      await send(t, "sensor-2", 18, time);
    }
    expect(alerts()).toEqual([]);

    // sensor-1 stops, then sensor-2 stops while sensor-1 talks again.
    for (let step = 120; step < 144; step++) await send(t, "sensor-2", 18, at(0, 5 * step));
    for (let step = 144; step < 168; step++) await send(t, "sensor-1", 20, at(0, 5 * step));

    expect(alerts()).toEqual([
      { sensor: "sensor-1", lastReadingAt: at(9, 55) },
      { sensor: "sensor-2", lastReadingAt: at(11, 55) },
    ]);
  });

  test("a reading measured before the sensor's latest (sent late) does not move its timer back", async () => {
    const t = tester();
    const alerts = alertQueue(t);
    const group = sensorSilence(names);
    await t.startProcessor(group);
    await send(t, "sensor-1", 20, at(5));
    // Measured five minutes earlier: moving the timer to 12:01 would fire it at once.
    await send(t, "sensor-1", 19, at(0));
    await send(t, "sensor-2", 18, at(5, 55));
    expect(alerts()).toEqual([]);
    expect(await t.tableValue(group, "sensor-1")).toEqual({ lastReadingAt: at(5) });

    await send(t, "sensor-2", 18, at(6));

    expect(alerts()).toEqual([{ sensor: "sensor-1", lastReadingAt: at(5) }]);
  });

  test("stream time is per partition: the clock does not reveal a silence, the partition's next reading does, the sensor's own included", async () => {
    const t = new Tester();
    onTestFinished(() => t.close());
    for (const topic of streamsOf(names)) t.createTopic(topic, 4);
    const alerts = alertQueue(t);
    // Kafka's default partitioner: sensor-6 shares sensor-1's partition, sensor-2 does not.
    expect(t.partitionOf(names.readings, "sensor-6")).toBe(
      t.partitionOf(names.readings, "sensor-1"),
    );
    expect(t.partitionOf(names.readings, "sensor-2")).not.toBe(
      t.partitionOf(names.readings, "sensor-1"),
    );
    await t.startProcessor(sensorSilence(names));
    await send(t, "sensor-1", 20, at(0));
    await send(t, "sensor-2", 18, at(10)); // another partition: its stream time stays put
    // The timers follow stream time, not the clock.
    t.advanceTime(60 * MINUTE);
    await t.idle();
    expect(alerts()).toEqual([]);

    // Silent ten minutes: its timer fires before the reading that comes too late for it.
    await send(t, "sensor-1", 20, at(10));
    expect(alerts()).toEqual([{ sensor: "sensor-1", lastReadingAt: at(0) }]);

    await send(t, "sensor-6", 25, at(30)); // sensor-1's partition
    expect(alerts()).toEqual([{ sensor: "sensor-1", lastReadingAt: at(10) }]);
  });

  test("a timer outlives its processor: kept in sensor-silence-timers, a new one fires it", async () => {
    const t = tester();
    const alerts = alertQueue(t);
    const first = await t.startProcessor(sensorSilence(names));
    await send(t, "sensor-1", 20, at(0, 30));
    await first.close();
    expect(t.messages(timersTopic(names.silence)).length).toBeGreaterThan(0);

    await t.startProcessor(sensorSilence(names));
    await send(t, "sensor-2", 18, at(2));

    expect(alerts()).toEqual([{ sensor: "sensor-1", lastReadingAt: at(0, 30) }]);
  });
});

describe("the service", () => {
  test("results reach onResult, one line each; a restart resumes at the committed stream time", async () => {
    const t = tester();
    const results: SensorResult[] = [];
    const start = () =>
      startSensorService({ client: t.client, names, onResult: (r) => results.push(r) });
    const service = await start();
    expect(service.resumesAt).toBeUndefined();
    const emit = (sensor: string, celsius: number, measuredAt: number) =>
      service.readings.emit(sensor, { celsius, measuredAt });
    await emit("sensor-1", 20, at(0, 10));
    await emit("sensor-1", 21.5, at(0, 50));
    await emit("sensor-1", 23, at(10));
    await t.idle();

    // Each output is a topic of its own: their results arrive in no particular order.
    expect(results.map(describeResult).sort()).toEqual([
      "five-minutes sensor-1   11:56:00-12:01:00  avg 20.8 °C  (2 readings)",
      "five-minutes sensor-1   11:57:00-12:02:00  avg 20.8 °C  (2 readings)",
      "five-minutes sensor-1   11:58:00-12:03:00  avg 20.8 °C  (2 readings)",
      "five-minutes sensor-1   11:59:00-12:04:00  avg 20.8 °C  (2 readings)",
      "five-minutes sensor-1   12:00:00-12:05:00  avg 20.8 °C  (2 readings)",
      "minute       sensor-1   12:00:00-12:01:00  min 20.0  avg 20.8  max 21.5 °C  (2 readings)",
      "session      sensor-1   12:00:10-12:00:50  2 readings, first to last",
      // The restart's reading comes after a minute of silence: the silence is reported.
      "silent       sensor-1   no reading since 12:00:50",
    ]);

    await service.close();
    const restarted = await start();
    onTestFinished(() => restarted.close());
    expect(restarted.resumesAt).toBe(at(10));
  });

  test("an alert reaches onResult, one line", async () => {
    const t = tester();
    const results: SensorResult[] = [];
    const service = await startSensorService({
      client: t.client,
      names,
      onResult: (r) => results.push(r),
    });
    onTestFinished(() => service.close());
    await service.readings.emit("sensor-1", { celsius: 20, measuredAt: at(0, 10) });
    await service.readings.emit("sensor-2", { celsius: 18, measuredAt: at(1, 10) });
    await t.idle();

    expect(results.filter((r) => r.kind === "silent").map(describeResult)).toEqual([
      "silent       sensor-1   no reading since 12:00:10",
    ]);
  });
});

describe("the load generator", () => {
  const sensors = ["sensor-1", "sensor-2", "sensor-3"];
  /** Runs the generator with no pauses from T0, 5 s of sensor time a round. */
  async function run(minutes: number, lateShare: number) {
    const sent: [string, Reading][] = [];
    const load = await generateReadings({
      emitter: { emit: async () => {} },
      sensors,
      startAt: T0,
      stepMs: 5 * SECOND,
      intervalMs: 0,
      rounds: 12 * minutes,
      lateShare,
      random: seeded(7),
      onReading: (sensor, reading) => sent.push([sensor, reading]),
    });
    return { load, sent };
  }

  test("a sensor sends one reading a round, but none in its quiet 3 minutes of every 10", async () => {
    const { load, sent } = await run(20, 0);

    expect(load).toEqual({ sent: sent.length, late: 0, nextAt: at(20) });
    for (const [i, sensor] of sensors.entries()) {
      const perMinute = new Map<number, number>();
      for (const [s, reading] of sent) {
        if (s !== sensor) continue;
        const minute = Math.floor((reading.measuredAt - T0) / MINUTE);
        perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
        expect(Math.abs(reading.celsius - (18 + 2 * i))).toBeLessThanOrEqual(2.5);
      }
      const active = Array.from({ length: 20 }, (_, m) => m).filter((m) => !isQuiet(i, m * MINUTE));
      expect(active).toHaveLength(14);
      expect(perMinute).toEqual(new Map(active.map((m) => [m, 12])));
    }
  });

  test("a buffered reading was measured LATE_BY_MS before it is sent", async () => {
    // Every reading is buffered once there is sensor time to buffer it from.
    const { load, sent } = await run(8, 1);

    const first = sent.filter(([sensor]) => sensor === "sensor-1").map(([, r]) => r.measuredAt);
    const rounds = Array.from({ length: 12 * 8 }, (_, r) => T0 + r * 5 * SECOND);
    const expected = rounds
      .filter((now) => !isQuiet(0, now - T0))
      .map((now) => (now - LATE_BY_MS >= T0 ? now - LATE_BY_MS : now));
    expect(first).toEqual(expected);
    const buffered = sensors.flatMap((_, i) =>
      rounds.filter((now) => now - LATE_BY_MS >= T0 && !isQuiet(i, now - T0)),
    );
    expect(load.late).toBe(buffered.length);
  });
});

/** A repeatable random number generator (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
