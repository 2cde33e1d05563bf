import { jsonCodec } from "@toka/codec";
import { defineGroup, Guarantee, output, persist, TokaError, TokaErrorCode } from "@toka/processor";
import { describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

const MINUTE = 60_000;
const readingCodec = jsonCodec<number>();
const tickCodec = jsonCodec<{ at: number }>();
const options = { guarantee: Guarantee.ExactlyOnce } as const;

/**
 * A key's first reading starts a tick every minute of stream time; each tick counts
 * itself in the table, emits, and schedules the next one from its own firing.
 */
const ticker = defineGroup("ticker", {
  persist: persist(jsonCodec<number>()),
  outputs: [output("ticks", tickCodec)],
  inputs: ({ input, timer }) => [
    input("readings", readingCodec, (ctx) => {
      if (ctx.value() !== undefined) return;
      ctx.setValue(0);
      ctx.schedule("tick", ctx.eventTime + MINUTE);
    }),
    timer((ctx, fired) => {
      ctx.setValue(ctx.value()! + 1);
      ctx.emit("ticks", ctx.key, { at: fired.at });
      ctx.schedule("tick", fired.at + MINUTE);
    }),
  ],
});

function crash() {
  return new TokaError(TokaErrorCode.KafkaFailed, "the process died while producing", {
    retriable: false,
  });
}

describe("timers under exactly-once", () => {
  test("a timer that schedules itself again keeps its firing through a crash before the table write", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    t.createTopic("ticks", 1);
    const first = await t.startProcessor(ticker, options);
    await t.emit("readings", "s1", 1, { codec: readingCodec, timestamp: 0 });

    // The reading at 90 s fires s1's tick at 60 s, which schedules the one at 120 s; the
    // process dies after writing the timers, before the table.
    t.failNextProduce({ topic: "ticker-table", error: crash() });
    await expect(
      t.emit("readings", "s2", 1, { codec: readingCodec, timestamp: 90_000 }),
    ).rejects.toMatchObject({ code: TokaErrorCode.ProduceFailed });
    expect(first.status).toBe("failed");

    await t.startProcessor(ticker, options);
    expect(await t.tableValue(ticker, "s1")).toBe(1);
    await t.emit("readings", "s3", 1, { codec: readingCodec, timestamp: 150_000 });
    expect(await t.tableValue(ticker, "s1")).toBe(2);
    const ticks = t.messages("ticks", tickCodec).filter((m) => m.key === "s1");
    // The tick at 60 s was emitted before the crash and again after it, with one ID.
    expect([...new Set(ticks.map((m) => m.id))]).toHaveLength(2);
    expect(ticks.map((m) => m.value!.at)).toEqual([60_000, 60_000, 120_000]);
  });

  test("a timer scheduled earlier than its last firing still fires", async () => {
    const t = tester();
    t.createTopic("readings", 1);
    t.createTopic("checks", 1);
    // Every reading asks for a check at its own event time: due at once when the reading
    // is out of order, earlier than the check that fired last.
    const checker = defineGroup("checker", {
      persist: persist(jsonCodec<number>()),
      outputs: [output("checks", tickCodec)],
      inputs: ({ input, timer }) => [
        input("readings", readingCodec, (ctx) => {
          ctx.setValue(ctx.value() ?? 0);
          ctx.schedule("check", ctx.eventTime);
        }),
        timer((ctx, fired) => {
          ctx.setValue(ctx.value()! + 1);
          ctx.emit("checks", ctx.key, { at: fired.at });
        }),
      ],
    });
    await t.startProcessor(checker, options);
    await t.emit("readings", "s1", 1, { codec: readingCodec, timestamp: 10_000 });
    await t.emit("readings", "s1", 1, { codec: readingCodec, timestamp: 5_000 });
    expect(t.messages("checks", tickCodec).map((m) => m.value!.at)).toEqual([10_000, 5_000]);
    expect(await t.tableValue(checker, "s1")).toBe(2);
  });
});
