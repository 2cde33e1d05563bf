// A module exporting an aggregate and a projection, loaded by the CLI's tests.
import { jsonCodec } from "@toka/codec";
import { defineAggregate, defineProjection } from "@toka/event-sourcing";
import { z } from "zod";

const Amount = z.object({ amount: z.number() });
export const account = defineAggregate({
  name: "cli-account",
  commands: jsonCodec(Amount),
  events: jsonCodec(Amount),
  state: jsonCodec(z.number()),
  initialState: () => 0,
  decide: (command) => [command],
  evolve: (state, event) => state + event.amount,
});
export const balances = defineProjection({
  name: "cli-balances",
  source: account,
  state: jsonCodec(z.number()),
  project: (current, event) => (current ?? 0) + event.amount,
});
export const notAFold = { name: "x" };
