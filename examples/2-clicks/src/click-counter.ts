import { jsonCodec, stringCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import { z } from "zod";

/** A user's click count: the value the group keeps per user in `<group>-table`. */
export const ClickCount = z.object({ clicks: z.number().int().nonnegative() });
export type ClickCount = z.infer<typeof ClickCount>;

/** The codec of the table values, shared by the processor and the views of its table. */
export const clickCountCodec = jsonCodec(ClickCount);

/**
 * The counting group: consumes `clicksTopic` (key: the user, value: when the click
 * happened) and counts the clicks per user in its table.
 */
export function clickCounter(group: string, clicksTopic: string) {
  return defineGroup(group, {
    persist: persist(clickCountCodec),
    inputs: ({ input }) => [
      input(clicksTopic, stringCodec, (ctx) => {
        const current = ctx.value() ?? { clicks: 0 };
        ctx.setValue({ clicks: current.clicks + 1 });
      }),
    ],
  });
}
