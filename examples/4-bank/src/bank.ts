// The bank's aggregate and projection under the names from BANK_NAME (default
// "account"), for tools that load them from a module: `toka replay --module`.
import { accountAggregate } from "./account.js";
import { balancesProjection } from "./balances.js";

/** The account aggregate. */
export const account = accountAggregate(process.env.BANK_NAME ?? "account");
/** The balance projection of {@link account}. */
export const balances = balancesProjection(account);
