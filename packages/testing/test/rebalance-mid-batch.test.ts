import { jsonCodec } from "@toka/codec";
import { defineGroup, Guarantee, output, persist } from "@toka/processor";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();
const KEYS = ["a", "b", "c", "d"];
/** Two batches of 1,000: the processor asks for a heartbeat every 1,000 messages. */
const MESSAGES = 2_000;
/** The message whose callback makes the group rebalance: in the second batch. */
const REBALANCE_AT = 1_500;

/**
 * Counts messages per key and emits each new count; the first time message REBALANCE_AT
 * is processed, the group rebalances.
 */
function counter(t: Tester) {
  let rebalanced = false;
  return defineGroup("counter", {
    persist: persist(codec),
    outputs: [output("counts", codec)],
    inputs: ({ input }) => [
      input("clicks", codec, (ctx, index) => {
        const count = (ctx.value() ?? 0) + 1;
        ctx.setValue(count);
        ctx.emit("counts", ctx.key, count);
        if (index === REBALANCE_AT && !rebalanced) {
          rebalanced = true;
          t.rebalance("counter");
        }
      }),
    ],
  });
}

describe("a rebalance in the middle of a batch", () => {
  test.each([Guarantee.AtLeastOnce, Guarantee.ExactlyOnce, Guarantee.ExactlyOnceTransactional])(
    "%s: the batch is processed again from the last flush, and no emit is lost",
    async (guarantee) => {
      const t = tester({ maxBatchRecords: 1_000 });
      t.createTopic("clicks", 1);
      t.createTopic("counts", 1);
      const graph = counter(t);
      // No flush between the two batches: the first one's keys are in the write-back cache.
      const processor = await t.startProcessor(graph, { guarantee, commitIntervalMs: 3_600_000 });
      let rebalances = 0;
      processor.on("group.rebalanced", () => {
        rebalances += 1;
      });
      const clicks = Array.from({ length: MESSAGES }, (_, i) => ({
        key: KEYS[i % KEYS.length]!,
        value: i,
      }));
      await t.emitMany("clicks", clicks, { codec });

      expect(rebalances, "the group rebalanced after joining").toBe(1);
      const perKey = MESSAGES / KEYS.length;
      for (const key of KEYS) {
        // At-least-once may count the redone messages twice; the others count each once.
        const count = await t.tableValue(graph, key);
        if (guarantee === Guarantee.AtLeastOnce) expect(count).toBeGreaterThanOrEqual(perKey);
        else expect(count).toBe(perKey);
        // Every count the key went through was emitted: none of the batch's emits was lost.
        const emitted = new Set(
          t
            .messages("counts", codec)
            .filter((m) => m.key === key)
            .map((m) => m.value),
        );
        const missing = Array.from({ length: count! }, (_, i) => i + 1).filter(
          (n) => !emitted.has(n),
        );
        expect(missing, `counts of ${key} never emitted`).toEqual([]);
      }
    },
  );
});
