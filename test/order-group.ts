import { jsonCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import { z } from "zod";

/** An order of the poison-message tests: a negative quantity makes the callback throw. */
export const Order = z.object({ qty: z.number().int() });

/** A group summing the quantities of `input` per key; throws on a negative quantity. */
export function orderGroup(name: string, input: string) {
  return defineGroup(name, {
    persist: persist(jsonCodec(z.object({ total: z.number().int() }))),
    inputs: ({ input: edge }) => [
      edge(input, jsonCodec(Order), (ctx, order) => {
        if (order.qty < 0) throw new Error(`negative quantity ${order.qty}`);
        ctx.setValue({ total: (ctx.value()?.total ?? 0) + order.qty });
      }),
    ],
  });
}
