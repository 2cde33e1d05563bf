// The group of @toka/testing's "complete first test" (its README), as a user writes it.
import { jsonCodec } from "@toka/codec";
import { defineGroup, output, persist } from "@toka/processor";
import { z } from "zod";

export const Deposit = z.object({ amount: z.number().int() });
export const Balance = z.object({ total: z.number().int() });

export const bank = defineGroup("bank", {
  persist: persist(jsonCodec(Balance)),
  outputs: [output("balance-changed", jsonCodec(Balance))],
  inputs: ({ input }) => [
    input("deposits", jsonCodec(Deposit), (ctx, deposit) => {
      const total = (ctx.value()?.total ?? 0) + deposit.amount;
      ctx.setValue({ total });
      ctx.emit("balance-changed", ctx.key, { total });
    }),
  ],
});
