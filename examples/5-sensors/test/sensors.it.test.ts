import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { TokaErrorCode } from "@toka/processor";
import { defaultPartition } from "@toka/processor/kafka";
import { Kafka, logLevel } from "kafkajs";
import { expect, inject, onTestFinished, test } from "vitest";
import { sensorNames, topicsOf } from "../src/names.js";
import type { SensorResult } from "../src/sensor-results.js";
import { startSensorService } from "../src/sensor-service.js";
import { SILENCE_MS } from "../src/sensor-silence.js";
import { type Stats, withReading } from "../src/sensor-stats.js";

const MINUTE = 60_000;
/** 2025-01-01 12:00:00 UTC. */
const T0 = Date.UTC(2025, 0, 1, 12);
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE + seconds * 1000;
const stats = (...readings: number[]): Stats =>
  readings.reduce(withReading, { count: 0, sum: 0, min: 0, max: 0 });

test("on the broker, readings become exact final minutes, five-minute averages and sessions; a late one is dead-lettered; silences raise alerts", async () => {
  const brokers = inject("kafkaBrokers");
  const names = sensorNames(`${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`);
  const admin = new Kafka({
    clientId: `sensors-test-${names.stats}`,
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  onTestFinished(async () => {
    const existing = new Set(await admin.listTopics());
    const topics = topicsOf(names).filter((topic) => existing.has(topic));
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
  });

  const results: SensorResult[] = [];
  const late: string[] = [];
  await using service = await startSensorService({
    brokers,
    names,
    onResult: (result) => results.push(result),
    onLate: (error) => late.push(`${error.code} ${error.key}`),
  });
  // One at a time: stream time follows the order the readings arrive in.
  const readings: [string, number, number][] = [
    ["sensor-1", 20, at(0, 5)],
    ["sensor-1", 22.5, at(0, 30)],
    ["sensor-1", 21.5, at(0, 59)],
    ["sensor-1", 19, at(1, 5)],
    ["sensor-2", 18, at(0, 40)],
    ["sensor-2", 17, at(3, 30)], // more than a gap after 12:00:40: a second session
    // Stream time is per partition (of 4): a reading far later from every sensor closes
    // every window of theirs, whichever partitions they share.
    ["sensor-1", 0, at(30)],
    ["sensor-2", 0, at(30)],
    ["sensor-1", 99, at(0, 20)], // measured then, sent now: late
    // sensor-5 shares sensor-2's partition: its reading a minute after sensor-2's last
    // moves that partition's stream time to sensor-2's silence timer, which fires. It
    // closes no window. The silences before each sensor's own later readings (sensor-1
    // after 12:01:05, sensor-2 after 12:00:40 and 12:03:30) are reported by those readings.
    ["sensor-5", 0, at(30) + SILENCE_MS],
  ];
  expect(defaultPartition("sensor-5", 4)).toBe(defaultPartition("sensor-2", 4));
  expect(defaultPartition("sensor-1", 4)).not.toBe(defaultPartition("sensor-2", 4));
  for (const [sensor, celsius, measuredAt] of readings) {
    await service.readings.emit(sensor, { celsius, measuredAt });
  }

  const expected = {
    minute: [
      ["sensor-1", at(0), at(1), stats(20, 22.5, 21.5)],
      ["sensor-1", at(1), at(2), stats(19)],
      ["sensor-2", at(0), at(1), stats(18)],
      ["sensor-2", at(3), at(4), stats(17)],
    ],
    "five-minutes": [
      ["sensor-1", at(-4), at(1), stats(20, 22.5, 21.5)],
      ...[-3, -2, -1, 0].map((m) => ["sensor-1", at(m), at(m + 5), stats(20, 22.5, 21.5, 19)]),
      ["sensor-1", at(1), at(6), stats(19)],
      ...[-4, -3, -2].map((m) => ["sensor-2", at(m), at(m + 5), stats(18)]),
      ...[-1, 0].map((m) => ["sensor-2", at(m), at(m + 5), stats(18, 17)]),
      ...[1, 2, 3].map((m) => ["sensor-2", at(m), at(m + 5), stats(17)]),
    ],
    session: [
      ["sensor-1", at(0, 5), at(1, 5) + 1, { readings: 4, first: at(0, 5), last: at(1, 5) }],
      ["sensor-2", at(0, 40), at(0, 40) + 1, { readings: 1, first: at(0, 40), last: at(0, 40) }],
      ["sensor-2", at(3, 30), at(3, 30) + 1, { readings: 1, first: at(3, 30), last: at(3, 30) }],
    ],
  };
  const count = Object.values(expected).reduce((n, list) => n + list.length, 0);
  const alerts = () => results.flatMap((r) => (r.kind === "silent" ? [r.result] : []));
  await waitUntil(`${count} results, a late reading and four alerts`, () =>
    results.length >= count + 4 && late.length > 0 && alerts().length >= 4 ? true : undefined,
  );

  // Each output is a topic of its own, with partitions of its own: results arrive in no
  // particular order across them. A result more than expected fails the comparison.
  const byKind = (kind: Exclude<SensorResult["kind"], "silent">) =>
    results
      .flatMap((r) => (r.kind !== "silent" && r.kind === kind ? [r.result] : []))
      .map((r) => {
        expect(r.final).toBe(true);
        return [r.key, r.start, r.end, r.value];
      })
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));
  expect(byKind("minute")).toEqual(expected.minute);
  expect(byKind("five-minutes")).toEqual(expected["five-minutes"]);
  expect(byKind("session")).toEqual(expected.session);
  expect(late).toEqual([`${TokaErrorCode.LateRecord} sensor-1`]);
  // The late reading of sensor-1 did not move its timer back (which would have fired it).
  const byTime = (a: { lastReadingAt: number }, b: { lastReadingAt: number }) =>
    a.lastReadingAt - b.lastReadingAt;
  expect(alerts().sort(byTime)).toEqual([
    { sensor: "sensor-2", lastReadingAt: at(0, 40) },
    { sensor: "sensor-1", lastReadingAt: at(1, 5) },
    { sensor: "sensor-2", lastReadingAt: at(3, 30) },
    { sensor: "sensor-2", lastReadingAt: at(30) },
  ]);
});

/**
 * Polls `check` until it returns something other than `undefined`; fails with `what`
 * after `timeoutMs` instead of hanging.
 */
async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}
