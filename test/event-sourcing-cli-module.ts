// The aggregate and projection of the CLI integration test, as a module the CLI loads
// (`--module`): named by TOKA_CLI_ACCOUNT, which the test sets before running the CLI.
import { accounts } from "./event-sourcing-fixture.js";

const name = process.env.TOKA_CLI_ACCOUNT;
if (!name) throw new Error("TOKA_CLI_ACCOUNT is required");
const bank = accounts(name);
export const aggregate = bank.aggregate;
export const balances = bank.balances;
