import { jsonCodec } from "@toka/codec";
import { defineProjection } from "@toka/event-sourcing";
import { z } from "zod";
import type { AccountAggregate } from "./account.js";
import type { AccountEvent } from "./gen/bank/v1/account_pb.js";

/** The read model of one account, served over HTTP as JSON. */
export const Balance = z.object({
  owner: z.string(),
  /** The balance in cents. */
  balance: z.number().int(),
  deposits: z.number().int(),
  withdrawals: z.number().int(),
});
/** The read model of one account. */
export type Balance = z.infer<typeof Balance>;

/** The codec of the balances table. */
export const balanceCodec = jsonCodec(Balance, { name: "json(Balance)" });

/** Folds one event into an account's balance. */
export function project(current: Balance | undefined, e: AccountEvent): Balance | undefined {
  const b = current ?? { owner: "", balance: 0, deposits: 0, withdrawals: 0 };
  switch (e.event.case) {
    case "opened":
      return { ...b, owner: e.event.value.owner };
    case "deposited":
      return {
        ...b,
        balance: b.balance + Number(e.event.value.amountCents),
        deposits: b.deposits + 1,
      };
    case "withdrawn":
      return {
        ...b,
        balance: b.balance - Number(e.event.value.amountCents),
        withdrawals: b.withdrawals + 1,
      };
    default:
      return current;
  }
}

/** The balance projection of an account aggregate: group `<aggregate>-balances`. */
export function balancesProjection(account: AccountAggregate) {
  return defineProjection({
    name: `${account.name}-balances`,
    source: account,
    state: balanceCodec,
    project,
  });
}

/** The balance projection's type. */
export type BalancesProjection = ReturnType<typeof balancesProjection>;
