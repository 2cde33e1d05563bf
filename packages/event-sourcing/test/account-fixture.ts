import { jsonCodec } from "@toka/codec";
import { defineAggregate, defineProjection, reject } from "@toka/event-sourcing";
import { z } from "zod";

export const Command = z.discriminatedUnion("type", [
  z.object({ type: z.literal("open"), owner: z.string() }),
  z.object({ type: z.literal("deposit"), amount: z.number().int().positive() }),
  z.object({ type: z.literal("withdraw"), amount: z.number().int().positive() }),
]);
export type Command = z.infer<typeof Command>;

export const Event = z.discriminatedUnion("type", [
  z.object({ type: z.literal("opened"), owner: z.string() }),
  z.object({ type: z.literal("deposited"), amount: z.number().int() }),
  z.object({ type: z.literal("withdrawn"), amount: z.number().int() }),
]);
export type Event = z.infer<typeof Event>;

export const State = z.object({ open: z.boolean(), owner: z.string(), balance: z.number().int() });
export type State = z.infer<typeof State>;

export const commandCodec = jsonCodec(Command);
export const eventCodec = jsonCodec(Event);

/** Applies an event: shared by the aggregate and the expected folds of the tests. */
export function evolve(state: State, event: Event): State {
  switch (event.type) {
    case "opened":
      return { open: true, owner: event.owner, balance: 0 };
    case "deposited":
      return { ...state, balance: state.balance + event.amount };
    case "withdrawn":
      return { ...state, balance: state.balance - event.amount };
  }
}

/** A JSON bank account aggregate named `name`. */
export function accountAggregate(name: string) {
  return defineAggregate({
    name,
    commands: commandCodec,
    events: eventCodec,
    state: jsonCodec(State),
    initialState: () => ({ open: false, owner: "", balance: 0 }),
    decide(command: Command, state: State): Event[] | ReturnType<typeof reject> {
      switch (command.type) {
        case "open":
          return state.open
            ? reject("the account is already open", "already-open")
            : [{ type: "opened", owner: command.owner }];
        case "deposit":
          if (!state.open) return reject("the account is not open", "not-open");
          return [{ type: "deposited", amount: command.amount }];
        case "withdraw":
          if (!state.open) return reject("the account is not open", "not-open");
          if (state.balance < command.amount) {
            return reject(
              `insufficient funds: balance ${state.balance}, withdrawal ${command.amount}`,
              "insufficient-funds",
            );
          }
          return [{ type: "withdrawn", amount: command.amount }];
      }
    },
    evolve,
  });
}

export const Summary = z.object({
  balance: z.number().int(),
  transactions: z.number().int(),
  lastOffset: z.string(),
});
export type Summary = z.infer<typeof Summary>;

/** A projection of an account log into balances and transaction counts. */
export function summaryProjection(name: string, aggregate: ReturnType<typeof accountAggregate>) {
  return defineProjection({
    name,
    source: aggregate,
    state: jsonCodec(Summary),
    project(current: Summary | undefined, event: Event, meta) {
      const balance = current?.balance ?? 0;
      const transactions = (current?.transactions ?? 0) + 1;
      switch (event.type) {
        case "opened":
          return { balance: 0, transactions, lastOffset: meta.offset };
        case "deposited":
          return { balance: balance + event.amount, transactions, lastOffset: meta.offset };
        case "withdrawn":
          return { balance: balance - event.amount, transactions, lastOffset: meta.offset };
      }
    },
  });
}
