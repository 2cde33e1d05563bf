import { stringCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import type { MessagingNames } from "./names.js";

/**
 * The translator: keeps the latest translation of each word (the key) in its table. The
 * filter looks words up in that table, so it need not be co-partitioned with anything.
 */
export function translator(names: MessagingNames) {
  return defineGroup(names.translator, {
    persist: persist(stringCodec),
    inputs: ({ input }) => [
      input(names.translateWord, stringCodec, (ctx, translation) => {
        ctx.setValue(translation);
      }),
    ],
  });
}
