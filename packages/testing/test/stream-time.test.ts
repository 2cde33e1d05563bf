import { jsonCodec } from "@toka/codec";
import { defineGroup, type EventTimeExtractor, Guarantee, persist } from "@toka/processor";
import { memoryStorage } from "@toka/state-store";
import { describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

interface Reading {
  readonly at: number;
}
const readingCodec = jsonCodec<Reading>();

/** What a callback saw of time: the message's event time and the stream time. */
interface Seen {
  readonly key: string;
  readonly eventTime: number;
  readonly streamTime: number;
}

/** Keeps the last reading per sensor and records what each callback saw of time. */
function sensors(seen: Seen[], eventTime?: EventTimeExtractor<Reading>) {
  return defineGroup("sensors", {
    persist: persist(readingCodec),
    inputs: ({ input }) => [
      input(
        "readings",
        readingCodec,
        (ctx, reading) => {
          seen.push({ key: ctx.key, eventTime: ctx.eventTime, streamTime: ctx.streamTime });
          ctx.setValue(reading);
        },
        eventTime ? { eventTime } : {},
      ),
    ],
  });
}

const byReadingTime: EventTimeExtractor<Reading> = (reading) => reading.at;

describe("event time and stream time", () => {
  test("without an extractor, the event time is the Kafka timestamp and the stream time its highest", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    const seen: Seen[] = [];
    await t.startProcessor(sensors(seen));
    const start = t.clock.now();
    await t.emit("readings", "s1", { at: 0 }, { codec: readingCodec });
    t.advanceTime(1_000);
    await t.emit("readings", "s2", { at: 0 }, { codec: readingCodec });
    expect(seen).toEqual([
      { key: "s1", eventTime: start, streamTime: start },
      { key: "s2", eventTime: start + 1_000, streamTime: start + 1_000 },
    ]);
  });

  test("an extractor gives the event time; the stream time never goes back for a late message", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    const seen: Seen[] = [];
    const processor = await t.startProcessor(sensors(seen, byReadingTime));
    expect(processor.stats().partitions[0]?.streamTime).toBeUndefined();
    await t.emitMany(
      "readings",
      [100, 300, 200, 400].map((at) => ({ key: "s1", value: { at } })),
      { codec: readingCodec },
    );
    expect(processor.stats().partitions[0]?.streamTime).toBe(400);
    expect(seen.map((s) => [s.eventTime, s.streamTime])).toEqual([
      [100, 100],
      [300, 300],
      [200, 300],
      [400, 400],
    ]);
  });

  test("a message without an event time is dead-lettered with TOKA_INVALID_EVENT_TIME and moves nothing", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    const seen: Seen[] = [];
    const extractor: EventTimeExtractor<Reading> = (reading) => {
      if (reading.at === -2) throw new Error("no time in this reading");
      return reading.at;
    };
    await t.startProcessor(sensors(seen, extractor));
    await t.emitMany(
      "readings",
      [500, -1, 1.5, -2, 600].map((at) => ({ key: "s1", value: { at } })),
      { codec: readingCodec },
    );
    expect(seen.map((s) => [s.eventTime, s.streamTime])).toEqual([
      [500, 500],
      [600, 600],
    ]);
    const letters = t.messages("sensors-dlq", readingCodec);
    expect(letters.map((l) => l.value?.at)).toEqual([-1, 1.5, -2]);
    expect(letters.map((l) => l.headers["toka-error-code"])).toEqual([
      "TOKA_INVALID_EVENT_TIME",
      "TOKA_INVALID_EVENT_TIME",
      "TOKA_INVALID_EVENT_TIME",
    ]);
    expect(letters[0]?.headers["toka-error-message"]).toContain(
      'the eventTime extractor of input "readings" answered -1',
    );
    expect(letters[2]?.headers["toka-error-message"]).toContain("no time in this reading");
  });

  describe.each([
    Guarantee.AtLeastOnce,
    Guarantee.ExactlyOnce,
    Guarantee.ExactlyOnceTransactional,
  ] satisfies Guarantee[])("%s", (guarantee) => {
    test("a new owner without local state continues from the stream time the group committed", async () => {
      const t = tester();
      t.createTopic("readings", 1);
      const seen: Seen[] = [];
      const graph = sensors(seen, byReadingTime);
      const first = await t.startProcessor(graph, { guarantee, storage: memoryStorage() });
      await t.emitMany(
        "readings",
        [100, 900, 300].map((at) => ({ key: "s1", value: { at } })),
        { codec: readingCodec },
      );
      await first.close();
      // Another instance, its storage empty: it restores the table and reads the commits.
      await t.startProcessor(graph, { guarantee, storage: memoryStorage() });
      await t.emit("readings", "s2", { at: 200 }, { codec: readingCodec });
      expect(seen.at(-1)).toEqual({ key: "s2", eventTime: 200, streamTime: 900 });
    });

    test("a restart with its local state continues from the checkpoint's stream time", async () => {
      const t = tester();
      t.createTopic("readings", 1);
      const seen: Seen[] = [];
      const graph = sensors(seen, byReadingTime);
      const storage = memoryStorage();
      const first = await t.startProcessor(graph, { guarantee, storage });
      await t.emitMany(
        "readings",
        [700, 100].map((at) => ({ key: "s1", value: { at } })),
        { codec: readingCodec },
      );
      await first.close();
      // The checkpoint written with the state carries it (the commits do too).
      const local = storage("sensors-table", 0);
      await local.open();
      expect((await local.checkpoint())?.streamTime).toBe(700);
      await local.close();
      await t.startProcessor(graph, { guarantee, storage });
      await t.emit("readings", "s1", { at: 50 }, { codec: readingCodec });
      expect(seen.at(-1)).toEqual({ key: "s1", eventTime: 50, streamTime: 700 });
    });
  });
});
